// partition_keys on a plain folder (no partition format): the keys are read
// from folder levels by position — key 1 from the first folder below the
// input, key 2 from the second, … (PartitionFormat::FolderLevels). Nothing
// in the data says which folder holds which key, so the mapping is checked
// on the first file the job would list, before the job starts:
//  - folders named `key=value` (Hive, as Spark writes them) for every key:
//    the names say it; nothing to add;
//  - the file lies exactly as many folder levels deep as there are keys:
//    the only mapping that uses every level; it goes ahead with a warning
//    that shows it (key → level, with the example path), so that a key that
//    is really in the file name ("{user}/{season}/{genres}.wav" with keys
//    user, genres) is seen at once rather than found in the results;
//  - the file lies deeper: which levels are the keys is a guess, so it is an
//    error that says how to name them (Hive folders, or an MLTable with
//    extract_columns_from_partition_format).
// Files shallower than the keys are skipped by the job (and counted), as a
// README.md beside the data must not fail it; they are passed over here too.
#ifndef PARALLELRUN_PLAN_FOLDER_KEYS_H_
#define PARALLELRUN_PLAN_FOLDER_KEYS_H_

#include <string>
#include <vector>

#include "parallelrun/status.h"

namespace parallelrun {

// Checks partition `keys` read by position from the folder levels of input
// `input_name` rooted at folder `root`, walking depth-first in the job's
// order (names in byte order) to the first file at least keys.size() folder
// levels deep (reading at most a few hundred folders). On Ok, `*warning` is
// the line that shows the mapping, or "" (Hive folders, no such file, or
// `root` is not a folder). Errors are Status::Usage naming the input, the
// keys and the example file.
Status CheckFolderLevelKeys(const std::string& input_name, const std::string& root,
                            const std::vector<std::string>& keys, std::string* warning);

}  // namespace parallelrun

#endif  // PARALLELRUN_PLAN_FOLDER_KEYS_H_
