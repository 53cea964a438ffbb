#include "data/skipped_files.h"

#include <fmt/format.h>

#include "base/text.h"

namespace parallelrun {

void SkippedFiles::Add(const std::string& root_in, const std::string& path) {
  count++;
  if (examples.size() >= kExamples) return;
  std::string root = root_in;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
      path[root.size()] == '/') {
    examples.push_back(path.substr(root.size() + 1));
  } else {
    examples.push_back(path);
  }
}

std::string SkippedFiles::Warning(const std::string& input, const std::string& why_one,
                                  const std::string& why) const {
  if (count == 0) return "";
  std::string list;
  for (const auto& e : examples) list += (list.empty() ? "" : ", ") + Printable(e);
  if (count > examples.size()) list += ", …";
  return fmt::format("{}: skipped {} file{} {}: {}", input, count, count == 1 ? "" : "s",
                     count == 1 ? why_one : why, list);
}

}  // namespace parallelrun
