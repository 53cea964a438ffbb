#include "data/file_listing.h"

#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/text.h"

namespace parallelrun {

std::string Describe(const InputPlan& plan) {
  return fmt::format("input {} ({})", plan.name, plan.path);
}

std::string ExcludedWarning(const std::string& input, const std::vector<std::string>& excluded) {
  if (excluded.empty()) return "";
  std::string list;
  for (const auto& path : excluded) list += (list.empty() ? "" : ", ") + Printable(path);
  return fmt::format("{}: left out {}, which this job writes (its job dir or an output): its "
                     "files are not input", input, list);
}

namespace {

// Counts what it passes on, so that a listing that has no count of its own
// (TablePathLister) can say how many files it listed.
class CountingSource : public ItemSource {
 public:
  explicit CountingSource(ItemSource* inner) : inner_(inner) {}
  size_t Take(size_t max, std::vector<std::string>* out) override {
    size_t n = inner_->Take(max, out);
    taken_ += n;
    return n;
  }
  bool finished() const override { return inner_->finished(); }
  uint64_t taken() const { return taken_; }

 private:
  ItemSource* inner_;
  uint64_t taken_ = 0;
};

class ListerItems : public ItemSource {
 public:
  explicit ListerItems(FileLister* lister) : lister_(lister) {}
  size_t Take(size_t max, std::vector<std::string>* out) override { return lister_->Take(max, out); }
  bool finished() const override { return lister_->finished(); }

 private:
  FileLister* lister_;
};

}  // namespace

FileListing::FileListing(const InputPlan& plan, std::function<void()> notify) : described_(Describe(plan)) {
  if (plan.kind == InputPlan::Kind::kFolder) {
    FileLister::Options options;
    options.exclude = plan.exclude;
    lister_ = std::make_unique<FileLister>(plan.path, std::move(options), std::move(notify));
    items_ = std::make_unique<ListerItems>(lister_.get());
  } else {
    std::vector<TablePath> paths = plan.paths;
    if (plan.kind == InputPlan::Kind::kTable) paths = plan.table->paths;
    path_lister_ =
        std::make_unique<TablePathLister>(std::move(paths), std::move(notify), plan.exclude);
    items_ = std::make_unique<CountingSource>(path_lister_.get());
  }
}

FileListing::~FileListing() = default;

uint64_t FileListing::listed() const {
  return lister_ ? lister_->listed() : static_cast<CountingSource*>(items_.get())->taken();
}

std::string FileListing::ListedLine(SteadyClock::time_point started) const {
  std::string line = fmt::format("Listed {} files of {} in {:.3f} seconds", listed(), described_,
                                 SecondsSince(started));
  if (lister_ && lister_->listing_done()) {
    line += fmt::format(" (the lister's CPU: {:.3f} s)", lister_->cpu_seconds());
  }
  return line;
}

void FileListing::AddExcluded(InputSource::End* end) const {
  std::string warning =
      ExcludedWarning(described_, lister_ ? lister_->excluded() : path_lister_->excluded());
  if (!warning.empty()) end->warnings.push_back(std::move(warning));
}

void FileListing::AddErrors(InputSource::End* end) const {
  if (lister_) {
    end->errors = lister_->errors();
    end->error_count = lister_->error_count();
  } else {
    end->errors = path_lister_->errors();
    end->error_count = end->errors.size();
  }
}

}  // namespace parallelrun
