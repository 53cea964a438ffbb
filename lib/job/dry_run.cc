#include "job/dry_run.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include <fmt/format.h>

#include "data/input_source.h"
#include "data/table_range.h"
#include "job/job_dirs.h"
#include "report/job_log.h"

namespace parallelrun {

namespace {

constexpr size_t kBatchesShown = 10;
constexpr size_t kItemsShown = 5;

// An item for people, relative to its input when it lies inside it.
std::string Label(const MiniBatch& batch, size_t i, const std::string& root) {
  std::string label = Printable(ItemLabel(batch, i));
  std::string prefix = Printable(root) + "/";
  if (label.compare(0, prefix.size(), prefix) == 0) label.erase(0, prefix.size());
  return label;
}

// The size of a mini-batch as a person wants it: files and their bytes, or a
// table's bytes (and rows, when known before reading). Sizes of files are
// read only for the batches shown, and only up to a bound: a partition of a
// million files is shown by its count.
std::string BatchSize(const MiniBatch& batch) {
  constexpr size_t kMaxStats = 10000;
  uint64_t bytes = 0;
  bool known = batch.items.size() <= kMaxStats;
  for (size_t i = 0; known && i < batch.items.size(); i++) {
    if (IsTabular(batch.kind)) {
      TableRange r;
      if (!DecodeTableRange(batch.items[i], &r)) {
        known = false;
      } else if (r.whole_file) {
        struct stat st;
        if (stat(r.path.c_str(), &st) == 0) bytes += static_cast<uint64_t>(st.st_size);
        else known = false;
      } else {
        bytes += r.length;
      }
    } else {
      struct stat st;
      if (stat(batch.items[i].c_str(), &st) == 0) bytes += static_cast<uint64_t>(st.st_size);
      else known = false;
    }
  }
  std::string size;
  if (IsTabular(batch.kind)) {
    size = known ? HumanBytes(bytes) : "";
    if (batch.known_rows) size += fmt::format("{}{} rows", size.empty() ? "" : ", ", batch.known_rows);
    if (batch.items.size() > 1) {
      size += fmt::format("{}{} pieces", size.empty() ? "" : " in ", batch.items.size());
    }
  } else {
    size = fmt::format("{} file{}", batch.items.size(), batch.items.size() == 1 ? "" : "s");
    if (known) size += ", " + HumanBytes(bytes);
  }
  return size;
}

std::string Unit(const JobPlan& plan) {
  return plan.tabular ? fmt::format("{} bytes", plan.settings.mini_batch_size)
                      : fmt::format("{} files", plan.settings.mini_batch_size);
}

// Lists input `index` the way the master would, printing its first
// mini-batches; `next_id` numbers them across inputs.
Status ListInput(const JobPlan& plan, size_t index, const std::string& spill_dir,
                 uint64_t* next_id, FILE* out) {
  const InputPlan& input = plan.inputs[index];
  std::string header = fmt::format("input {}: {}", input.name, Printable(input.path));
  if (input.partition_by_columns) {
    fmt::print(out, "{}: one mini-batch per value of partition_keys ({}), known after the "
                    "job's shuffle of the table; not listed in a dry run\n",
               header, fmt::join(plan.settings.partition_keys, ", "));
    return Status::Ok();
  }
  InputSource::Options options;
  options.mini_batch_size = plan.settings.mini_batch_size;
  options.partition_keys = plan.settings.partition_keys;
  options.spill_dir = spill_dir;
  // The source's helper threads call `notify`: declared before the source,
  // so that they outlive it.
  std::mutex mu;
  std::condition_variable cv;
  bool poked = false;
  auto source = InputSource::Open(input, options, [&] {
    std::lock_guard<std::mutex> lock(mu);
    poked = true;
    cv.notify_one();
  });
  std::vector<std::string> shown;
  uint64_t batches = 0, items = 0;
  for (;;) {
    MiniBatch batch;
    Batcher::Outcome o = source->Next(&batch);
    if (o == Batcher::Outcome::kExhausted) break;
    if (o == Batcher::Outcome::kWaiting) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return poked; });
      poked = false;
      continue;
    }
    batches++;
    items += batch.items.size();
    uint64_t id = (*next_id)++;
    if (shown.size() >= kBatchesShown) continue;
    // "  mini-batch 3 (2 files, 10.0 KB): …", "  mini-batch 0: store=n1, … (…): …"
    std::string line = fmt::format("  mini-batch {}", id);
    for (size_t k = 0; k < batch.partition.size(); k++) {
      line += fmt::format("{}{}={}", k ? ", " : ": ", batch.partition[k].first,
                          Printable(batch.partition[k].second));
    }
    line += fmt::format(" ({}):", BatchSize(batch));
    for (size_t i = 0; i < batch.items.size() && i < kItemsShown; i++) {
      line += (i ? ", " : " ") + Label(batch, i, input.path);
    }
    if (batch.items.size() > kItemsShown) line += fmt::format(", … ({} in all)", batch.items.size());
    shown.push_back(line);
  }
  InputSource::End end = source->Summary();
  // With partition_keys each mini-batch is a partition, whatever its size;
  // otherwise mini_batch_size decides (files, or bytes of a table).
  if (!plan.settings.partition_keys.empty()) {
    fmt::print(out, "{}: {} file{} in {} partition{} by {} (one mini-batch each; "
                    "mini_batch_size is not used)\n",
               header, end.files, end.files == 1 ? "" : "s", batches, batches == 1 ? "" : "s",
               fmt::join(plan.settings.partition_keys, ", "));
  } else {
    fmt::print(out, "{}: {} file{} in {} mini-batch{} of {}{}\n", header, end.files,
               end.files == 1 ? "" : "s", batches, batches == 1 ? "" : "es",
               plan.tabular ? "about " : "", Unit(plan));
  }
  for (const auto& line : shown) fmt::print(out, "{}\n", line);
  if (batches > shown.size()) fmt::print(out, "  … {} more mini-batches\n", batches - shown.size());
  for (const auto& w : end.warnings) fmt::print(out, "  warning: {}\n", w);
  for (const auto& e : end.errors) fmt::print(out, "  error: {}\n", e);
  (void)items;
  if (!end.errors.empty()) {
    return Status::Usage(fmt::format("input {}: {}", input.name, end.errors.front()));
  }
  return Status::Ok();
}

}  // namespace

