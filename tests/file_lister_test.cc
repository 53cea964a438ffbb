#include "data/file_lister.h"
#include "temp_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace parallelrun {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(20);

// A fresh folder under the system temp folder, removed with everything in it.

// Paths are byte strings: create them with the system calls, not fs::path.
void MakeFile(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  REQUIRE(fd >= 0);
  close(fd);
}

void MakeDir(const std::string& path) { REQUIRE(mkdir(path.c_str(), 0755) == 0); }

void MakeSymlink(const std::string& target, const std::string& link) {
  REQUIRE(symlink(target.c_str(), link.c_str()) == 0);
}

// The notify callback of a test: counts calls and lets the test wait for the
// next one without sleeping.
class Notifications {
 public:
  std::function<void()> Callback() {
    return [this] {
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++count_;
      }
      cv_.notify_all();
    };
  }
  uint64_t count() {
    std::lock_guard<std::mutex> lock(mutex_);
    return count_;
  }
  // Waits until more than `seen` notifications have arrived; false at the deadline.
  bool WaitPast(uint64_t seen, Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_until(lock, deadline, [&] { return count_ > seen; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  uint64_t count_ = 0;
};

// Takes items the way the event loop does — whatever is there, then wait for
// the next notification — until the lister is finished.
std::vector<std::string> TakeAll(FileLister& lister, Notifications& notifications,
                                 size_t max_per_take = 1000) {
  const auto deadline = Clock::now() + kDeadline;
  std::vector<std::string> items;
  for (;;) {
    uint64_t seen = notifications.count();
    size_t n = lister.Take(max_per_take, &items);
    if (lister.finished()) break;
    if (n == 0) REQUIRE(notifications.WaitPast(seen, deadline));
  }
  return items;
}

std::vector<std::string> ListAll(const std::string& root, FileLister::Options options = {}) {
  Notifications notifications;
  FileLister lister(root, options, notifications.Callback());
  std::vector<std::string> items = TakeAll(lister, notifications);
  CHECK(lister.listing_done());
  CHECK(lister.listed() == items.size());
  CHECK(lister.errors().empty());
  return items;
}

// Spins (no sleep) until `condition` holds; false at the deadline.
template <typename Condition>
bool SpinUntil(Condition condition) {
  const auto deadline = Clock::now() + kDeadline;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

std::string Numbered(int i) {
  char name[32];
  std::snprintf(name, sizeof name, "f%05d", i);
  return name;
}

TEST_CASE("a nested tree is listed depth-first, each folder sorted by bytes", "[file_lister]") {
  TempDir dir("file_lister_test");
  const std::string root = dir.path() + "/data";
  MakeDir(root);
  MakeFile(root + "/z.txt");
  MakeFile(root + "/a.txt");
  MakeFile(root + "/a-b.txt");
  MakeFile(root + "/B.txt");
  MakeDir(root + "/a");
  MakeFile(root + "/a/x.txt");
  MakeDir(root + "/c");
  MakeDir(root + "/c/d");
  MakeFile(root + "/c/d/e.txt");
  MakeFile(root + "/c/f.txt");
  MakeDir(root + "/empty");
  MakeFile(root + "/.hidden");

  // Byte order: '.' < 'B' < 'a'; a prefix comes first; '-' < '.'.
  const std::vector<std::string> relative = {"/.hidden", "/B.txt",    "/a/x.txt", "/a-b.txt",
                                             "/a.txt",   "/c/d/e.txt", "/c/f.txt", "/z.txt"};
  SECTION("root as given") {
    std::vector<std::string> expected;
    for (const std::string& r : relative) expected.push_back(root + r);
    CHECK(ListAll(root) == expected);
  }
  SECTION("trailing slashes of the root are dropped") {
    std::vector<std::string> expected;
    for (const std::string& r : relative) expected.push_back(root + r);
    CHECK(ListAll(root + "//") == expected);
  }
  SECTION("a relative root stays relative") {
    std::vector<std::string> expected;
    for (const std::string& r : relative) expected.push_back("data" + r);
    char cwd[4096];
    REQUIRE(getcwd(cwd, sizeof cwd) != nullptr);
    REQUIRE(chdir(dir.path().c_str()) == 0);
    std::vector<std::string> items = ListAll("data");
    REQUIRE(chdir(cwd) == 0);
    CHECK(items == expected);
  }
}

TEST_CASE("names alike in their first eight bytes, short names and high bytes sort by bytes",
          "[file_lister]") {
  // The sort compares the first 8 bytes as one number and only ties by the
  // whole name: names that share 8 bytes, that are shorter than 8 (or a
  // prefix of another) and bytes >= 0x80 are where that could go wrong.
  TempDir dir("file_lister_test");
  std::vector<std::string> names = {"a",        "ab",        "abcdefg",  "abcdefgh", "abcdefgh0",
                                    "abcdefgh\x01", "abcdefgh\xff", "abcdefgi", "abcdefg\x80",
                                    "\x80",     "\xff\xff\xff\xff\xff\xff\xff\xff", "\x7f", "A"};
  uint32_t state = 12345;
  auto next = [&state] { return state = state * 1103515245u + 12345u, state >> 16; };
  const std::string alphabet = std::string("ab\x01\x7f\x80\xfe.-_");
  for (int i = 0; i < 600; i++) {
    std::string name = (i % 3 == 0) ? "shared_prefix_" : (i % 3 == 1 ? "sp" : "");
    size_t length = 1 + next() % 12;
    for (size_t k = 0; k < length; k++) name += alphabet[next() % alphabet.size()];
    if (name != "." && name != "..") names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::vector<std::string> expected;
  for (const std::string& name : names) {
    MakeFile(dir.path() + "/" + name);
    expected.push_back(dir.path() + "/" + name);
  }
  CHECK(ListAll(dir.path()) == expected);
}

TEST_CASE("a single file as root is the one item", "[file_lister]") {
  TempDir dir("file_lister_test");
  const std::string file = dir.path() + "/only.csv";
  MakeFile(file);
  CHECK(ListAll(file) == std::vector<std::string>{file});

  const std::string link = dir.path() + "/link.csv";
  MakeSymlink("only.csv", link);
  CHECK(ListAll(link) == std::vector<std::string>{link});
}

TEST_CASE("an empty folder finishes with no items", "[file_lister]") {
  TempDir dir("file_lister_test");
  Notifications notifications;
  FileLister lister(dir.path(), {}, notifications.Callback());
  std::vector<std::string> items = TakeAll(lister, notifications);
  CHECK(items.empty());
  CHECK(lister.finished());
  CHECK(lister.listing_done());
  CHECK(lister.listed() == 0);
  CHECK(lister.errors().empty());
  // The end of listing is announced even when there was nothing to announce before.
  CHECK(notifications.count() >= 1);
}

TEST_CASE("names with spaces, newlines and non-UTF-8 bytes arrive byte-exact", "[file_lister]") {
  TempDir dir("file_lister_test");
  const std::vector<std::string> names = {"with space", std::string("new\nline"),
                                          std::string("\xff\xfe bytes"), "tab\there"};
  for (const std::string& name : names) MakeFile(dir.path() + "/" + name);
  MakeDir(dir.path() + "/\xc3\x28 folder");
  MakeFile(dir.path() + "/\xc3\x28 folder/x\ny");

  std::vector<std::string> expected = {
      dir.path() + "/new\nline", dir.path() + "/tab\there", dir.path() + "/with space",
      dir.path() + "/\xc3\x28 folder/x\ny", dir.path() + "/\xff\xfe bytes"};
  CHECK(ListAll(dir.path()) == expected);
}

TEST_CASE("symlinks to files and folders are followed", "[file_lister]") {
  TempDir dir("file_lister_test");
  const std::string root = dir.path() + "/data";
  const std::string outside = dir.path() + "/outside";
  MakeDir(root);
  MakeDir(outside);
  MakeFile(outside + "/target.txt");
  MakeDir(outside + "/folder");
  MakeFile(outside + "/folder/inner.txt");
  MakeFile(root + "/plain.txt");
  MakeSymlink("../outside/target.txt", root + "/file_link.txt");
  MakeSymlink(outside + "/folder", root + "/folder_link");
  // Not data: skipped without an error.
  REQUIRE(mkfifo((root + "/a_fifo").c_str(), 0644) == 0);

  std::vector<std::string> expected = {root + "/file_link.txt", root + "/folder_link/inner.txt",
                                       root + "/plain.txt"};
  CHECK(ListAll(root) == expected);

  SECTION("a dangling symlink is an error, and listing goes on") {
    MakeSymlink("nowhere", root + "/dangling");
    Notifications notifications;
    FileLister lister(root, {}, notifications.Callback());
    CHECK(TakeAll(lister, notifications) == expected);
    CHECK(lister.errors() ==
          std::vector<std::string>{root + "/dangling: No such file or directory"});
    CHECK(lister.error_count() == 1);
  }
}

TEST_CASE("a symlink loop is reported and the other files are listed", "[file_lister]") {
  TempDir dir("file_lister_test");
  const std::string root = dir.path() + "/data";
  MakeDir(root);
  MakeDir(root + "/a");
  MakeFile(root + "/a/f.txt");
  MakeSymlink("..", root + "/a/loop");
  MakeSymlink("self", root + "/self");
  MakeFile(root + "/g.txt");

  Notifications notifications;
  FileLister lister(root, {}, notifications.Callback());
  std::vector<std::string> items = TakeAll(lister, notifications);
  CHECK(items == std::vector<std::string>{root + "/a/f.txt", root + "/g.txt"});
  CHECK(lister.errors() ==
        std::vector<std::string>{
            root + "/a/loop: Too many levels of symbolic links (leads back to " + root + ")",
            root + "/self: Too many levels of symbolic links"});
}

TEST_CASE("an unreadable subfolder is an error, and listing goes on", "[file_lister]") {
  TempDir dir("file_lister_test");
  MakeFile(dir.path() + "/a.txt");
  MakeDir(dir.path() + "/locked");
  MakeFile(dir.path() + "/locked/secret.txt");
  MakeFile(dir.path() + "/z.txt");
  REQUIRE(chmod((dir.path() + "/locked").c_str(), 0) == 0);

  Notifications notifications;
  FileLister lister(dir.path(), {}, notifications.Callback());
  std::vector<std::string> items = TakeAll(lister, notifications);
  if (access((dir.path() + "/locked").c_str(), R_OK) == 0) {
    // Root (CAP_DAC_OVERRIDE) reads it anyway: check that instead.
    WARN("running with permission override (root?): mode 000 does not make a folder unreadable; "
         "checked that it is listed instead");
    CHECK(items == std::vector<std::string>{dir.path() + "/a.txt", dir.path() + "/locked/secret.txt",
                                            dir.path() + "/z.txt"});
    CHECK(lister.errors().empty());
  } else {
    CHECK(items == std::vector<std::string>{dir.path() + "/a.txt", dir.path() + "/z.txt"});
    CHECK(lister.errors() ==
          std::vector<std::string>{dir.path() + "/locked: Permission denied"});
  }
}

TEST_CASE("a full buffer holds the lister back until items are taken", "[file_lister]") {
  TempDir dir("file_lister_test");
  constexpr int kFiles = 5000;
  for (int i = 0; i < kFiles; ++i) MakeFile(dir.path() + "/" + Numbered(i));

  Notifications notifications;
  FileLister::Options options;
  options.max_buffered = 100;
  FileLister lister(dir.path(), options, notifications.Callback());

  REQUIRE(SpinUntil([&] { return lister.listed() >= 100; }));
  CHECK(lister.listed() == 100);
  CHECK_FALSE(lister.listing_done());

  // Take in small steps: never more than 100 pending.
  const auto deadline = Clock::now() + kDeadline;
  std::vector<std::string> items;
  for (;;) {
    uint64_t seen = notifications.count();
    size_t n = lister.Take(7, &items);
    REQUIRE(lister.listed() <= items.size() + 100);
    if (lister.finished()) break;
    if (n == 0) REQUIRE(notifications.WaitPast(seen, deadline));
  }
  REQUIRE(items.size() == kFiles);
  for (int i = 0; i < kFiles; ++i) REQUIRE(items[i] == dir.path() + "/" + Numbered(i));
  CHECK(lister.listed() == kFiles);
}

TEST_CASE("a folder larger than sort_limit is streamed, each file once", "[file_lister]") {
  TempDir dir("file_lister_test");
  std::set<std::string> expected;
  for (int i = 0; i < 100; ++i) {
    MakeFile(dir.path() + "/" + Numbered(i));
    expected.insert(dir.path() + "/" + Numbered(i));
  }
  MakeDir(dir.path() + "/sub");
  for (int i = 0; i < 30; ++i) {
    MakeFile(dir.path() + "/sub/" + Numbered(i));
    expected.insert(dir.path() + "/sub/" + Numbered(i));
  }
  // A small folder inside stays sorted.
  MakeDir(dir.path() + "/small");
  MakeFile(dir.path() + "/small/b");
  MakeFile(dir.path() + "/small/a");
  expected.insert(dir.path() + "/small/a");
  expected.insert(dir.path() + "/small/b");

  FileLister::Options options;
  options.sort_limit = 10;
  std::vector<std::string> items = ListAll(dir.path(), options);
  CHECK(items.size() == expected.size());
  CHECK(std::set<std::string>(items.begin(), items.end()) == expected);
  auto a = std::find(items.begin(), items.end(), dir.path() + "/small/a");
  REQUIRE(a != items.end());
  REQUIRE(a + 1 != items.end());
  CHECK(*(a + 1) == dir.path() + "/small/b");
  // Deterministic while the tree is unchanged.
  CHECK(ListAll(dir.path(), options) == items);
}

TEST_CASE("the helper thread's CPU time is known once listing is done, within its wall time",
          "[file_lister]") {
  TempDir dir("file_lister_test");
  for (int i = 0; i < 300; ++i) MakeFile(dir.path() + "/" + Numbered(i));
  Notifications notifications;
  auto started = Clock::now();
  FileLister lister(dir.path(), {}, notifications.Callback());
  CHECK(TakeAll(lister, notifications).size() == 300);
  double wall = std::chrono::duration<double>(Clock::now() - started).count();
  REQUIRE(lister.listing_done());
  CHECK(lister.cpu_seconds() > 0);
  CHECK(lister.cpu_seconds() <= wall);
}

TEST_CASE("the destructor returns promptly while the helper waits on a full buffer",
          "[file_lister]") {
  TempDir dir("file_lister_test");
  for (int i = 0; i < 1000; ++i) MakeFile(dir.path() + "/" + Numbered(i));

  Notifications notifications;
  FileLister::Options options;
  options.max_buffered = 10;
  auto lister = std::make_unique<FileLister>(dir.path(), options, notifications.Callback());
  REQUIRE(SpinUntil([&] { return lister->listed() >= 10; }));
  CHECK_FALSE(lister->listing_done());

  const auto start = Clock::now();
  lister.reset();
  CHECK(Clock::now() - start < std::chrono::seconds(1));
}

TEST_CASE("CheckInputPath accepts folders and files and names what is wrong otherwise",
          "[file_lister]") {
  TempDir dir("file_lister_test");
  MakeFile(dir.path() + "/file.txt");
  CHECK(CheckInputPath(dir.path()).ok());
  CHECK(CheckInputPath(dir.path() + "/file.txt").ok());

  Status missing = CheckInputPath(dir.path() + "/missing");
  CHECK(missing.code() == Status::Code::kUsage);
  CHECK(missing.message() == dir.path() + "/missing: No such file or directory");

  Status under_file = CheckInputPath(dir.path() + "/file.txt/x");
  CHECK(under_file.message() == dir.path() + "/file.txt/x: Not a directory");

  REQUIRE(mkfifo((dir.path() + "/fifo").c_str(), 0644) == 0);
  Status fifo = CheckInputPath(dir.path() + "/fifo");
  CHECK(fifo.code() == Status::Code::kUsage);
  CHECK(fifo.message() == dir.path() + "/fifo: Not a folder or regular file (fifo)");

  Status device = CheckInputPath("/dev/null");
  CHECK(device.code() == Status::Code::kUsage);
  CHECK(device.message() == "/dev/null: Not a folder or regular file (character device)");

  MakeSymlink("nowhere", dir.path() + "/dangling");
  CHECK(CheckInputPath(dir.path() + "/dangling").message() ==
        dir.path() + "/dangling: No such file or directory");

  CHECK(CheckInputPath("").code() == Status::Code::kUsage);
}

}  // namespace
}  // namespace parallelrun

namespace parallelrun {
namespace {

TEST_CASE("excluded folders are left out, by device and inode", "[file_lister]") {
  TempDir dir("file_lister_test");
  const std::string root = dir.path() + "/data";
  MakeDir(root);
  MakeFile(root + "/a.txt");
  MakeDir(root + "/job");
  MakeDir(root + "/job/logs");
  MakeFile(root + "/job/logs/readme.txt");
  MakeDir(root + "/out");
  MakeFile(root + "/out/result.txt");
  MakeDir(root + "/sub");
  MakeFile(root + "/sub/b.txt");
  // Another way to the output: a symlink is the same folder.
  MakeSymlink(root + "/out", root + "/sub/out-link");

  FileLister::Options options;
  // Spelled differently from the listing's paths; a folder that does not
  // exist is ignored.
  options.exclude = {root + "/./job", dir.path() + "/data/sub/../out", root + "/nope"};
  Notifications notifications;
  FileLister lister(root, options, notifications.Callback());
  std::vector<std::string> items = TakeAll(lister, notifications);
  CHECK(items == std::vector<std::string>{root + "/a.txt", root + "/sub/b.txt"});
  CHECK(lister.errors().empty());
  CHECK(lister.excluded() ==
        std::vector<std::string>{root + "/job", root + "/out", root + "/sub/out-link"});

  // Without exclusions everything is listed and nothing is reported.
  Notifications again;
  FileLister all(root, FileLister::Options{}, again.Callback());
  CHECK(TakeAll(all, again).size() == 5);
  CHECK(all.excluded().empty());
}

}  // namespace
}  // namespace parallelrun
