// For fuzz targets whose decoder reads a file: the input written to one
// scratch file per process (in $TMPDIR, removed at exit), overwritten for
// every input.
#ifndef PARALLELRUN_FUZZ_FUZZ_FILE_H_
#define PARALLELRUN_FUZZ_FUZZ_FILE_H_

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace parallelrun {

inline const std::string& FuzzFilePath() {
  static const std::string path = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string p = std::string(tmp && *tmp ? tmp : "/tmp") + "/parallelrun-fuzz-" +
                    std::to_string(getpid()) + ".dat";
    std::atexit([] { unlink(FuzzFilePath().c_str()); });
    return p;
  }();
  return path;
}

// Writes `bytes` as the scratch file; returns its path. Aborts when it
// cannot (the fuzzer would test nothing).
inline std::string WriteFuzzFile(const std::string& bytes) {
  const std::string& path = FuzzFilePath();
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = write(fd, bytes.data() + done, bytes.size() - done);
    if (w <= 0) std::abort();
    done += static_cast<size_t>(w);
  }
  close(fd);
  return path;
}

}  // namespace parallelrun

#endif  // PARALLELRUN_FUZZ_FUZZ_FILE_H_
