#include "plan/folder_keys.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>

#include <fmt/format.h>

#include "base/text.h"

namespace parallelrun {

namespace {

// Folders read at most while looking for an example: a tree of empty or
// shallow folders should not make the plan walk a whole dataset.
constexpr int kMaxFoldersRead = 256;

struct Walk {
  size_t want_depth = 0;
  int folders_read = 0;
  // The first file at least want_depth folder levels deep, relative to the
  // root, as its components.
  std::vector<std::string> found;
};

// Depth-first in byte order, as FileLister lists. Returns true once found.
bool FindExample(const std::string& folder, std::vector<std::string>* parts, Walk* walk) {
  if (walk->folders_read++ >= kMaxFoldersRead) return false;
  DIR* dir = opendir(folder.c_str());
  if (dir == nullptr) return false;
  std::vector<std::string> names;
  while (struct dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    std::string path = folder + "/" + name;
    struct stat st;
    if (stat(path.c_str(), &st) != 0) continue;
    parts->push_back(name);
    if (S_ISDIR(st.st_mode)) {
      if (FindExample(path, parts, walk)) return true;
      if (walk->folders_read >= kMaxFoldersRead) return false;
    } else if (S_ISREG(st.st_mode) && parts->size() > walk->want_depth) {
      walk->found = *parts;
      return true;
    }
    parts->pop_back();
  }
  return false;
}

}  // namespace

Status CheckFolderLevelKeys(const std::string& input_name, const std::string& root,
                            const std::vector<std::string>& keys, std::string* warning) {
  warning->clear();
  struct stat st;
  if (keys.empty() || stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return Status::Ok();
  Walk walk;
  walk.want_depth = keys.size();
  std::vector<std::string> parts;
  if (!FindExample(root, &parts, &walk)) return Status::Ok();
  const std::vector<std::string>& f = walk.found;
  std::string example;
  for (const auto& p : f) example += (example.empty() ? "" : "/") + Printable(p);
  size_t levels = f.size() - 1;
  std::string how =
      "name the folders key=value (e.g. " + keys[0] +
      "=…), or bind the input as an mltable whose MLTable file has "
      "extract_columns_from_partition_format (e.g. '{" + keys[0] + "}/…')";
  if (levels > keys.size()) {
    return Status::Usage(fmt::format(
        "input {}: partition_keys [{}] are read from folder levels, but its files lie deeper than "
        "that ({} folder levels in {}, for {} key{}): which levels hold the keys would be a "
        "guess; {}",
        input_name, fmt::join(keys, ", "), levels, example, keys.size(),
        keys.size() == 1 ? "" : "s", how));
  }
  bool hive = true;
  for (size_t k = 0; k < keys.size(); k++) {
    if (f[k].compare(0, keys[k].size() + 1, keys[k] + "=") != 0) hive = false;
  }
  if (hive) return Status::Ok();
  std::string mapping;
  for (size_t k = 0; k < keys.size(); k++) {
    mapping += fmt::format("{}{} = folder level {} ('{}')", k ? ", " : "", keys[k], k + 1,
                           Printable(f[k]));
  }
  *warning = fmt::format(
      "warning: input {} has no partition format: partition_keys are read from folder levels "
      "by position: {}, e.g. {}; if that is not meant, {}",
      input_name, mapping, example, how);
  return Status::Ok();
}

}  // namespace parallelrun
