#include "data/file_listing.h"
#include "data/input_source.h"

#include <vector>

#include <fmt/format.h>

#include "data/table_source.h"

namespace parallelrun {

namespace {

class TableBatches : public InputSource {
 public:
  TableBatches(const InputPlan& plan, const Options& options, std::function<void()> notify)
      : plan_(plan),
        source_(*plan.table, TableSource::Options{options.mini_batch_size, 1024, 1u << 20},
                std::move(notify)) {}

  Batcher::Outcome Next(MiniBatch* out) override {
    scratch_.clear();
    if (source_.Take(1, &scratch_) == 0) {
      return source_.finished() ? Batcher::Outcome::kExhausted : Batcher::Outcome::kWaiting;
    }
    const TableRange& range = scratch_.front();
    out->kind = MiniBatchKind::kTableRanges;
    out->items = {EncodeTableRange(range)};
    out->partition.clear();
    out->known_rows = range.known_rows();
    made_++;
    return Batcher::Outcome::kBatch;
  }

  End Summary() const override {
    End end;
    end.files = source_.files_done();
    end.info.push_back(fmt::format("Split {} files of {} into {} mini-batches in {:.3f} seconds.",
                                   end.files, Describe(plan_), made_, SecondsSince(started_)));
    if (made_ == 0) {
      end.warnings.push_back(fmt::format("{} has no rows.", Describe(plan_)));
    }
    if (uint64_t skipped = source_.skipped_files()) {
      end.warnings.push_back(SkippedTableFilesWarning(plan_, skipped));
    }
    for (const auto& w : source_.warnings()) end.warnings.push_back(w);
    end.errors = source_.errors();
    end.error_count = end.errors.size();
    return end;
  }

 private:
  const InputPlan plan_;
  TableSource source_;
  std::vector<TableRange> scratch_;
  uint64_t made_ = 0;
  SteadyClock::time_point started_ = SteadyClock::now();
};

}  // namespace

std::unique_ptr<InputSource> OpenTableBatches(const InputPlan& plan,
                                       const InputSource::Options& options,
                                       std::function<void()> notify) {
  return std::make_unique<TableBatches>(plan, options, std::move(notify));
}

}  // namespace parallelrun
