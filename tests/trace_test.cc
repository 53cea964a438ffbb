// The timeline (report/trace.h) and the reports it is made from
// (report/job_reports.h): CSV records with quoted fields, times, and a trace
// whose events are well-formed and one per attempt.
#include "report/trace.h"

#include "base/job_dir.h"
#include "base/text.h"

#include <stdlib.h>

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace parallelrun {
namespace {

TEST_CASE("job reports: CSV records keep quoted commas, quotes and newlines", "[trace]") {
  std::string text = "a,\"b,1\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",,x\n";
  size_t pos = 0;
  std::vector<std::string> f;
  REQUIRE(NextCsvRecord(text, &pos, &f));
  CHECK(f == std::vector<std::string>{"a", "b,1", "say \"hi\""});
  REQUIRE(NextCsvRecord(text, &pos, &f));
  CHECK(f == std::vector<std::string>{"two\nlines", "", "x"});
  CHECK_FALSE(NextCsvRecord(text, &pos, &f));
}

TEST_CASE("job reports: CSV records read in stretches as character by character", "[trace]") {
  // A quote inside an unquoted field opens a quoted stretch of the same
  // field; a quote that never closes takes the rest of the text; a text
  // without a last line end still ends its record.
  std::string text = "ab\"c,d\"e,\"\"\"\",\r\nlast,\"open\n,\"\"end";
  size_t pos = 0;
  std::vector<std::string> f;
  REQUIRE(NextCsvRecord(text, &pos, &f));
  CHECK(f == std::vector<std::string>{"abc,de", "\"", ""});
  REQUIRE(NextCsvRecord(text, &pos, &f));
  CHECK(f == std::vector<std::string>{"last", "open\n,\"end"});
  CHECK(pos == text.size());
  CHECK_FALSE(NextCsvRecord(text, &pos, &f));
  pos = 0;
  REQUIRE(NextCsvRecord("x,y", &pos, &f));
  CHECK(f == std::vector<std::string>{"x", "y"});
}

TEST_CASE("job reports: ISO times and process numbers", "[trace]") {
  double t = 0;
  REQUIRE(ParseIsoTime("1970-01-02T00:00:01.500000", &t));
  CHECK(t == Approx(86401.5));
  CHECK_FALSE(ParseIsoTime("yesterday", &t));
  CHECK(ProcessNumber("process003") == 3);
  CHECK(ProcessNumber("process") == -1);
  CHECK(ProcessNumber("worker1") == -1);
}

TEST_CASE("trace: one complete event per attempt on its worker's track", "[trace]") {
  std::vector<AttemptRow> rows(3);
  rows[0].id = 0; rows[0].attempt = 1; rows[0].process = "process000"; rows[0].node = 0;
  rows[0].start = 1000; rows[0].elapsed = 2; rows[0].status = "RUN_DONE"; rows[0].total = 5;
  rows[0].succeeded = 5;
  rows[1] = rows[0];
  rows[1].id = 1; rows[1].process = "process001"; rows[1].start = 1001; rows[1].status = "RUN_EXCEPTION";
  rows[1].succeeded = 0; rows[1].message = "ValueError: bad item";
  rows[2] = rows[1];
  rows[2].attempt = 2; rows[2].node = 1; rows[2].process = "process002"; rows[2].start = 1004;
  rows[2].status = "RUN_DONE"; rows[2].succeeded = 5;
  std::map<uint32_t, NodeReport> nodes;
  nodes[0].node = 0;
  nodes[0].host = "h0";
  ProcessReport p;
  p.process = "process000";
  p.pid = 42;
  p.start_time = 999;
  p.end_time = 1010;
  p.init_ok = true;
  p.init_seconds = 0.5;
  p.exit = "exit code 0";
  nodes[0].processes.push_back(p);

  auto trace = nlohmann::json::parse(TraceJson(rows, nodes));
  int attempts = 0, worker = 0, init = 0, shutdown = 0;
  for (const auto& e : trace.at("traceEvents")) {
    REQUIRE(e.contains("ph"));
    REQUIRE(e.contains("pid"));
    REQUIRE(e.contains("tid"));
    if (e["ph"] != "X") {
      CHECK(e["ph"] == "M");
      continue;
    }
    CHECK(e.at("ts").get<int64_t>() >= 0);
    CHECK(e.at("dur").get<int64_t>() > 0);
    if (e["cat"] == "mini-batch") {
      attempts++;
      const auto& args = e.at("args");
      CHECK(args.at("items") == 5);
      if (args.at("mini_batch") == 1 && args.at("attempt") == 1) {
        CHECK(args.at("status") == "RUN_EXCEPTION");
        CHECK(args.at("error_message") == "ValueError: bad item");
        CHECK(e["tid"] == 1);
        CHECK(e["ts"] == 2000000);  // the origin is the worker's start, 999
      }
      if (args.at("attempt") == 2) {
        CHECK(e["pid"] == 1);
        CHECK(e["tid"] == 2);
      }
    } else if (e["name"] == "worker process000") {
      worker++;
      CHECK(e["ts"] == 0);
      CHECK(e["dur"] == 11000000);
    } else if (e["name"] == "start and init()") {
      init++;
    } else if (e["name"] == "shutdown") {
      shutdown++;
      CHECK(e["ts"] == 3000000);  // after its last mini-batch, which ended at 1002
    }
  }
  CHECK(attempts == 3);
  CHECK(worker == 1);
  CHECK(init == 1);
  CHECK(shutdown == 1);
}

TEST_CASE("trace: hostile strings stay valid JSON and keep their text", "[trace]") {
  // The trace is written by hand (not through a JSON library): quotes,
  // backslashes, newlines, control bytes and invalid UTF-8 in what a worker
  // reported must neither break the document nor be lost.
  std::vector<AttemptRow> rows(1);
  rows[0].id = 7; rows[0].attempt = 1; rows[0].process = "proc\"ess\\1"; rows[0].node = 0;
  rows[0].start = 1000; rows[0].elapsed = 0.5; rows[0].status = "RUN_EXCEPTION";
  rows[0].total = 2; rows[0].succeeded = 0; rows[0].run = 1e-7; rows[0].cpu = 0;
  rows[0].category = "Value\"Error";
  rows[0].message = "line one\nline \"two\"\t\x01\xff end\\";
  std::map<uint32_t, NodeReport> nodes;
  nodes[0].host = "h\"0";
  ProcessReport p;
  p.process = rows[0].process;
  p.start_time = 999;
  p.end_time = 1002;
  p.exit = "killed by \"SIGKILL\"";
  nodes[0].processes.push_back(p);

  std::string text = TraceJson(rows, nodes);
  auto trace = nlohmann::json::parse(text);  // throws when the text is not JSON
  bool seen = false;
  for (const auto& e : trace.at("traceEvents")) {
    if (e.value("cat", "") != "mini-batch") continue;
    seen = true;
    const auto& args = e.at("args");
    CHECK(args.at("error_category") == "Value\"Error");
    // Printable(): newline and tab as \n and \t, other bytes \xNN.
    CHECK(args.at("error_message") == "line one\\nline \"two\"\\t\\x01\\xff end\\\\");
    CHECK(args.at("failed") == 2);
    CHECK(args.at("run_seconds").get<double>() == Approx(1e-7));
  }
  CHECK(seen);
  CHECK(trace.at("otherData").at("tool") == "parallelrun");
}

TEST_CASE("job reports: profile top lists are summed per function, most own time first",
          "[trace]") {
  std::string header = "function\tfile\tline\tcalls\town_seconds\tcumulative_seconds\n";
  std::string a = header + "burn\t/s/score.py\t10\t4\t0.500000\t0.600000\n" +
                  "<built-in method builtins.sum>\t~\t0\t8\t0.100000\t0.100000\n";
  std::string b = header + "burn\t/s/score.py\t10\t1\t0.250000\t0.300000\n" +
                  "init\t/s/score.py\t3\t1\t0.400000\t0.400000\n" +
                  "ragged\tline\n" + "bad\tnumbers\tx\t1\t1\t1\n";
  auto top = SumProfileTops({a, b});
  REQUIRE(top.size() == 3);
  CHECK(top[0].function == "burn");
  CHECK(top[0].calls == 5);
  CHECK(top[0].own_seconds == Approx(0.75));
  CHECK(top[0].cumulative_seconds == Approx(0.9));
  CHECK(top[0].workers == 2);
  CHECK(top[1].function == "init");
  CHECK(top[2].function == "<built-in method builtins.sum>");
  CHECK(top[2].workers == 1);
  CHECK(SumProfileTops({}).empty());
}

TEST_CASE("trace: a report too large for a timeline gets none, and the error says why",
          "[trace]") {
  char tmpl[] = "/tmp/trace_test_XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string job = tmpl;
  std::string csv = ProcessedMiniBatchesCsv(job);
  std::filesystem::create_directories(std::filesystem::path(csv).parent_path());
  {
    std::ofstream f(csv);
    f << "header\n";
  }
  // Sparse: the size is what counts, nothing is read.
  std::filesystem::resize_file(csv, kMaxTraceCsvBytes + 1);
  Status s = WriteTrace(job, {});
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("MB of attempts, more than the 256 MB a timeline is made from") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(TracePath(job)));
  std::filesystem::remove_all(job);
}

TEST_CASE("trace: a CSV of many blocks is read and written streamed, records whole", "[trace]") {
  // Over 4 MB of rows, each with a quoted message holding commas, doubled
  // quotes and line ends: the block reader must not cut a record where a
  // block ends, and the streamed trace must be the in-memory one.
  char tmpl[] = "/tmp/trace_test_XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string job = tmpl;
  std::string csv = ProcessedMiniBatchesCsv(job);
  std::filesystem::create_directories(std::filesystem::path(csv).parent_path());
  std::filesystem::create_directories(std::filesystem::path(TracePath(job)).parent_path());
  constexpr int kRows = 20000;
  {
    std::ofstream f(csv, std::ios::binary);
    f << "Mini-batch Id,Picked Count,Process,Node,Start Time,Total,Succeeded,Elapsed Seconds,"
         "Status,Error Category,Error Message\r\n";
    for (int i = 0; i < kRows; i++) {
      f << i << ",1,process00" << (i % 4) << "," << (i % 3) << ",2026-12-01T10:00:"
        << (10 + i % 40) << ".500000,10," << (i % 7 == 0 ? 0 : 10) << ",0.25,"
        << (i % 7 == 0 ? "RUN_EXCEPTION" : "RUN_DONE") << ",ValueError,\"bad, \"\"item\"\" "
        << i << "\nsecond line " << std::string(100, 'x') << "\"\r\n";
    }
  }
  REQUIRE(std::filesystem::file_size(csv) > (4u << 20));
  auto rows = ReadAttemptRows(csv);
  REQUIRE(rows.ok());
  REQUIRE(rows.value().size() == kRows);
  for (int i : {0, 1, 4999, 12345, kRows - 1}) {
    const AttemptRow& r = rows.value()[i];
    CHECK(r.id == static_cast<uint64_t>(i));
    CHECK(r.node == static_cast<uint32_t>(i % 3));
    CHECK(r.message == "bad, \"item\" " + std::to_string(i) + "\nsecond line " + std::string(100, 'x'));
  }
  REQUIRE(WriteTrace(job, {}).ok());
  std::ifstream in(TracePath(job), std::ios::binary);
  std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(written == TraceJson(rows.value(), {}));
  auto trace = nlohmann::json::parse(written);
  int attempts = 0;
  for (const auto& e : trace.at("traceEvents")) attempts += e.value("cat", "") == "mini-batch";
  CHECK(attempts == kRows);
  CHECK_FALSE(std::filesystem::exists(TracePath(job) + ".tmp"));

  // A row that cannot be parsed names its line, and leaves no timeline.
  {
    std::ofstream f(csv, std::ios::app | std::ios::binary);
    f << "x,1,process000,0,2026-12-01T10:00:10.5,1,1,0.1,RUN_DONE,,\n";
  }
  std::filesystem::remove(TracePath(job));
  Status s = WriteTrace(job, {});
  CHECK_FALSE(s.ok());
  CHECK(s.message().find(":" + std::to_string(kRows + 2) + ": Mini-batch Id is not a number") !=
        std::string::npos);
  CHECK_FALSE(std::filesystem::exists(TracePath(job)));
  CHECK_FALSE(std::filesystem::exists(TracePath(job) + ".tmp"));
  std::filesystem::remove_all(job);
}

TEST_CASE("AppendJsonString escapes quotes, backslashes and control bytes", "[trace]") {
  std::string out;
  AppendJsonString(std::string("a\"b\\c\x01\x1f", 7), &out);
  CHECK(out == "\"a\\\"b\\\\c\\u0001\\u001f\"");
  CHECK(nlohmann::json::parse(out) == std::string("a\"b\\c\x01\x1f", 7));
}

}  // namespace
}  // namespace parallelrun
