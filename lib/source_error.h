// SourceError: the one shape of an error that points into a file a person
// wrote (a spec, an MLTable file, an entry script):
//
//   <file>:<line>:<col>: <message>
//     <the line>
//     <spaces and tabs>^
#ifndef PARALLELRUN_SOURCE_ERROR_H_
#define PARALLELRUN_SOURCE_ERROR_H_

#include <string>

#include "parallelrun/status.h"

namespace parallelrun {

// `line` and `column` are 1-based; `column` counts bytes. The caret keeps the
// line's tabs and counts a UTF-8 character as one column, so it sits under
// the right character in a terminal. Returns Status::Usage.
Status SourceError(const std::string& file, int line, int column, const std::string& source_line,
                   const std::string& message);

}  // namespace parallelrun

#endif  // PARALLELRUN_SOURCE_ERROR_H_
