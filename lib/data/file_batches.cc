#include "data/file_listing.h"
#include "data/input_source.h"

#include <utility>
#include <vector>

#include <fmt/format.h>

namespace parallelrun {

namespace {

class FileBatches : public InputSource {
 public:
  FileBatches(const InputPlan& plan, const Options& options, std::function<void()> notify)
      : plan_(plan), batcher_(options.mini_batch_size), listing_(plan, std::move(notify)) {}

  Batcher::Outcome Next(MiniBatch* out) override {
    return batcher_.Next(listing_.items(), 0, out);
  }

  End Summary() const override {
    End end;
    end.files = listing_.listed();
    end.info.push_back(listing_.ListedLine(started_) + ".");
    if (end.files == 0) {
      end.warnings.push_back(fmt::format("Input {} ({}) has no files.", plan_.name, plan_.path));
    }
    listing_.AddExcluded(&end);
    listing_.AddErrors(&end);
    return end;
  }

 private:
  const InputPlan plan_;
  Batcher batcher_;
  FileListing listing_;
  SteadyClock::time_point started_ = SteadyClock::now();
};

}  // namespace

std::unique_ptr<InputSource> OpenFileBatches(const InputPlan& plan,
                                       const InputSource::Options& options,
                                       std::function<void()> notify) {
  return std::make_unique<FileBatches>(plan, options, std::move(notify));
}

}  // namespace parallelrun
