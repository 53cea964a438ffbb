// UserOutput: where the entry script's own output went. A worker's prints go
// to logs/user/stdout/<node>/processNNN.stdout.txt and its stderr to
// logs/user/stderr/<node>/processNNN.stderr.txt, never to the terminal
// (DESIGN.md §4); at the end of a run one line per stream names the files
// that are not empty, so that a person knows where to look.
#ifndef PARALLELRUN_REPORT_USER_OUTPUT_H_
#define PARALLELRUN_REPORT_USER_OUTPUT_H_

#include <string>
#include <vector>

namespace parallelrun {

// For a job's `logs_dir`: "the entry script printed to stdout: see <file>"
// (or "see <folder>/ (N files: …)" when several workers printed), the same
// for stderr; no line for a stream nothing was written to. Blocking (walks
// two small folders): call it when the job is over.
std::vector<std::string> UserOutputNotes(const std::string& logs_dir);

}  // namespace parallelrun

#endif  // PARALLELRUN_REPORT_USER_OUTPUT_H_
