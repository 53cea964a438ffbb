// The job dir's layout: the paths of a node and a process are the original's,
// every path a function spells is an entry of kJobDirLayout, the folders made
// for a node are those the table lists, and readme.txt names every entry.
#include "base/job_dir.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace parallelrun {
namespace {

namespace fs = std::filesystem;

// An entry's path as a regex over real paths: each placeholder stands for
// what replaces it.
std::regex PatternOf(const std::string& path) {
  static const std::vector<std::pair<std::string, std::string>> kPlaceholders = {
      {"<node>", "[0-9]+"},       {"processNNN", "process[0-9]{3,}"}, {"<n>", "[0-9]+"},
      {"<yyyymmddhh>", "[0-9]{10}"}, {"<output>", "[^/]+"},          {"<mini-batch>", "[0-9]+"},
      {"<attempt>", "[0-9]+"}, {"<model>", "[^/]+"}};
  std::string re;
  for (size_t i = 0; i < path.size();) {
    bool replaced = false;
    for (const auto& [name, value] : kPlaceholders) {
      if (path.compare(i, name.size(), name) == 0) {
        re += value;
        i += name.size();
        replaced = true;
        break;
      }
    }
    if (replaced) continue;
    if (std::string(".[]()*+?^$|\\{}").find(path[i]) != std::string::npos) re += '\\';
    re += path[i++];
  }
  return std::regex(re);
}

// The entry of the table that `relative` (a path relative to the job dir, a
// folder ending in '/') is, or "" when none.
std::string EntryOf(const std::string& relative) {
  for (size_t i = 0; i < kJobDirLayoutSize; i++) {
    if (std::regex_match(relative, PatternOf(kJobDirLayout[i].path))) return kJobDirLayout[i].path;
  }
  return "";
}

TEST_CASE("JobDir: the paths of a node and a process are the original's", "[job_dir]") {
  const std::string j = "/jobs/a";
  CHECK(LogsDir(j) == "/jobs/a/logs");
  CHECK(ReadmePath(j) == "/jobs/a/logs/readme.txt");
  CHECK(JobResultPath(j) == "/jobs/a/logs/job_result.txt");
  CHECK(JobErrorPath(j) == "/jobs/a/logs/job_error.txt");
  CHECK(OverviewPath(j, "2026120100") == "/jobs/a/logs/job_progress_overview.2026120100.txt");
  CHECK(MasterLogPath(j, 0) == "/jobs/a/logs/sys/master_role.0.txt");
  CHECK(ProcessedMiniBatchesCsv(j) == "/jobs/a/logs/sys/job_report/processed_mini-batches.csv");
  CHECK(ProcessSummaryCsv(j) == "/jobs/a/logs/sys/job_report/process_summary.csv");
  CHECK(NodeSummaryCsv(j) == "/jobs/a/logs/sys/job_report/node_summary.csv");
  CHECK(NodeLogPath(j, 3) == "/jobs/a/logs/sys/node/3/_main.txt");
  CHECK(ProcessLogPath(j, 3, "process007") == "/jobs/a/logs/sys/node/3/process007.txt");
  CHECK(ProfilePath(j, 3, "process007") == "/jobs/a/logs/sys/node/3/process007.profile");
  CHECK(NodeResourceUsageCsv(j, 3) == "/jobs/a/logs/sys/perf/3/node_resource_usage.csv");
  CHECK(NodeDiskUsageCsv(j, 3) == "/jobs/a/logs/sys/perf/3/node_disk_usage.csv");
  CHECK(ProcessesResourceUsageCsv(j, 3) == "/jobs/a/logs/sys/perf/3/processes_resource_usage.csv");
  CHECK(ProcessesCpuMemoryCsv(j, 3, "2026120100") ==
        "/jobs/a/logs/sys/perf/3/processes_cpu_memory_usage/2026120100.csv");
  CHECK(UserLogPath(j, UserLog::kStdout, 3, "process007") ==
        "/jobs/a/logs/user/stdout/3/process007.stdout.txt");
  CHECK(UserLogPath(j, UserLog::kStderr, 3, "process007") ==
        "/jobs/a/logs/user/stderr/3/process007.stderr.txt");
  CHECK(UserLogPath(j, UserLog::kError, 3, "process007") ==
        "/jobs/a/logs/user/error/3/process007.txt");
  CHECK(UserLogPath(j, UserLog::kEntryScript, 3, "process007") ==
        "/jobs/a/logs/user/entry_script_log/3/process007.log.txt");
  CHECK(UserLogDir(j, UserLog::kEntryScript, 3) == "/jobs/a/logs/user/entry_script_log/3");
  CHECK(DefaultOutputDir(j, "scores") == "/jobs/a/outputs/scores");
  CHECK(AppendRowPartsDir(j) == "/jobs/a/append_row");
  CHECK(AppendRowPartName(17, 2) == "17.2.rows");
  CHECK(PartitionsDir(j) == "/jobs/a/partitions");
  CHECK(TokenPath(j) == "/jobs/a/.parallelrun/token");
}

TEST_CASE("JobDir: an empty job dir gives paths relative to it, for messages", "[job_dir]") {
  CHECK(JobResultPath("") == "logs/job_result.txt");
  CHECK(UserLogPath("", UserLog::kError, 0, "process001") == "logs/user/error/0/process001.txt");
}

TEST_CASE("JobDir: every path the functions spell is an entry of the table", "[job_dir]") {
  const std::vector<std::pair<std::string, std::string>> spelled = {
      {ReadmePath(""), "logs/readme.txt"},
      {JobResultPath(""), "logs/job_result.txt"},
      {JobErrorPath(""), "logs/job_error.txt"},
      {OverviewPath("", "2026120100"), "logs/job_progress_overview.<yyyymmddhh>.txt"},
      {MasterLogPath("", 0), "logs/sys/master_role.<n>.txt"},
      {ProcessedMiniBatchesCsv(""), "logs/sys/job_report/processed_mini-batches.csv"},
      {ProcessSummaryCsv(""), "logs/sys/job_report/process_summary.csv"},
      {NodeSummaryCsv(""), "logs/sys/job_report/node_summary.csv"},
      {NodeLogPath("", 12), "logs/sys/node/<node>/_main.txt"},
      {ProcessLogPath("", 12, "process1000"), "logs/sys/node/<node>/processNNN.txt"},
      {UserLogPath("", UserLog::kStdout, 12, "process000"),
       "logs/user/stdout/<node>/processNNN.stdout.txt"},
      {UserLogPath("", UserLog::kStderr, 12, "process000"),
       "logs/user/stderr/<node>/processNNN.stderr.txt"},
      {UserLogPath("", UserLog::kError, 12, "process000"), "logs/user/error/<node>/processNNN.txt"},
      {UserLogPath("", UserLog::kEntryScript, 12, "process000"),
       "logs/user/entry_script_log/<node>/processNNN.log.txt"},
      {UserLogPath("", UserLog::kStdout, 12, "zygote"), "logs/user/stdout/<node>/zygote.stdout.txt"},
      {UserLogPath("", UserLog::kStderr, 12, "zygote"), "logs/user/stderr/<node>/zygote.stderr.txt"},
      {UserLogPath("", UserLog::kEntryScript, 12, "zygote"),
       "logs/user/entry_script_log/<node>/zygote.log.txt"},
      {DefaultOutputDir("", "scores") + "/", "outputs/<output>/"},
      {AppendRowPartsDir("") + "/" + AppendRowPartName(17, 2),
       "append_row/<mini-batch>.<attempt>.rows"},
      {ModelDir("") + "/model", "model/<model>"},
      {PartitionsDir("") + "/", "partitions/"},
      {TokenPath(""), ".parallelrun/token"},
  };
  for (const auto& [path, entry] : spelled) {
    INFO(path);
    CHECK(EntryOf(path) == entry);
  }
}

TEST_CASE("JobDir: the folders made are those the table lists, on every node", "[job_dir]") {
  TempDir dir("job_dir_test");
  const std::string j = dir.path();
  REQUIRE(CreateMasterFolders(j).ok());
  REQUIRE(CreateNodeFolders(j, 0).ok());
  REQUIRE(CreateNodeFolders(j, 5).ok());

  std::set<std::string> made;
  for (const auto& e : fs::recursive_directory_iterator(j)) {
    made.insert(fs::relative(e.path(), j).string());
  }
  // The original's folders (reference §4.1), sys/perf included, for both
  // nodes, and nothing else.
  std::set<std::string> expected = {"logs", "logs/sys", "logs/sys/job_report", "logs/sys/node",
                                    "logs/sys/perf", "logs/user", "logs/user/stdout",
                                    "logs/user/stderr", "logs/user/error",
                                    "logs/user/entry_script_log"};
  for (const char* node : {"0", "5"}) {
    for (const char* sub : {"logs/sys/node/", "logs/sys/perf/", "logs/user/stdout/",
                            "logs/user/stderr/", "logs/user/error/",
                            "logs/user/entry_script_log/"}) {
      expected.insert(std::string(sub) + node);
    }
    expected.insert(std::string("logs/sys/perf/") + node + "/processes_cpu_memory_usage");
  }
  CHECK(made == expected);

  // Each folder is one the table has an entry in (or is) …
  std::set<std::string> table_folders;
  for (size_t i = 0; i < kJobDirLayoutSize; i++) {
    std::string path = kJobDirLayout[i].path;
    if (path.compare(0, 5, "logs/") != 0) continue;
    std::string folder = path.substr(0, path.rfind('/'));
    for (size_t at; (at = folder.find("<node>")) != std::string::npos;) folder.replace(at, 6, "5");
    table_folders.insert(folder);
  }
  std::set<std::string> listed;
  for (const auto& f : MasterFolders("")) listed.insert(f);
  for (const auto& f : NodeFolders("", 5)) listed.insert(f);
  CHECK(listed == table_folders);

  // … and every file of a node can be written in them.
  for (const std::string& path :
       {ReadmePath(j), JobResultPath(j), JobErrorPath(j), OverviewPath(j, "2026120100"),
        MasterLogPath(j, 0), ProcessedMiniBatchesCsv(j), ProcessSummaryCsv(j), NodeSummaryCsv(j),
        NodeLogPath(j, 5), ProcessLogPath(j, 5, "process000"),
        UserLogPath(j, UserLog::kStdout, 5, "process000"),
        UserLogPath(j, UserLog::kStderr, 5, "process000"),
        UserLogPath(j, UserLog::kError, 5, "process000"),
        UserLogPath(j, UserLog::kEntryScript, 5, "process000"), ProfilePath(j, 5, "process000"),
        NodeResourceUsageCsv(j, 5), NodeDiskUsageCsv(j, 5), ProcessesResourceUsageCsv(j, 5),
        ProcessesCpuMemoryCsv(j, 5, "2026120100")}) {
    INFO(path);
    FILE* f = fopen(path.c_str(), "w");
    CHECK(f != nullptr);
    if (f) fclose(f);
  }
}

TEST_CASE("JobDir: readme.txt names every entry of the table and nothing else", "[job_dir]") {
  std::string readme = ReadmeText();
  std::set<std::string> table;
  for (size_t i = 0; i < kJobDirLayoutSize; i++) table.insert(kJobDirLayout[i].path);
  std::set<std::string> named;
  std::istringstream lines(readme);
  for (std::string line; std::getline(lines, line);) {
    CHECK(line.size() <= 100);
    // An entry's path starts a line; prose never starts with a path (a
    // path without a folder, such as report.html, is known by the table).
    std::string first = line.substr(0, line.find(' '));
    if (!first.empty() && line[0] != ' ' &&
        (first.find('/') != std::string::npos || table.count(first))) {
      named.insert(first);
    }
  }
  CHECK(named == table);
  // Each entry says what it holds, whole (wrapped over lines).
  std::string flat = std::regex_replace(readme, std::regex("\\s+"), " ");
  for (size_t i = 0; i < kJobDirLayoutSize; i++) {
    INFO(kJobDirLayout[i].path);
    CHECK(flat.find(kJobDirLayout[i].what) != std::string::npos);
  }
}

}  // namespace
}  // namespace parallelrun