Status PrintDryRun(const JobPlan& plan, const DryRunText& text, FILE* out) {
  const Spec& s = plan.spec;
  fmt::print(out, "dry run: nothing was started or created\n");
  fmt::print(out, "spec: {} ({} '{}')\n", s.path, SpecFormatName(s.format), s.name);
  if (!text.role.empty()) fmt::print(out, "{}\n", text.role);
  fmt::print(out, "would run: {}\n", text.workers);
  fmt::print(out, "job dir: {}\n", plan.job_dir);
  if (s.format == SpecFormat::kBatchDeployment) {
    // The deployment's defaults differ from a parallel job's: show what runs.
    const RunSettings& rs = plan.settings;
    std::vector<std::pair<std::string, std::string>> shown = {
        {"mini_batch_size", std::to_string(rs.mini_batch_size)},
        {"process_count_per_node", std::to_string(rs.process_count_per_node)},
        {"error_threshold", std::to_string(rs.error_threshold)},
        {"run_max_try", std::to_string(rs.run_max_try)},
        {"run_invocation_timeout", fmt::format("{:g}", rs.run_invocation_timeout)},
        {"output_action",
         rs.output_action == OutputAction::kAppendRow ? "append_row" : "summary_only"},
        {"append_row_file_name", rs.append_row_file_name},
        {"logging_level", rs.logging_level}};
    std::string line;
    for (const auto& [name, value] : shown) {
      line += fmt::format("{}{} {}{}", line.empty() ? "" : ", ", name, Printable(value),
                          rs.given.count(name) ? "" : " (default)");
    }
    fmt::print(out, "settings: {}\n", line);
    fmt::print(out, "model: {} (AZUREML_MODEL_DIR={})\n", Printable(plan.model_path),
               Printable(plan.model_dir));
  }
  // A partitioner may spill paths to disk: a temporary folder, not the job dir.
  std::string spill_dir;
  if (!plan.settings.partition_keys.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "parallelrun-dry-run-XXXXXX").string();
    if (mkdtemp(tmpl.data()) != nullptr) spill_dir = tmpl;
  }
  uint64_t next_id = 0;
  Status listed = Status::Ok();
  for (size_t i = 0; i < plan.inputs.size() && listed.ok(); i++) {
    listed = ListInput(plan, i, spill_dir, &next_id, out);
  }
  if (!spill_dir.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(spill_dir, ec);
  }
  for (const auto& p : s.outputs) {
    auto it = plan.port_values.find(p.name);
    if (it != plan.port_values.end()) fmt::print(out, "output {}: {}\n", p.name, Printable(it->second));
  }
  if (plan.append_row) {
    fmt::print(out, "append_row: {}/{}\n", Printable(plan.append_row->output_dir),
               Printable(plan.append_row->file_name));
  }
  fmt::print(out, "entry script: {}\n", text.entry_script);
  fflush(out);
  return listed;
}

}  // namespace parallelrun
