#include "master/append_row_output.h"
#include "temp_dir.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace parallelrun {
namespace {

namespace fs = std::filesystem;


std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What a worker does: write under a temporary name, then rename.
void WritePart(const AppendRowOutput& out, MiniBatchId id, uint32_t attempt, const std::string& rows) {
  std::string part = out.PartPath(id, attempt);
  std::string tmp = part + ".tmp-" + std::to_string(getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    f << rows;
    REQUIRE(f.good());
  }
  REQUIRE(rename(tmp.c_str(), part.c_str()) == 0);
}

AppendRowOutput::Options MakeOptions(const TempDir& dir) {
  AppendRowOutput::Options o;
  o.output_dir = dir.path() + "/out";
  o.file_name = "parallel_run_step.txt";
  o.parts_dir = dir.path() + "/job/append_row";
  fs::create_directories(o.output_dir);
  return o;
}

TEST_CASE("append_row_output: parts are concatenated in mini-batch id order", "[append_row]") {
  TempDir dir("append_row_test");
  AppendRowOutput out(MakeOptions(dir));
  REQUIRE(out.Prepare().ok());
  CHECK(out.PartPath(7, 2) == dir.path() + "/job/append_row/7.2.rows");
  // Results arrive out of order.
  for (MiniBatchId id : {3, 0, 2, 1}) {
    WritePart(out, id, 1, "row " + std::to_string(id) + "a\nrow " + std::to_string(id) + "b\n");
    CHECK(out.Accept(id, 1));
  }
  std::vector<std::string> lines;
  Result<AppendRowOutput::Summary> s = out.Finish([&](const std::string& l) { lines.push_back(l); });
  REQUIRE(s.ok());
  CHECK(s->path == dir.path() + "/out/parallel_run_step.txt");
  CHECK(s->mini_batches == 4);
  CHECK(ReadFile(s->path) == "row 0a\nrow 0b\nrow 1a\nrow 1b\nrow 2a\nrow 2b\nrow 3a\nrow 3b\n");
  CHECK(s->bytes == 56);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] == "Concatenating the rows of 4 mini-batches (0.00 MB) into " + s->path + ".");
  CHECK(lines[1].rfind("Finished concatenating 4 files (0.00 MB) in ", 0) == 0);
  // The parts and their folder are gone; no partial file is left.
  CHECK(!fs::exists(dir.path() + "/job/append_row"));
  CHECK(!fs::exists(out.partial_path()));
}

TEST_CASE("append_row_output: a duplicated mini-batch contributes its rows once", "[append_row]") {
  TempDir dir("append_row_test");
  AppendRowOutput out(MakeOptions(dir));
  REQUIRE(out.Prepare().ok());
  // A lease that expired: attempt 1 is still running when attempt 2 finishes
  // first; then attempt 1 finishes too.
  WritePart(out, 0, 2, "zero\n");
  CHECK(out.Accept(0, 2));
  WritePart(out, 0, 1, "zero\n");
  CHECK(!out.Accept(0, 1));
  CHECK(!fs::exists(out.PartPath(0, 1)));  // deleted at once
  CHECK(!out.Accept(0, 2));                // the same result recorded twice
  CHECK(out.accepted(0) == 2);
  WritePart(out, 1, 1, "one\n");
  CHECK(out.Accept(1, 1));
  REQUIRE(out.Finish().ok());
  CHECK(ReadFile(out.final_path()) == "zero\none\n");
}

TEST_CASE("append_row_output: a failed attempt's rows never appear", "[append_row]") {
  TempDir dir("append_row_test");
  AppendRowOutput out(MakeOptions(dir));
  REQUIRE(out.Prepare().ok());
  // Attempt 1 wrote its rows, then failed (e.g. killed before its result
  // was sent); attempt 2 succeeded.
  WritePart(out, 0, 1, "from the failed attempt\n");
  WritePart(out, 0, 2, "good\n");
  // A worker killed mid-write leaves only its temporary file.
  {
    std::ofstream f(out.PartPath(1, 1) + ".tmp-999");
    f << "half a ro";
  }
  out.Discard(1, 1);
  WritePart(out, 1, 2, "also good\n");
  CHECK(out.Accept(1, 2));
  CHECK(out.Accept(0, 2));
  out.Discard(0, 2);  // never deletes the accepted part
  CHECK(fs::exists(out.PartPath(0, 2)));
  // Mini-batch 2 failed every attempt: nothing accepted.
  WritePart(out, 2, 3, "never\n");
  Result<AppendRowOutput::Summary> s = out.Finish();
  REQUIRE(s.ok());
  CHECK(s->mini_batches == 2);
  CHECK(ReadFile(out.final_path()) == "good\nalso good\n");
  CHECK(!fs::exists(out.options().parts_dir));
}

TEST_CASE("append_row_output: rows that arrive in chunks", "[append_row]") {
  TempDir dir("append_row_test");
  AppendRowOutput out(MakeOptions(dir));
  REQUIRE(out.Prepare().ok());
  REQUIRE(out.WriteChunk(1, 1, "b1\n", false).ok());
  CHECK(!fs::exists(out.PartPath(1, 1)));  // not complete yet
  REQUIRE(out.WriteChunk(1, 1, "b2\n", true).ok());
  REQUIRE(out.WriteChunk(0, 1, "", true).ok());  // an attempt with no rows
  CHECK(out.Accept(1, 1));
  CHECK(out.Accept(0, 1));
  REQUIRE(out.Finish().ok());
  CHECK(ReadFile(out.final_path()) == "b1\nb2\n");
}

