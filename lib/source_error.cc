#include "source_error.h"

namespace parallelrun {

Status SourceError(const std::string& file, int line, int column, const std::string& source_line,
                   const std::string& message) {
  std::string caret;
  for (int i = 0; i + 1 < column; ++i) {
    unsigned char c = i < static_cast<int>(source_line.size()) ? source_line[i] : ' ';
    if (c == '\t') {
      caret += '\t';
    } else if ((c & 0xC0) != 0x80) {
      caret += ' ';
    }
  }
  return Status::Usage(file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " +
                       message + "\n  " + source_line + "\n  " + caret + "^");
}

}  // namespace parallelrun
