// The files of a tabular or file-list input: MLTable `paths` entries (files,
// folders, glob patterns) listed one after another (TablePathLister).
#ifndef PARALLELRUN_DATA_TABLE_PATHS_H_
#define PARALLELRUN_DATA_TABLE_PATHS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "data/batcher.h"
#include "data/file_lister.h"

namespace parallelrun {

// Where a tabular input's files are: MLTable `paths` entries, or one plain
// file or folder.
struct TablePath {
  enum class Kind { kFile, kFolder, kPattern } kind = Kind::kFolder;
  std::string value;  // absolute path, or an absolute glob pattern
};

// Matches a glob `pattern` against `path` (both '/'-separated): `*` any
// characters but '/', `?` one character but '/', `[abc]`, `[a-z]`, `[!a]`
// one of / none of; `**` any characters including '/', and `**/` also
// matches no folder at all ("a/**/*.csv" matches "a/x.csv").
bool GlobMatch(std::string_view pattern, std::string_view path);

// Lists the files of a list of TablePaths one after another, each with a
// FileLister (so the order within a folder is FileLister's), keeping only
// the files a pattern matches. A pattern is listed from its longest leading
// folder without wildcards. Usable as the item source of a file-list MLTable
// input, and by TableSource.
class TablePathLister : public ItemSource {
 public:
  // `notify`: as for FileLister (called on a helper thread when items
  // become available or a listing ends). `exclude`: folders not to list
  // (FileLister::Options::exclude).
  TablePathLister(std::vector<TablePath> paths, std::function<void()> notify,
                  std::vector<std::string> exclude = {});
  ~TablePathLister() override;

  size_t Take(size_t max, std::vector<std::string>* out) override;
  bool finished() const override;
  // Problems met so far ("path: detail"), including a `file:` that does not
  // exist and a pattern that matched nothing.
  const std::vector<std::string>& errors() const { return errors_; }
  // Folders of `exclude` met so far (FileLister::excluded()).
  const std::vector<std::string>& excluded() const { return excluded_; }

 private:
  bool StartNext();

  std::vector<TablePath> paths_;
  std::function<void()> notify_;
  std::vector<std::string> exclude_;
  size_t next_ = 0;
  std::unique_ptr<FileLister> lister_;
  const TablePath* current_ = nullptr;
  uint64_t current_matches_ = 0;
  std::vector<std::string> scratch_;
  std::vector<std::string> errors_;
  std::vector<std::string> excluded_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_TABLE_PATHS_H_
