#include "data/input_source.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/disk.h"
#include "base/text.h"
#include "base/wire.h"
#include "data/file_lister.h"

namespace parallelrun {

namespace {

using SteadyClock = std::chrono::steady_clock;

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

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

// The files of a folder or of a file-list MLTable's paths, with their errors.
class FileListing {
 public:
  FileListing(const InputPlan& plan, std::function<void()> notify) {
    if (plan.kind == InputPlan::Kind::kFolder) {
      lister_ = std::make_unique<FileLister>(plan.path, FileLister::Options{}, std::move(notify));
      items_ = std::make_unique<ListerItems>(lister_.get());
    } else {
      std::vector<TablePath> paths = plan.paths;
      if (plan.kind == InputPlan::Kind::kTable) paths = plan.table->paths;
      path_lister_ = std::make_unique<TablePathLister>(std::move(paths), std::move(notify));
      items_ = std::make_unique<CountingSource>(path_lister_.get());
    }
  }
  ItemSource& items() { return *items_; }
  uint64_t listed() const {
    return lister_ ? lister_->listed() : static_cast<CountingSource*>(items_.get())->taken();
  }
  void AddErrors(InputSource::End* end) const {
    if (lister_) {
      end->errors = lister_->errors();
      end->error_count = lister_->error_count();
    } else {
      end->errors = path_lister_->errors();
      end->error_count = end->errors.size();
    }
  }

 private:
  std::unique_ptr<FileLister> lister_;
  std::unique_ptr<TablePathLister> path_lister_;
  std::unique_ptr<ItemSource> items_;
};

std::string Describe(const InputPlan& plan) {
  return fmt::format("input {} ({})", plan.name, plan.path);
}

// ---- files in groups of mini_batch_size ---------------------------------------

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
    end.info.push_back(fmt::format("Listed {} files of {} in {:.3f} seconds.", end.files,
                                   Describe(plan_), SecondsSince(started_)));
    if (end.files == 0) {
      end.warnings.push_back(fmt::format("Input {} ({}) has no files.", plan_.name, plan_.path));
    }
    listing_.AddErrors(&end);
    return end;
  }

 private:
  const InputPlan plan_;
  Batcher batcher_;
  FileListing listing_;
  SteadyClock::time_point started_ = SteadyClock::now();
};

// ---- byte ranges of tables ---------------------------------------------------------

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
      end.warnings.push_back(fmt::format(
          "{}: {} files were skipped: their names do not end in a table extension (.csv, .tsv, "
          ".tab, .jsonl, .ndjson, .json, .parquet, .parq, .pq)",
          Describe(plan_), skipped));
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

// ---- partitions by the path ----------------------------------------------------------

// The names of `root`'s folders, nearest first (PartitionFormat::Match).
std::vector<std::string> Ancestors(std::string p) {
  std::vector<std::string> out;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  while (!p.empty() && p != "/") {
    size_t slash = p.rfind('/');
    std::string name = slash == std::string::npos ? p : p.substr(slash + 1);
    if (!name.empty() && name != "." && name != "..") out.push_back(name);
    if (slash == std::string::npos) break;
    p = slash == 0 ? "/" : p.substr(0, slash);
  }
  return out;
}

std::string RelativeTo(const std::string& root_in, const std::string& path) {
  std::string root = root_in;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
      path[root.size()] == '/') {
    return path.substr(root.size() + 1);
  }
  return !path.empty() && path[0] == '/' ? path.substr(1) : path;
}

class PartitionBatches : public InputSource {
 public:
  PartitionBatches(const InputPlan& plan, const Options& options, std::function<void()> notify)
      : plan_(plan),
        listing_(plan, std::move(notify)),
        partitioner_(*plan.partition_format, options.partition_keys, plan.root,
                     FilePartitioner::Options{256u << 20, options.spill_dir}),
        table_(plan.kind == InputPlan::Kind::kTable),
        ancestors_(Ancestors(plan.kind == InputPlan::Kind::kTable ? plan.table->root : plan.root)),
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
        "Listed {} files of {} in {:.3f} seconds: {} partitions by {}{}.", end.files,
        Describe(plan_), SecondsSince(started_), made_, KeyList(),
        partitioner_.spilled_groups() ? fmt::format(" ({} groups were spilled to disk)",
                                                    partitioner_.spilled_groups())
                                      : ""));
    if (made_ == 0 && error_.empty()) {
      end.warnings.push_back(fmt::format("{} has no files in partitions.", Describe(plan_)));
    }
    if (uint64_t n = partitioner_.unmatched()) {
      std::string examples;
      for (const auto& e : partitioner_.unmatched_examples()) {
        examples += (examples.empty() ? "" : ", ") + Printable(e);
      }
      end.warnings.push_back(fmt::format(
          "{}: {} files do not match the partition format{} and were skipped (e.g. {})",
          Describe(plan_), n, FormatText(), examples));
    }
    if (skipped_) {
      end.warnings.push_back(fmt::format(
          "{}: {} files were skipped: their names do not end in a table extension (.csv, .tsv, "
          ".tab, .jsonl, .ndjson, .json, .parquet, .parq, .pq)",
          Describe(plan_), skipped_));
    }
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
        skipped_++;
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
        if (t.partition_format->Match(RelativeTo(t.root, path), ancestors_, &values)) {
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
  uint64_t skipped_ = 0;
  SteadyClock::time_point started_ = SteadyClock::now();
};

