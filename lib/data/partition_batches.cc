#include "data/file_listing.h"
#include "data/input_source.h"

#include <deque>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "base/text.h"
#include "data/partitions.h"
#include "data/skipped_files.h"
#include "data/table_format.h"
#include "data/table_range.h"
#include "data/text_splitter.h"

namespace parallelrun {

namespace {

class PartitionBatches : public InputSource {
 public:
  PartitionBatches(const InputPlan& plan, const Options& options, std::function<void()> notify)
      : plan_(plan),
        listing_(plan, std::move(notify)),
        partitioner_(*plan.partition_format, options.partition_keys, plan.root,
                     FilePartitioner::Options{256u << 20, options.spill_dir}),
        table_(plan.kind == InputPlan::Kind::kTable),
        ancestors_(RootAncestors(plan.kind == InputPlan::Kind::kTable ? plan.table->root : plan.root)),
        keys_(options.partition_keys) {}

  Batcher::Outcome Next(MiniBatch* out) override {
    for (;;) {
      while (!ready_.empty()) {
        Partition p = std::move(ready_.front());
        ready_.pop_front();
        if (Make(std::move(p), out)) return Batcher::Outcome::kBatch;
      }
      if (!error_.empty() || partitioner_done_) return Batcher::Outcome::kExhausted;
      paths_.clear();
      size_t n = listing_.items().Take(256, &paths_);
      for (const auto& path : paths_) {
        if (first_path_.empty()) first_path_ = path;
        Status s = partitioner_.Add(path);
        if (!s.ok()) {
          error_ = s.message();
          return Batcher::Outcome::kExhausted;
        }
      }
      if (n == 0) {
        if (!listing_.items().finished()) return Batcher::Outcome::kWaiting;
        Status s = partitioner_.Finish();
        partitioner_done_ = true;
        if (!s.ok()) {
          error_ = s.message();
          return Batcher::Outcome::kExhausted;
        }
      }
      std::vector<Partition> taken;
      partitioner_.Take(&taken);
      for (auto& p : taken) ready_.push_back(std::move(p));
    }
  }

  End Summary() const override {
    End end;
    end.files = listing_.listed();
    end.info.push_back(fmt::format(
        "{}: {} partitions by {}{}.", listing_.ListedLine(started_), made_, KeyList(),
        partitioner_.spilled_groups() ? fmt::format(" ({} groups were spilled to disk)",
                                                    partitioner_.spilled_groups())
                                      : ""));
    if (made_ == 0 && error_.empty()) {
      end.warnings.push_back(fmt::format("{} has no files in partitions.", Describe(plan_)));
    }
    if (uint64_t n = partitioner_.unmatched()) {
      SkippedFiles unmatched;
      for (const auto& e : partitioner_.unmatched_examples()) unmatched.Add(plan_.root, e);
      unmatched.count = n;
      std::string format = FormatText();
      end.warnings.push_back(unmatched.Warning(
          Describe(plan_), "that does not match the partition format" + format,
          "that do not match the partition format" + format));
    }
    std::string not_tables = skipped_.Warning(Describe(plan_), kNotTableOne, kNotTable);
    if (!not_tables.empty()) end.warnings.push_back(std::move(not_tables));
    listing_.AddExcluded(&end);
    listing_.AddErrors(&end);
    if (!error_.empty()) {
      end.errors.insert(end.errors.begin(), error_);
      end.error_count++;
    }
    for (const auto& e : read_errors_) {
      end.errors.push_back(e);
      end.error_count++;
    }
    return end;
  }

 private:
  std::string KeyList() const {
    std::string out;
    for (const auto& k : keys_) out += (out.empty() ? "" : ", ") + k;
    return out;
  }
  std::string FormatText() const {
    const std::string& t = plan_.partition_format->text();
    return t.empty() ? " (one key per folder level)" : " '" + t + "'";
  }

  // Turns a group into a mini-batch; false when nothing of it is readable.
  bool Make(Partition&& p, MiniBatch* out) {
    out->partition = std::move(p.key_values);
    out->known_rows = 0;
    if (!table_) {
      out->kind = MiniBatchKind::kFilePartition;
      out->items = std::move(p.files);
      made_++;
      return true;
    }
    out->kind = MiniBatchKind::kTablePartition;
    out->items.clear();
    const TableInput& t = *plan_.table;
    for (const auto& path : p.files) {
      std::optional<TableReadOptions> options = t.read;
      if (!options) options = OptionsForExtension(path);
      if (!options) {
        skipped_.Add(plan_.root, path);
        continue;
      }
      const std::string* first_header = nullptr;
      if (options->format == TableFormat::kDelimited &&
          options->header == HeaderMode::kFromFirstFile && path != first_path_) {
        if (!first_header_) {
          Result<std::string> h = ReadHeaderRecord(first_path_, *options);
          if (h.ok()) {
            first_header_ = *h;
          } else {
            read_errors_.push_back(h.status().message());
            first_header_ = "";
          }
        }
        first_header = &*first_header_;
      }
      std::vector<TableRange::PathColumn> columns;
      if (t.partition_format) {
        std::vector<std::string> values;
        if (t.partition_format->Match(PathToMatch(t.root, path), ancestors_, &values)) {
          for (size_t i = 0; i < values.size(); i++) {
            columns.push_back({t.partition_format->keys()[i], values[i],
                               t.partition_format->datetime_format(i)});
          }
        }
      }
      out->items.push_back(
          EncodeTableRange(MakeWholeFileRange(path, *options, first_header, std::move(columns))));
    }
    if (out->items.empty()) return false;
    made_++;
    return true;
  }

  const InputPlan plan_;
  FileListing listing_;
  FilePartitioner partitioner_;
  const bool table_;
  const std::vector<std::string> ancestors_;
  const std::vector<std::string> keys_;
  std::deque<Partition> ready_;
  std::vector<std::string> paths_;
  std::string first_path_;
  std::optional<std::string> first_header_;
  std::string error_;
  std::vector<std::string> read_errors_;
  bool partitioner_done_ = false;
  uint64_t made_ = 0;
  SkippedFiles skipped_;  // files in partitions that are not tables
  SteadyClock::time_point started_ = SteadyClock::now();
};

}  // namespace

std::unique_ptr<InputSource> OpenPartitionBatches(const InputPlan& plan,
                                       const InputSource::Options& options,
                                       std::function<void()> notify) {
  return std::make_unique<PartitionBatches>(plan, options, std::move(notify));
}

}  // namespace parallelrun
