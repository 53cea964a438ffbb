// SourceError: the one shape of an error that points into a file a person
// wrote (a spec, an MLTable file, an entry script):
//
//   <file>:<line>:<col>: <message>
//     <the line>
//     <spaces and tabs>^
#ifndef PARALLELRUN_BASE_SOURCE_ERROR_H_
#define PARALLELRUN_BASE_SOURCE_ERROR_H_

#include <string>
#include <vector>

#include "parallelrun/status.h"

namespace parallelrun {

// `line` and `column` are 1-based; `column` counts bytes. The caret keeps the
// line's tabs and counts a UTF-8 character as one column, so it sits under
// the right character in a terminal. Returns Status::Usage.
Status SourceError(const std::string& file, int line, int column, const std::string& source_line,
                   const std::string& message);

// A file's text kept by line, so that a parser can point into it.
class SourceText {
 public:
  SourceText(std::string file, const std::string& text);
  // `line` and `column` are 0-based, as yaml-cpp's Mark counts them; a
  // negative one (a null Mark) points at the start.
  Status ErrorAt(int line, int column, const std::string& message) const;
  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::vector<std::string> lines_;  // without their line ends (\n or \r\n)
};

}  // namespace parallelrun

#endif  // PARALLELRUN_BASE_SOURCE_ERROR_H_