TEST_CASE("append_row_output: no accepted rows make an empty file", "[append_row]") {
  TempDir dir("append_row_test");
  AppendRowOutput out(MakeOptions(dir));
  REQUIRE(out.Prepare().ok());
  Result<AppendRowOutput::Summary> s = out.Finish();
  REQUIRE(s.ok());
  CHECK(s->mini_batches == 0);
  CHECK(fs::exists(out.final_path()));
  CHECK(fs::file_size(out.final_path()) == 0);
}

TEST_CASE("append_row_output: a missing part fails without touching the final file", "[append_row]") {
  TempDir dir("append_row_test");
  AppendRowOutput out(MakeOptions(dir));
  REQUIRE(out.Prepare().ok());
  {
    std::ofstream f(out.final_path());
    f << "from an earlier run\n";
  }
  WritePart(out, 0, 1, "a\n");
  CHECK(out.Accept(0, 1));
  CHECK(out.Accept(5, 3));  // its part was never written
  Result<AppendRowOutput::Summary> s = out.Finish();
  REQUIRE(!s.ok());
  CHECK(s.status().message() == "rows of mini-batch 5 (attempt 3) are missing: " + out.PartPath(5, 3) +
                                    ": No such file or directory");
  CHECK(ReadFile(out.final_path()) == "from an earlier run\n");
  CHECK(!fs::exists(out.partial_path()));
  CHECK(fs::exists(out.PartPath(0, 1)));  // kept for a manual rescue
}

TEST_CASE("append_row_output: an existing final file is replaced whole", "[append_row]") {
  TempDir dir("append_row_test");
  AppendRowOutput out(MakeOptions(dir));
  REQUIRE(out.Prepare().ok());
  {
    std::ofstream f(out.final_path());
    f << "old old old old old\n";
  }
  WritePart(out, 0, 1, "new\n");
  out.Accept(0, 1);
  REQUIRE(out.Finish().ok());
  CHECK(ReadFile(out.final_path()) == "new\n");
}

TEST_CASE("append_row_output: a crash mid-write leaves no final file", "[append_row]") {
  TempDir dir("append_row_test");
  AppendRowOutput out(MakeOptions(dir));
  REQUIRE(out.Prepare().ok());
  WritePart(out, 0, 1, std::string(100000, 'x') + "\n");
  out.Accept(0, 1);
  // Part 1 is a fifo with no writer: opening it blocks, so the process
  // running Finish() is stuck after writing part 0 — and is then killed.
  REQUIRE(mkfifo(out.PartPath(1, 1).c_str(), 0644) == 0);
  out.Accept(1, 1);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    (void)out.Finish();
    _exit(0);
  }
  // Wait (with a deadline) until the partial file holds part 0.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    std::error_code ec;
    uintmax_t size = fs::file_size(out.partial_path(), ec);  // (uintmax_t)-1 on error
    if (!ec && size >= 100001) break;
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::yield();
  }
  CHECK(!fs::exists(out.final_path()));
  kill(child, SIGKILL);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  CHECK(WIFSIGNALED(status));
  CHECK(fs::exists(out.partial_path()));
  CHECK(!fs::exists(out.final_path()));

  // After the crash, a new run over the same parts finishes the file.
  REQUIRE(unlink(out.PartPath(1, 1).c_str()) == 0);
  WritePart(out, 1, 1, "last\n");
  REQUIRE(out.Finish().ok());
  CHECK(ReadFile(out.final_path()) == std::string(100000, 'x') + "\nlast\n");
  CHECK(!fs::exists(out.partial_path()));
}

long ResidentKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

TEST_CASE("append_row_output: large outputs are streamed", "[append_row]") {
  TempDir dir("append_row_test");
  AppendRowOutput out(MakeOptions(dir));
  REQUIRE(out.Prepare().ok());
  const int kParts = 48;
  const size_t kPartBytes = 1u << 20;
  std::string block(kPartBytes, '\0');
  for (int id = 0; id < kParts; id++) {
    for (size_t i = 0; i < kPartBytes; i++) block[i] = static_cast<char>('a' + (id + i / 4096) % 26);
    block.back() = '\n';
    WritePart(out, id, 1, block);
  }
  // Accepted from the last to the first.
  for (int id = kParts - 1; id >= 0; id--) CHECK(out.Accept(id, 1));
  std::string().swap(block);
  long before = ResidentKiB();
  Result<AppendRowOutput::Summary> s = out.Finish();
  long after = ResidentKiB();
  REQUIRE(s.ok());
  CHECK(s->bytes == kParts * kPartBytes);
  CHECK(fs::file_size(out.final_path()) == kParts * kPartBytes);
  // A 48 MiB output costs a 1 MiB buffer, not the output's size.
  if (before > 0 && after > 0) CHECK(after - before < 8 * 1024);
  // Spot checks: each part in its place.
  std::ifstream f(out.final_path(), std::ios::binary);
  for (int id = 0; id < kParts; id++) {
    f.seekg(static_cast<std::streamoff>(id * kPartBytes));
    char c;
    f.get(c);
    CHECK(c == static_cast<char>('a' + id % 26));
  }
}

}  // namespace
}  // namespace parallelrun
