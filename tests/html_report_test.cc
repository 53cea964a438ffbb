// `parallelrun report`'s page on made-up reports: self-contained (no
// scripts, nothing fetched), every section present, failures grouped by
// message, text escaped, the absence of perf files said.
#include "report/html_report.h"

#include <catch2/catch.hpp>

#include <string>

namespace parallelrun {
namespace {

JobReports Reports() {
  JobReports r;
  r.job_dir = "/jobs/<one>";
  for (uint64_t id = 0; id < 6; id++) {
    AttemptRow a;
    a.id = id;
    a.attempt = 1;
    a.process = id % 2 ? "process001" : "process000";
    a.start = 100 + id;
    a.elapsed = 1 + id;
    a.run = a.elapsed - 0.1;
    a.cpu = a.elapsed / 2;
    a.total = 4;
    a.succeeded = id < 4 ? 4 : 0;
    a.status = id < 4 ? "RUN_DONE" : "RUN_EXCEPTION";
    a.message = id < 4 ? "" : "ValueError: bad <item>";
    r.attempts.push_back(a);
  }
  ProcessRow p;
  p.process = "process000";
  p.attempts = 3;
  p.elapsed = 9;
  p.cpu = 4.5;
  r.processes.push_back(p);
  return r;
}

TEST_CASE("html report: self-contained, every section, numbers agree", "[report]") {
  std::string html = HtmlReport(Reports());
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  for (const char* id : {"summary", "progress", "throughput", "busy", "durations", "failures",
                         "slowest", "resources", "profile"}) {
    INFO(id);
    CHECK(html.find(std::string("<h2 id=\"") + id + "\"") != std::string::npos);
  }
  CHECK(html.find("<tr><td>succeeded</td><td>4</td><td>16</td></tr>") != std::string::npos);
  CHECK(html.find("<tr><td>failed</td><td>2</td><td>8</td></tr>") != std::string::npos);
  // Two failures, one message: one group of 2 mini-batches, escaped.
  CHECK(html.find("<td>RUN_EXCEPTION</td><td>ValueError: bad &lt;item&gt;</td><td>2</td><td>2</td>"
                  "<td>4, 5</td>") != std::string::npos);
  CHECK(html.find("/jobs/&lt;one&gt;") != std::string::npos);
  CHECK(html.find("Not measured") != std::string::npos);
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("50 %") != std::string::npos);  // process000: 4.5 / 9
}

TEST_CASE("html report: CPU and memory charts when perf samples exist", "[report]") {
  JobReports r = Reports();
  r.perf[0] = {{100, 20, 500, 10}, {101, 80, 900, 18}};
  std::string html = HtmlReport(r);
  CHECK(html.find("Not measured") == std::string::npos);
  CHECK(html.find("CPU percent per node") != std::string::npos);
  CHECK(html.find("Memory used (MB) per node") != std::string::npos);
}

}  // namespace
}  // namespace parallelrun
