// How the files of a tabular input are read: their format (delimited, JSON
// Lines, Parquet, a shuffle's pickles), header mode and the other options of
// an MLTable's read_* transformation (reference §3.2).
#ifndef PARALLELRUN_DATA_TABLE_FORMAT_H_
#define PARALLELRUN_DATA_TABLE_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>

namespace parallelrun {

enum class TableFormat : uint8_t {
  kDelimited = 0,
  kJsonLines = 1,
  kParquet = 2,
  // A spill file of a column-partition shuffle (partitions.h): pickled
  // DataFrames written by worker_tabular.spill_partitions; always whole_file.
  kPickle = 3,
};

// MLTable read_delimited `header` (reference §3.2).
enum class HeaderMode : uint8_t {
  kAllFilesSameHeaders = 0,       // every file starts with a header line (the default)
  kFromFirstFile = 1,             // only the first file does; the rest use its names
  kNoHeader = 2,                  // none does: the worker names columns Column1, Column2, …
  kAllFilesDifferentHeaders = 3,  // every file has its own header
};

const char* TableFormatName(TableFormat f);  // "delimited", "json_lines", "parquet", "pickle"
const char* HeaderModeName(HeaderMode h);    // the MLTable spelling
std::optional<HeaderMode> ParseHeaderMode(const std::string& text);

// How the files of a tabular input are read: from an MLTable's read_*
// transformation, or (plain files and folders) from each file's extension.
struct TableReadOptions {
  TableFormat format = TableFormat::kDelimited;
  std::string delimiter = ",";
  HeaderMode header = HeaderMode::kAllFilesSameHeaders;
  // MLTable spelling: utf8, iso88591, latin1, ascii, utf16, utf32, utf8bom,
  // windows1252 (Python codec names are accepted too).
  std::string encoding = "utf8";
  bool include_path_column = false;  // add a column holding the file's path
  std::string path_column = "Path";  // its name
  bool empty_as_string = false;      // keep empty fields as "" rather than NaN
  bool support_multi_line = false;   // accepted; splitting is quote-aware regardless
  std::string invalid_lines = "error";  // JSON Lines: error | drop
  // What the worker does to each mini-batch's rows after reading them, as the
  // mltable library would (plan/mltable.h writes it, worker_tabular.py
  // apply_transforms reads it): JSON {"infer": bool, "steps": [...]}.
  // "" for a plain file or folder: pandas' own reading, nothing more.
  std::string transforms;
};

// Options for a file of a plain folder, by its extension: .csv → ",",
// .tsv/.tab → "\t", .jsonl/.ndjson/.json → JSON Lines, .parquet/.parq/.pq →
// Parquet. nullopt for any other extension (such files are skipped in a
// folder; a single file given directly is read as CSV).
std::optional<TableReadOptions> OptionsForExtension(const std::string& path);

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_TABLE_FORMAT_H_
