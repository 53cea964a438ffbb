#include "report/user_output.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace parallelrun {

namespace fs = std::filesystem;

namespace {

constexpr size_t kNamesShown = 3;

// The non-empty files under `dir` (one folder per node), sorted.
std::vector<fs::path> NonEmptyFiles(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec) && it->file_size(size_ec) > 0 && !size_ec) {
      found.push_back(it->path());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

std::vector<std::string> UserOutputNotes(const std::string& logs_dir) {
  std::vector<std::string> notes;
  for (const char* stream : {"stdout", "stderr"}) {
    fs::path dir = fs::path(logs_dir) / "user" / stream;
    std::vector<fs::path> files = NonEmptyFiles(dir);
    if (files.empty()) continue;
    std::string where;
    if (files.size() == 1) {
      where = files[0].string();
    } else {
      // One node's folder when they all are in it, else the stream's folder.
      fs::path common = files[0].parent_path();
      for (const auto& f : files) {
        if (f.parent_path() != common) common = dir;
      }
      std::string names;
      for (size_t i = 0; i < files.size() && i < kNamesShown; i++) {
        names += (i ? ", " : "") + fs::relative(files[i], common).string();
      }
      if (files.size() > kNamesShown) names += ", …";
      where = fmt::format("{}/ ({} files: {})", common.string(), files.size(), names);
    }
    notes.push_back(fmt::format("the entry script printed to {}: see {}", stream, where));
  }
  return notes;
}

}  // namespace parallelrun
