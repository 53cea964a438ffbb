// The timeline's exact bytes, pinned: tests/data/trace/*.json were written
// by the trace code as it was before it was made faster (two reads of the
// CSV through the general CSV reader, strptime, fmt format strings), so a
// faster writer must produce them byte for byte from the same CSV and node
// reports. One job is logged through JobLog (the master's own path: the CSV
// it writes and the trace its Close() writes); one CSV is written by hand
// in the shapes a person's edit or another tool could leave (other column
// order, CRLF, times without fractions, numbers strtod reads but JobLog
// never writes).
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "base/job_dir.h"
#include "report/job_log.h"
#include "report/job_reports.h"
#include "report/trace.h"
#include "temp_dir.h"

namespace parallelrun {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Compares `actual` with the fixture `name`; on a difference writes the
// actual text beside the temp dir for a look (and for making a fixture anew
// — only ever from the code the fixture pins).
void CheckPinned(const std::string& actual, const std::string& name) {
  std::string path = std::string(PARALLELRUN_TEST_DATA) + "/trace/" + name;
  std::string expected = ReadFile(path);
  CHECK_FALSE(actual.empty());
  if (actual != expected) {
    std::string out = (std::filesystem::temp_directory_path() / (name + ".actual")).string();
    std::ofstream(out, std::ios::binary) << actual;
    size_t at = 0;
    while (at < actual.size() && at < expected.size() && actual[at] == expected[at]) at++;
    FAIL_CHECK(name << " differs from byte " << at << "; actual text in " << out << ": ..."
                    << actual.substr(at > 80 ? at - 80 : 0, 160));
  }
}

// A fraction in [0, 1) from the generator's raw bits: the same on every
// standard library (its distributions are not).
double Unit(std::mt19937_64& g) { return static_cast<double>(g() >> 11) * 0x1.0p-53; }

const char* const kMessages[] = {
    "ValueError: bad item",
    "say \"hi\", then, \"bye\"",
    "line one\nline two\r\nline three",
    "tab\there \\ backslash",
    "bytes \xff\xfe and \xc3\x28 and \x01\x7f",
    "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 ok",
    "",
    ",,,\"\"\"",
};

const char* const kProcesses[] = {"process000", "process001", "process002", "process010",
                                  "worker-a",   "gpu:0",      "w'q \xc3\xa9", "process"};

TEST_CASE("trace pinned: the master's JobLog path writes the same bytes", "[trace]") {
  TempDir dir("trace_pinned_test");
  std::string job = dir.path() + "/job";
  auto opened = JobLog::Open(job, 3, {"input_ds"});
  REQUIRE(opened.ok());
  std::unique_ptr<JobLog> log = std::move(opened.value());

  std::mt19937_64 g(20261202);
  const double base = 1796119200.0;  // 2026-12-01T10:00:00Z
  std::map<std::pair<uint32_t, std::string>, double> last_end;
  uint64_t next_id = 0;
  for (int i = 0; i < 240; i++) {
    AttemptResult r;
    // Retries: about one row in six tries again a mini-batch seen before.
    bool retry = next_id > 3 && g() % 6 == 0;
    r.id = retry ? next_id - 1 - g() % 3 : next_id++;
    r.attempt = retry ? 2 + static_cast<uint32_t>(g() % 3) : 1;
    r.node = static_cast<uint32_t>(g() % 3);
    r.process = kProcesses[g() % 8];
    // Times with noise below a microsecond: the CSV rounds them, and the
    // trace is made from what the CSV says.
    r.start_time = base + 0.5 + i * 0.37 + Unit(g) * 2.0;
    r.elapsed_seconds = (g() % 10 == 0) ? Unit(g) * 1e-6 : Unit(g) * 3.0;
    r.process_seconds = (g() % 7 == 0) ? 0 : Unit(g) * r.elapsed_seconds;
    r.run_seconds = (g() % 9 == 0) ? 1e-7 : Unit(g) * r.elapsed_seconds;
    r.total = g() % 20;
    int kind = static_cast<int>(g() % 5);
    r.status = kind < 3 ? AttemptStatus::kRunDone
                        : static_cast<AttemptStatus>(1 + g() % 6);
    r.succeeded = r.status == AttemptStatus::kRunDone ? r.total - g() % (r.total + 1) / 4 : 0;
    if (r.status != AttemptStatus::kRunDone) {
      r.error_category = g() % 4 == 0 ? "Value\"Error, odd" : "ValueError";
      r.error_message = kMessages[g() % 8];
      r.traceback = "Traceback (most recent call last):\n  x\n";
    }
    MiniBatch b;
    b.id = r.id;
    for (uint64_t k = 0; k < r.total % 4; k++) {
      b.items.push_back("/data/f\"" + std::to_string(r.id) + ",\xff" + std::to_string(k));
    }
    log->Attempt(r, b);
    double& end = last_end[{r.node, r.process}];
    end = std::max(end, r.start_time + r.elapsed_seconds);
  }
  // Node reports: processes with and without attempts, with init and
  // without, ending after their last mini-batch or (clock skew) before it.
  std::map<uint32_t, NodeReport> nodes;
  for (uint32_t n = 0; n < 3; n++) {
    NodeReport rep;
    rep.node = n;
    rep.host = n == 1 ? "" : "host-" + std::to_string(n) + (n == 2 ? "\"q\"" : "");
    for (int p = 0; p < 8; p++) {
      if ((p + n) % 4 == 3) continue;
      ProcessReport pr;
      pr.process = kProcesses[p];
      pr.pid = 1000 + n * 100 + p;
      pr.start_time = p == 5 ? 0 : base + Unit(g) * 0.4 - (p == 1 && n == 0 ? 1.0 : 0);
      auto it = last_end.find({n, pr.process});
      double last = it == last_end.end() ? base + 10 : it->second;
      pr.end_time = p == 6 ? 0 : last + (p == 2 ? -0.25 : Unit(g) * 0.5);
      pr.init_ok = p != 4;
      pr.init_seconds = p == 3 ? 0 : Unit(g) * 0.3;
      pr.exit = p == 7 ? "killed by \"SIGKILL\"\n" : "exit code 0";
      rep.processes.push_back(pr);
    }
    // A process the reports know of twice (a restarted worker's number).
    if (n == 0) rep.processes.push_back(rep.processes.front());
    nodes[n] = rep;
    log->Node(rep);
  }
  REQUIRE(log->Close(Status::Ok(), JobLog::Totals{}, "summary\n").ok());
  std::string written = ReadFile(TracePath(job));
  CheckPinned(written, "joblog_trace.json");

  // The other ways in make the same text: the CSV read by a tool after the
  // job, and the rows read into memory.
  REQUIRE(WriteTrace(job, nodes).ok());
  CHECK(ReadFile(TracePath(job)) == written);
  auto rows = ReadAttemptRows(ProcessedMiniBatchesCsv(job));
  REQUIRE(rows.ok());
  CHECK(rows->size() == 240);
  CHECK(TraceJson(rows.value(), nodes) == written);
}

TEST_CASE("trace pinned: a CSV written by hand keeps its trace's bytes", "[trace]") {
  TempDir dir("trace_pinned_test");
  std::string job = dir.path() + "/job";
  std::string csv = ProcessedMiniBatchesCsv(job);
  std::filesystem::create_directories(std::filesystem::path(csv).parent_path());
  std::filesystem::create_directories(std::filesystem::path(TracePath(job)).parent_path());
  {
    std::ofstream f(csv, std::ios::binary);
    // Another column order, an unknown column, no Failed or Detail, CRLF.
    f << "Node,Status,Mini-batch Id,Extra,Picked Count,Process,Start Time,Total,Succeeded,"
         "Elapsed Seconds,Process Seconds,Run Method Seconds,Error Category,Error Message\r\n";
    f << "0,RUN_DONE,0,x,1,process000,2026-12-01T10:00:00.500000,3,3,0.250000,0.1,0.2,,\r\n";
    // A time with a space and no fraction; a comma fraction; few digits.
    f << "0,RUN_DONE,1,\"a,b\",1,process001,2026-12-01 10:00:01,3,3,1.5,0,0,,\r\n";
    f << "1,RUN_DONE,2,,1,process001,\"2026-12-01T10:00:02,25\",3,3,2.5,1e-3,0.5,,\r\n";
    f << "1,RUN_DONE,3,,1,process002,2026-12-01T10:00:02.5,3,3,2.5,inf,nan,,\r\n";
    // Numbers strtod reads though JobLog never writes them so.
    f << "2,RUN_EXCEPTION,4,,1,process0007,2026-12-01T10:00:03.000001,4,0, 2.5,+1,0x10,"
         "Value\"\"Error,\"quoted \"\"message\"\", with, commas\r\nand a line\"\r\n";
    f << "\r\n";  // an empty line is skipped
    f << "2,TIMEOUT,4,,2,process-1,2026-12-01T10:00:04.999999,4,0,60,1e300,-0,Timeout,"
         "\"bytes \xff\xfe\x01 end\"\r\n";
    // Missing trailing columns (empty), a process name that is not a number.
    f << "0,RUN_DONE,5,,1,my worker,2026-12-01T10:00:05.123456,1,1,0.000001\r\n";
    f << ",RUN_DONE,6,,3,process000,2026-12-01T23:59:59.999999,1,1,0.5,0.5,0.5,,\r\n";
    // Leap-year day, end of a year, a far date.
    f << "0,RUN_DONE,7,,1,process000,2028-02-29T12:00:00.000000,1,1,0.5,0.5,0.5,,\r\n";
    f << "0,RUN_DONE,8,,1,process000,2026-12-31T23:59:59.000000,1,1,0.5,0.5,0.5,,\r\n";
    f << "0,RUN_DONE,9,,1,process000,2026-11-30T00:00:00.000000,1,1,1234567.125,0.5,0.5,,\r\n";
    f << "0,RUN_DONE,10,,1,process000,2026-12-01T10:00:06.1234567,1,1,0.5,0.5,0.5,,\r\n";
    f << "0,RUN_DONE,11,,1,process000,2026-12-01T10:00:07.123456Z,1,1,0.5,0.5,0.5,,";  // no line end
  }
  std::map<uint32_t, NodeReport> nodes;
  nodes[0].node = 0;
  nodes[0].host = "h0";
  ProcessReport p;
  p.process = "process000";
  p.pid = 42;
  p.start_time = 1796119199.25;
  p.end_time = 1796119260.5;
  p.init_ok = true;
  p.init_seconds = 0.75;
  p.exit = "exit code 0";
  nodes[0].processes.push_back(p);
  p.process = "my worker";
  p.init_seconds = 0;
  nodes[0].processes.push_back(p);
  nodes[5].node = 5;  // a node with no attempts
  p.process = "process003";
  nodes[5].processes.push_back(p);

  REQUIRE(WriteTrace(job, nodes).ok());
  std::string written = ReadFile(TracePath(job));
  CheckPinned(written, "handmade_trace.json");
  auto rows = ReadAttemptRows(csv);
  REQUIRE(rows.ok());
  CHECK(TraceJson(rows.value(), nodes) == written);
}

}  // namespace
}  // namespace parallelrun
