#include "data/file_listing.h"
#include "data/input_source.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "base/disk.h"
#include "data/partitions.h"
#include "data/shuffle_format.h"
#include "data/table_source.h"
#include "data/text_splitter.h"

namespace parallelrun {

namespace {

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
    // Destroyed mid-shuffle (the job is ending: an interrupt, another
    // input's failure): kill the processes rather than wait for them.
    if (working() && options_.shuffle) options_.shuffle->Stop();
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
        warnings_.push_back(SkippedTableFilesWarning(plan_, skipped));
      }
      errors_ = source.errors();
    }
    if (ranges.empty()) return Status::Ok();

    // 2. The processes' inputs: every P-th range, and worker_tabular.py.
    size_t p = std::max<size_t>(1, std::min<size_t>(options_.processes, ranges.size()));
    std::vector<std::string> range_files;
    for (size_t k = 0; k < p; k++) {
      std::string data;
      for (size_t i = k; i < ranges.size(); i += p) AppendShuffleRange(i, ranges[i], &data);
      range_files.push_back(fmt::format("{}/ranges-{}.bin", options_.spill_dir, k));
      Status s = WriteFile(range_files.back(), data);
      if (!s.ok()) return s;
    }

    // 3. The shuffle, P processes at once.
    if (!options_.shuffle) return Status::Infrastructure("no shuffle runner was given");
    std::vector<Result<std::vector<ShuffleReport>>> outcomes(p, std::vector<ShuffleReport>());
    {
      std::vector<std::thread> threads;
      for (size_t k = 0; k < p; k++) {
        threads.emplace_back([&, k] {
          outcomes[k] = options_.shuffle->Run(
              ShuffleRunner::Task{k, p, range_files[k], RowsDir(), options_.partition_keys});
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
    for (size_t k = 0; k < p; k++) {
      Result<std::vector<ShuffleReport>>& o = outcomes[k];
      if (!o.ok()) {
        if (o.status().code() == Status::Code::kInterrupted) return o.status();
        // "input x (path): the shuffle by partition_keys failed (exit code 1): …"
        return Status::JobFailed(Describe(plan_) + ": the shuffle by partition_keys " +
                                 o.status().message());
      }
      // Process k was given every p-th range from k: it must report each once.
      size_t expected = (ranges.size() - k + p - 1) / p;
      std::vector<bool> seen(expected, false);
      for (ShuffleReport& report : *o) {
        size_t slot = static_cast<size_t>(report.range / p);
        if (report.range % p != k || slot >= expected || seen[slot]) {
          return Status::JobFailed(fmt::format(
              "{}: the shuffle by partition_keys failed: shuffle process {} of {} reported range "
              "{}, which it was not given or reported twice",
              Describe(plan_), k + 1, p, report.range));
        }
        seen[slot] = true;
        uint32_t position = 0;
        for (ShuffleGroup& g : report.groups) {
          index.Add(report.range, position++, std::move(g.key_values), std::move(g.path), g.rows);
        }
      }
      if (o->size() != expected) {
        return Status::JobFailed(fmt::format(
            "{}: the shuffle by partition_keys failed: shuffle process {} of {} exited 0 but "
            "reported {} of its {} ranges",
            Describe(plan_), k + 1, p, o->size(), expected));
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

std::unique_ptr<InputSource> OpenColumnPartitionBatches(const InputPlan& plan,
                                       const InputSource::Options& options,
                                       std::function<void()> notify) {
  return std::make_unique<ColumnPartitionBatches>(plan, options, std::move(notify));
}

}  // namespace parallelrun
