#include "data/table_format.h"

#include "base/text.h"

namespace parallelrun {

const char* TableFormatName(TableFormat f) {
  switch (f) {
    case TableFormat::kDelimited: return "delimited";
    case TableFormat::kJsonLines: return "json_lines";
    case TableFormat::kParquet: return "parquet";
    case TableFormat::kPickle: return "pickle";
  }
  return "?";
}

const char* HeaderModeName(HeaderMode h) {
  switch (h) {
    case HeaderMode::kAllFilesSameHeaders: return "all_files_same_headers";
    case HeaderMode::kFromFirstFile: return "from_first_file";
    case HeaderMode::kNoHeader: return "no_header";
    case HeaderMode::kAllFilesDifferentHeaders: return "all_files_different_headers";
  }
  return "?";
}

std::optional<HeaderMode> ParseHeaderMode(const std::string& text) {
  for (HeaderMode h : {HeaderMode::kAllFilesSameHeaders, HeaderMode::kFromFirstFile,
                       HeaderMode::kNoHeader, HeaderMode::kAllFilesDifferentHeaders}) {
    if (text == HeaderModeName(h)) return h;
  }
  return std::nullopt;
}

std::optional<TableReadOptions> OptionsForExtension(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string name = AsciiLower(slash == std::string::npos ? path : path.substr(slash + 1));
  size_t dot = name.rfind('.');
  if (dot == std::string::npos || dot == 0) return std::nullopt;
  std::string ext = name.substr(dot + 1);
  TableReadOptions o;
  if (ext == "csv") return o;
  if (ext == "tsv" || ext == "tab") {
    o.delimiter = "\t";
    return o;
  }
  if (ext == "jsonl" || ext == "ndjson" || ext == "json") {
    o.format = TableFormat::kJsonLines;
    return o;
  }
  if (ext == "parquet" || ext == "parq" || ext == "pq") {
    o.format = TableFormat::kParquet;
    return o;
  }
  return std::nullopt;
}

}  // namespace parallelrun
