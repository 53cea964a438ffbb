// ReadAll and PreadAll: whole reads up to the end of the file, short reads
// joined, errors as -1 with errno.
#include "base/disk.h"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <string>
#include <thread>

namespace parallelrun {
namespace {

// An unnamed temporary file holding `data`, its position at the start.
UniqueFd TempFileWith(const std::string& data) {
  char path[] = "/tmp/disk_test_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  unlink(path);
  REQUIRE(WriteAll(fd, data.data(), data.size()));
  REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
  return UniqueFd(fd);
}

TEST_CASE("ReadAll: reads n bytes, fewer only at the end of the file", "[disk]") {
  UniqueFd fd = TempFileWith("0123456789");
  char buf[16];
  REQUIRE(ReadAll(fd.get(), buf, 4) == 4);
  CHECK(std::string(buf, 4) == "0123");
  REQUIRE(ReadAll(fd.get(), buf, sizeof buf) == 6);
  CHECK(std::string(buf, 6) == "456789");
  CHECK(ReadAll(fd.get(), buf, sizeof buf) == 0);
  CHECK(ReadAll(fd.get(), buf, 0) == 0);
}

TEST_CASE("ReadAll: joins the short reads of a pipe", "[disk]") {
  int p[2];
  REQUIRE(pipe(p) == 0);
  UniqueFd in(p[0]), out(p[1]);
  // Three writes: a read() of the pipe may return any one piece alone.
  std::thread writer([&] {
    for (const char* piece : {"ab", "cde", "f"}) {
      WriteAll(out.get(), piece, std::char_traits<char>::length(piece));
      std::this_thread::yield();
    }
    out.Close();
  });
  char buf[16];
  ssize_t n = ReadAll(in.get(), buf, sizeof buf);
  writer.join();
  REQUIRE(n == 6);
  CHECK(std::string(buf, 6) == "abcdef");
}

TEST_CASE("ReadAll, PreadAll: -1 with errno on a bad descriptor", "[disk]") {
  char buf[4];
  errno = 0;
  CHECK(ReadAll(-1, buf, sizeof buf) == -1);
  CHECK(errno == EBADF);
  errno = 0;
  CHECK(PreadAll(-1, buf, sizeof buf, 0) == -1);
  CHECK(errno == EBADF);
}

TEST_CASE("PreadAll: reads at an offset and leaves the position alone", "[disk]") {
  UniqueFd fd = TempFileWith("0123456789");
  char buf[16];
  REQUIRE(PreadAll(fd.get(), buf, 3, 7) == 3);
  CHECK(std::string(buf, 3) == "789");
  REQUIRE(PreadAll(fd.get(), buf, sizeof buf, 8) == 2);
  CHECK(std::string(buf, 2) == "89");
  CHECK(PreadAll(fd.get(), buf, sizeof buf, 10) == 0);
  CHECK(PreadAll(fd.get(), buf, sizeof buf, 100) == 0);
  CHECK(lseek(fd.get(), 0, SEEK_CUR) == 0);
  REQUIRE(ReadAll(fd.get(), buf, 2) == 2);
  CHECK(std::string(buf, 2) == "01");
}

}  // namespace
}  // namespace parallelrun