// ---- partitions by table columns: shuffle, then one mini-batch per combination ----------

// Each shuffle process reads ranges of about this many bytes at a time.
constexpr uint64_t kShuffleRangeBytes = 64u << 20;

class ColumnPartitionBatches : public InputSource {
 public:
  ColumnPartitionBatches(const InputPlan& plan, const Options& options, std::function<void()> notify)
      : plan_(plan), options_(options), notify_(std::move(notify)) {
    thread_ = std::thread([this] { Run(); });
  }

  ~ColumnPartitionBatches() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    // Waits for running shuffle processes: they end on their own.
    thread_.join();
  }

  Batcher::Outcome Next(MiniBatch* out) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!done_) return Batcher::Outcome::kWaiting;
    if (ready_.empty()) return Batcher::Outcome::kExhausted;
    *out = std::move(ready_.front());
    ready_.pop_front();
    return Batcher::Outcome::kBatch;
  }

  bool working() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return !done_;
  }

  End Summary() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    End end;
    end.files = files_;
    std::string keys;
    for (const auto& k : options_.partition_keys) keys += (keys.empty() ? "" : ", ") + k;
    end.info.push_back(fmt::format(
        "Shuffled {} rows of {} ({} files, {} ranges, {} processes) by {} into {} partitions in "
        "{:.3f} seconds; the partitions' rows are in {}.",
        rows_, Describe(plan_), files_, ranges_, processes_, keys, groups_, seconds_,
        RowsDir()));
    if (groups_ == 0 && error_.empty()) {
      end.warnings.push_back(fmt::format("{} has no rows.", Describe(plan_)));
    }
    end.warnings.insert(end.warnings.end(), warnings_.begin(), warnings_.end());
    end.errors = errors_;
    if (!error_.empty()) end.errors.insert(end.errors.begin(), error_);
    end.error_count = end.errors.size();
    return end;
  }

 private:
  std::string RowsDir() const { return options_.spill_dir + "/rows"; }

  void Run() {
    auto started = SteadyClock::now();
    Status s = Shuffle();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!s.ok()) error_ = s.message();
      seconds_ = SecondsSince(started);
      done_ = true;
    }
    notify_();
  }

  bool stopping() {
    std::lock_guard<std::mutex> lock(mutex_);
    return stop_;
  }

  Status Shuffle() {
    Status made = CreateFolders(RowsDir(), "partitions folder");
    if (!made.ok()) return made;

    // 1. The table's ranges (large ones: each is read whole by one process).
    std::vector<TableRange> ranges;
    {
      bool listed = false;
      TableSource source(*plan_.table, TableSource::Options{kShuffleRangeBytes, 1024, 1u << 20},
                         [this, &listed] {
                           {
                             std::lock_guard<std::mutex> lock(mutex_);
                             listed = true;
                           }
                           cv_.notify_all();
                         });
      while (!source.finished()) {
        if (source.Take(1024, &ranges) > 0) continue;
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(100), [&] { return listed || stop_; });
        listed = false;
        if (stop_) return Status::Interrupted("stopped");
      }
      std::lock_guard<std::mutex> lock(mutex_);
      files_ = source.files_done();
      ranges_ = ranges.size();
      for (auto& w : source.warnings()) warnings_.push_back(w);
      if (uint64_t skipped = source.skipped_files()) {
        warnings_.push_back(fmt::format(
            "{}: {} files were skipped: their names do not end in a table extension (.csv, "
            ".tsv, .tab, .jsonl, .ndjson, .json, .parquet, .parq, .pq)",
            Describe(plan_), skipped));
      }
      errors_ = source.errors();
    }
    if (ranges.empty()) return Status::Ok();

    // 2. The processes' inputs: every P-th range, and worker_tabular.py.
    size_t p = std::max<size_t>(1, std::min<size_t>(options_.processes, ranges.size()));
    std::vector<std::string> range_files;
    for (size_t k = 0; k < p; k++) {
      std::string data;
      for (size_t i = k; i < ranges.size(); i += p) {
        WireWriter w;
        std::string desc = EncodeTableRange(ranges[i]);
        w.U64(i);
        w.Bytes(desc);
        data += w.data();
      }
      range_files.push_back(fmt::format("{}/ranges-{}.bin", options_.spill_dir, k));
      Status s = WriteFile(range_files.back(), data);
      if (!s.ok()) return s;
    }

    // 3. The shuffle, P processes at once.
    if (!options_.shuffle) return Status::Infrastructure("no shuffle runner was given");
    std::vector<Result<std::string>> outcomes(p, std::string());
    {
      std::vector<std::thread> threads;
      for (size_t k = 0; k < p; k++) {
        threads.emplace_back([&, k] {
          outcomes[k] = options_.shuffle->Run(
              ShuffleRunner::Task{range_files[k], RowsDir(), options_.partition_keys});
        });
      }
      for (auto& t : threads) t.join();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      processes_ = p;
    }

    // 4. One mini-batch per combination, in an order that does not depend
    // on which process finished first.
    ColumnPartitionIndex index;
    for (auto& o : outcomes) {
      if (!o.ok()) {
        // "input x (path): the shuffle by partition_keys failed (exit code 1): …"
        return Status::JobFailed(Describe(plan_) + ": the shuffle by partition_keys " +
                                 o.status().message());
      }
      size_t start = 0;
      const std::string& text = *o;
      while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        auto j = nlohmann::json::parse(text.substr(start, end - start), nullptr, false);
        start = end + 1;
        if (j.is_discarded() || !j.is_object()) continue;
        uint64_t range = j.value("range", uint64_t{0});
        uint32_t position = 0;
        for (const auto& g : j["groups"]) {
          std::vector<std::pair<std::string, std::string>> kv;
          for (const auto& pair : g["key_values"]) {
            kv.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
          }
          index.Add(range, position++, std::move(kv), g["path"].get<std::string>(),
                    g["rows"].get<uint64_t>());
        }
      }
    }
    TableReadOptions pickle;
    pickle.format = TableFormat::kPickle;
    std::deque<MiniBatch> ready;
    uint64_t rows = 0;
    for (auto& group : index.TakeGroups()) {
      MiniBatch b;
      b.kind = MiniBatchKind::kTablePartition;
      b.partition = std::move(group.key_values);
      b.known_rows = group.rows;
      rows += group.rows;
      for (const auto& part : group.parts) {
        b.items.push_back(EncodeTableRange(MakeWholeFileRange(part.path, pickle, nullptr, {})));
      }
      ready.push_back(std::move(b));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    groups_ = ready.size();
    rows_ = rows;
    ready_ = std::move(ready);
    return Status::Ok();
  }

  static Status WriteFile(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(data.data(), static_cast<std::streamsize>(data.size()));
    f.close();
    if (!f) return Status::Infrastructure(path + ": cannot write");
    return Status::Ok();
  }

  const InputPlan plan_;
  const Options options_;
  const std::function<void()> notify_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;                     // guarded by mutex_
  bool done_ = false;                     // guarded by mutex_
  std::deque<MiniBatch> ready_;           // guarded by mutex_
  std::string error_;                     // guarded by mutex_
  std::vector<std::string> errors_, warnings_;  // guarded by mutex_
  uint64_t files_ = 0, ranges_ = 0, processes_ = 0, groups_ = 0, rows_ = 0;  // guarded by mutex_
  double seconds_ = 0;                    // guarded by mutex_
  std::thread thread_;                    // last
};

}  // namespace

std::unique_ptr<InputSource> InputSource::Open(const InputPlan& plan, const Options& options,
                                               std::function<void()> notify) {
  if (plan.partition_by_columns && !options.partition_keys.empty()) {
    return std::make_unique<ColumnPartitionBatches>(plan, options, std::move(notify));
  }
  if (plan.partition_format && !options.partition_keys.empty()) {
    return std::make_unique<PartitionBatches>(plan, options, std::move(notify));
  }
  if (plan.kind == InputPlan::Kind::kTable) {
    return std::make_unique<TableBatches>(plan, options, std::move(notify));
  }
  return std::make_unique<FileBatches>(plan, options, std::move(notify));
}

}  // namespace parallelrun
