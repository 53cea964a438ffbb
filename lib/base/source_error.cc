#include "base/source_error.h"

#include <utility>

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

SourceText::SourceText(std::string file, const std::string& text) : file_(std::move(file)) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines_.push_back(std::move(line));
    start = end + 1;
  }
}

Status SourceText::ErrorAt(int line, int column, const std::string& message) const {
  if (line < 0 || column < 0) line = column = 0;
  std::string source = line < static_cast<int>(lines_.size()) ? lines_[line] : "";
  return SourceError(file_, line + 1, column + 1, source, message);
}

}  // namespace parallelrun
