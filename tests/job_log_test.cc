// JobLog's rows of processed_mini-batches.csv: the fields before the
// Mini-batch Detail are the text the row's format gave before it was
// compiled and before the start time's date was formatted once a second.
#include "report/job_log.h"

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "base/job_dir.h"
#include "base/text.h"
#include "temp_dir.h"

namespace parallelrun {
namespace {

// The rows of the job's processed_mini-batches.csv, without its header.
std::vector<std::string> ReportRows(const std::string& job) {
  std::ifstream in(ProcessedMiniBatchesCsv(job));
  std::string line;
  std::getline(in, line);  // the header
  std::vector<std::string> rows;
  while (std::getline(in, line)) rows.push_back(line);
  return rows;
}

TEST_CASE("JobLog: a row's fields are those of IsoTime and the row's format, whatever the start "
          "time",
          "[job_log]") {
  TempDir dir("job_log_test");
  std::string job = dir.path() + "/job";
  auto opened = JobLog::Open(job, 2, {"data"});
  REQUIRE(opened.ok());
  std::unique_ptr<JobLog> log = std::move(opened.value());
  // Seconds that repeat, go back, cross a second a microsecond away, fall
  // before the epoch, and fractions that round up to the next second.
  std::vector<double> starts = {1796119200.25, 1796119200.75,     1796119199.999999,
                                1796119201.0,  1796119200.9999999, 0.0,
                                -0.5,          1796119200.000001, 1796205600.5};
  std::mt19937_64 g(12);
  for (int i = 0; i < 2000; i++) {
    starts.push_back(1796119200.0 + static_cast<double>(g() % 5000000) / 1000.0 +
                     static_cast<double>(g() % 1000) * 1e-9);
  }
  std::vector<std::string> expected;
  MiniBatch batch;
  batch.items = {"a.png"};
  for (size_t i = 0; i < starts.size(); i++) {
    AttemptResult r;
    r.id = i;
    r.attempt = 1 + i % 3;
    r.node = static_cast<uint32_t>(i % 2);
    r.process = fmt::format("process{:03d}", i % 4);
    r.start_time = starts[i];
    r.elapsed_seconds = static_cast<double>(g() % 100000) / 7.0;
    r.process_seconds = r.elapsed_seconds / 3;
    r.run_seconds = r.elapsed_seconds / 9;
    r.total = 3;
    r.succeeded = i % 4 == 0 ? 2 : 3;
    r.status = i % 4 == 0 ? AttemptStatus::kRunException : AttemptStatus::kRunDone;
    if (i % 4 == 0) {
      r.error_category = "UserError";
      r.error_message = "ValueError: \"x\", line 1\n\tbad";
    }
    batch.id = r.id;
    log->Attempt(r, batch);
    expected.push_back(fmt::format("{},{},{},{},{},{},{},{},{:.6f},{:.6f},{},{},{},", r.id,
                                   r.attempt, r.process, IsoTime(r.start_time), r.total,
                                   r.succeeded, r.total - r.succeeded,
                                   fmt::format("{:.6f}", r.elapsed_seconds), r.process_seconds,
                                   r.run_seconds, AttemptStatusName(r.status),
                                   CsvField(r.error_category),
                                   CsvField(Printable(r.error_message))));
  }
  REQUIRE(log->Flush().ok());
  std::vector<std::string> rows = ReportRows(job);
  REQUIRE(rows.size() == expected.size());
  for (size_t i = 0; i < expected.size(); i++) {
    INFO("row " << i << ", start " << fmt::format("{:.9f}", starts[i]));
    CHECK(rows[i].substr(0, expected[i].size()) == expected[i]);
  }
}

TEST_CASE("JobLog: the Mini-batch Detail field is the mini-batch's JSON, CSV-quoted, whatever "
          "its items and input name hold",
          "[job_log]") {
  TempDir dir("job_log_detail_test");
  std::string job = dir.path() + "/job";
  std::vector<std::string> inputs = {"data", "in\"put,2\\"};
  auto opened = JobLog::Open(job, 1, inputs);
  REQUIRE(opened.ok());
  std::unique_ptr<JobLog> log = std::move(opened.value());
  std::vector<std::vector<std::string>> batches = {
      {"/data/a.png", "/data/b c,d.png"},
      {},
      {""},
      {"/data/quote\"d.txt", "/data/back\\slash", "/data/new\nline\r", "/data/tab\tx"},
      {std::string("/data/") + '\x01' + "ctl" + '\x7f', "/data/caf\xc3\xa9.txt", "/data/bad\xff.txt"},
      // Each byte that needs care at every place of an 8-byte word and in
      // the tail after the last whole word.
      {"/data/long/folder/name/ends/with/a/quote\"", "/data/long/folder/name/\\/back/slash",
       "/data/long/folder/name/ends/with/del\x7f", "/data/long/folder/name/\x1f/unit/sep",
       "/data/long/folder/name/ends/high\x80", "/data/long/folder/name/ends/plain/ascii~"},
      {"\"\"", "a\"b\"c"},
  };
  for (char c : {'"', '\\', '\0', '\n', '\x1f', ' ', '~', '\x7f', '\x80', '\xff'}) {
    std::vector<std::string> items;
    for (size_t at = 0; at < 21; at++) {
      std::string item(21, 'a');
      item[at] = c;
      items.push_back(item);
    }
    batches.push_back(items);
  }
  // What the column held when it was built as a JSON text first and then
  // quoted whole: the functions of base/text.h, composed.
  std::vector<std::string> expected;
  for (size_t i = 0; i < batches.size(); i++) {
    MiniBatch batch;
    batch.id = 1000000007ull * i;
    batch.input = static_cast<uint32_t>(i % 2);
    batch.items = batches[i];
    AttemptResult r;
    r.id = batch.id;
    r.attempt = 1;
    r.process = "process000";
    r.total = r.succeeded = batch.items.size();
    log->Attempt(r, batch);
    std::string json = "{\"input\":";
    AppendJsonString(inputs[batch.input], &json);
    json += ",\"items\":[";
    for (size_t k = 0; k < batch.items.size(); k++) {
      if (k > 0) json += ",";
      AppendJsonPrintable(batch.items[k], &json);
    }
    json += "],\"mini_batch_id\":" + std::to_string(batch.id) + "}";
    std::string field;
    AppendCsvQuoted(json, &field);
    expected.push_back(field + ",0");
  }
  REQUIRE(log->Flush().ok());
  std::vector<std::string> rows = ReportRows(job);
  REQUIRE(rows.size() == expected.size());
  for (size_t i = 0; i < expected.size(); i++) {
    INFO("mini-batch " << i);
    REQUIRE(rows[i].size() >= expected[i].size());
    CHECK(rows[i].substr(rows[i].size() - expected[i].size()) == expected[i]);
  }
}

}  // namespace
}  // namespace parallelrun
