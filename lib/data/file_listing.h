// FileListing: the files of an input, listed by FileLister or TablePathLister,
// with their errors; and how the InputSources (input_source.h) name an input
// and time themselves. Internal to data/.
#ifndef PARALLELRUN_DATA_FILE_LISTING_H_
#define PARALLELRUN_DATA_FILE_LISTING_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/clock.h"
#include "data/batcher.h"
#include "data/file_lister.h"
#include "data/input_source.h"
#include "data/table_paths.h"

namespace parallelrun {

using SteadyClock = std::chrono::steady_clock;  // SecondsSince: base/clock.h

// "input <name> (<path>)", how messages name an input.
std::string Describe(const InputPlan& plan);

// "input data (/d): left out /d/out, which this job writes (its job dir or an
// output): …", or "" when `excluded` is empty. `input` is Describe(plan).
std::string ExcludedWarning(const std::string& input, const std::vector<std::string>& excluded);

// The files of a folder or of a file-list MLTable's (or a table's) paths, with
// their errors.
class FileListing {
 public:
  FileListing(const InputPlan& plan, std::function<void()> notify);
  ~FileListing();
  ItemSource& items() { return *items_; }
  uint64_t listed() const;
  // "Listed N files of <input> in T seconds", with " (the lister's CPU: C s)"
  // when a folder was walked: the line the master logs when listing ends.
  std::string ListedLine(SteadyClock::time_point started) const;
  void AddErrors(InputSource::End* end) const;
  // The warning that folders of plan.exclude were left out, if any were met.
  void AddExcluded(InputSource::End* end) const;

 private:
  const std::string described_;  // Describe(plan)
  std::unique_ptr<FileLister> lister_;
  std::unique_ptr<TablePathLister> path_lister_;
  std::unique_ptr<ItemSource> items_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_FILE_LISTING_H_
