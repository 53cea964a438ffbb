#include "data/table_rows.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

namespace parallelrun {
namespace {

bool Blank(const std::string& text, size_t begin, size_t end) {
  for (size_t i = begin; i < end; i++) {
    if (!std::isspace(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

// Lines with something other than white space, split at "\n", "\r\n", "\r".
uint64_t CountNonBlankLines(const std::string& text) {
  uint64_t n = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); i++) {
    if (i == text.size() || text[i] == '\n' || text[i] == '\r') {
      if (!Blank(text, start, i)) n++;
      start = i + 1;
    }
  }
  return n;
}

}  // namespace

// The same state machine as worker_tabular.py _count_delimited, so that the
// batcher and a worker that could not parse a range agree on its rows.
uint64_t CountDelimitedRecords(const std::string& text, char delimiter) {
  if (text.find('"') == std::string::npos) return CountNonBlankLines(text);
  uint64_t records = 0;
  bool content = false, at_start = true, quoted = false, after_quote = false;
  for (size_t i = 0; i < text.size(); i++) {
    char c = text[i];
    if (c == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') continue;  // "\r\n": the "\n" ends it
      c = '\n';
    }
    if (quoted) {
      if (c == '"') {
        quoted = false;
        after_quote = true;
      }
      continue;
    }
    if (after_quote && c == '"') {  // "" inside a quoted field
      quoted = true;
      after_quote = false;
      continue;
    }
    after_quote = false;
    if (c == '\n') {
      records += content ? 1 : 0;
      content = false;
      at_start = true;
    } else if (c == delimiter) {
      content = true;
      at_start = true;
    } else if (c == '"' && at_start) {
      quoted = true;
      content = true;
      at_start = false;
    } else {
      content = true;
      at_start = false;
    }
  }
  if (quoted) return CountNonBlankLines(text);  // a broken quote: as the worker counts
  return records + (content ? 1 : 0);
}

Result<uint64_t> CountRangeRows(const TableRange& range) {
  if (range.options.format == TableFormat::kParquet && !range.whole_file) return range.known_rows();
  auto refuse = [&](const std::string& why) {
    return Status::Usage(range.path + ": the MLTable's skip/take cannot count this file's rows "
                         "before reading it (" + why + ")");
  };
  if (range.whole_file) return refuse("a file in a UTF-16 or UTF-32 encoding is read whole");
  if (range.options.format == TableFormat::kJsonLines && range.options.invalid_lines == "drop") {
    return refuse("invalid_lines: drop leaves out lines only a JSON parser finds");
  }
  if (range.options.format != TableFormat::kDelimited &&
      range.options.format != TableFormat::kJsonLines) {
    return refuse("not a delimited or JSON Lines file");
  }
  std::ifstream in(range.path, std::ios::binary);
  std::string text(range.length, '\0');
  if (!in || !in.seekg(static_cast<std::streamoff>(range.offset)) ||
      !in.read(text.data(), static_cast<std::streamsize>(range.length))) {
    return Status::Usage(range.path + ": " + std::strerror(errno ? errno : EIO));
  }
  if (range.offset == 0 && text.compare(0, 3, "\xef\xbb\xbf") == 0) text.erase(0, 3);
  if (range.options.format == TableFormat::kJsonLines) return CountNonBlankLines(text);
  const std::string& d = range.options.delimiter;
  return CountDelimitedRecords(text, d.empty() ? ',' : d.back());
}

}  // namespace parallelrun
