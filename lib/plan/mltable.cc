#include "plan/mltable.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "base/source_error.h"
#include "base/spelling.h"

namespace parallelrun {
namespace {

namespace fs = std::filesystem;
using Names = std::vector<std::string>;

const Names kTopKeys = {"$schema", "type", "paths", "transformations", "traits", "metadata"};
const Names kReadDelimited = {"delimiter",       "header",          "encoding",
                              "include_path_column", "path_column", "empty_as_string",
                              "support_multi_line",  "infer_column_types"};
const Names kReadJsonLines = {"encoding", "include_path_column", "path_column", "invalid_lines"};
const Names kReadParquet = {"include_path_column", "path_column"};
const Names kExtract = {"partition_format", "path_column", "ignore_error"};
const Names kSupported = {"read_delimited", "read_json_lines", "read_parquet",
                          "extract_columns_from_partition_format"};
const Names kKnownUnsupported = {"read_delta_lake", "take", "take_random_sample", "drop_columns",
                                 "keep_columns", "convert_column_types", "skip", "filter",
                                 "select_partitions", "read_json"};
const Names kEncodings = {"utf8", "iso88591", "latin1", "ascii", "utf16", "utf32", "utf8bom",
                          "windows1252"};
const Names kHeaders = {"all_files_same_headers", "from_first_file", "no_header",
                        "all_files_different_headers"};

std::string Join(const Names& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool Contains(const Names& names, const std::string& n) {
  return std::find(names.begin(), names.end(), n) != names.end();
}

std::string Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "empty";
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "undefined";
  }
}

class MLTableParser {
 public:
  MLTableParser(const std::string& text, const std::string& file) : source_(file, text) {
    table_.file = file;
    table_.folder = fs::path(file).parent_path().lexically_normal().string();
    if (table_.folder.size() > 1 && table_.folder.back() == '/') table_.folder.pop_back();
    text_ = text;
  }

  Result<MLTable> Parse() {
    try {
      Status s = ParseDocument();
      if (!s.ok()) return s;
      return std::move(table_);
    } catch (const YAML::Exception& e) {
      return ErrorAt(e.mark, "invalid YAML: " + e.msg);
    }
  }

 private:
  Status ErrorAt(const YAML::Mark& mark, const std::string& message) const {
    return mark.is_null() ? source_.ErrorAt(0, 0, message)
                          : source_.ErrorAt(mark.line, mark.column, message);
  }

  // The value's mark, or the key's when the value is empty (yaml-cpp marks
  // an empty value on the next line).
  YAML::Mark MarkOf(const YAML::Node& key, const YAML::Node& value) const {
    return value.IsNull() || !value.IsDefined() ? key.Mark() : value.Mark();
  }

  // Checks a mapping's keys: known, not repeated. `what` names the mapping.
  Status CheckKeys(const YAML::Node& map, const Names& allowed, const std::string& what) const {
    std::set<std::string> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      const YAML::Node key = it->first;
      if (!key.IsScalar()) return ErrorAt(key.Mark(), "keys in " + what + " must be names");
      const std::string name = key.Scalar();
      if (!Contains(allowed, name)) {
        std::string suggestion = ClosestName(name, allowed);
        return ErrorAt(key.Mark(), "unknown key '" + name + "' in " + what +
                                       (suggestion.empty() ? "; allowed keys: " + Join(allowed)
                                                           : "; did you mean '" + suggestion + "'?"));
      }
      if (!seen.insert(name).second) {
        return ErrorAt(key.Mark(), "duplicate key '" + name + "' in " + what);
      }
    }
    return Status::Ok();
  }

  Status ReadBool(const YAML::Node& key, const YAML::Node& value, const std::string& what,
                  bool* out) const {
    if (value.IsScalar()) {
      std::string v = value.Scalar();
      std::transform(v.begin(), v.end(), v.begin(), ::tolower);
      if (v == "true" || v == "yes" || v == "on") {
        *out = true;
        return Status::Ok();
      }
      if (v == "false" || v == "no" || v == "off") {
        *out = false;
        return Status::Ok();
      }
    }
    return ErrorAt(MarkOf(key, value), what + " must be true or false, not " + Describe(value));
  }

  Status ReadString(const YAML::Node& key, const YAML::Node& value, const std::string& what,
                    std::string* out) const {
    if (!value.IsScalar()) {
      return ErrorAt(MarkOf(key, value), what + " must be a string, not " + Describe(value));
    }
    *out = value.Scalar();
    return Status::Ok();
  }

  Status ReadChoice(const YAML::Node& key, const YAML::Node& value, const std::string& what,
                    const Names& allowed, std::string* out) const {
    Status s = ReadString(key, value, what, out);
    if (!s.ok()) return s;
    if (Contains(allowed, *out)) return Status::Ok();
    std::string suggestion = ClosestName(*out, allowed);
    return ErrorAt(MarkOf(key, value),
                   what + ": unknown value '" + *out + "'" +
                       (suggestion.empty() ? "; allowed values: " + Join(allowed)
                                           : "; did you mean '" + suggestion + "'?"));
  }

  Status ParseDocument() {
    std::vector<YAML::Node> docs = YAML::LoadAll(text_);
    if (docs.empty() || docs[0].IsNull()) {
      return ErrorAt(YAML::Mark(), "the MLTable file is empty; expected a mapping with 'paths:'");
    }
    if (docs.size() > 1) return ErrorAt(docs[1].Mark(), "the MLTable file holds more than one YAML document");
    const YAML::Node& root = docs[0];
    if (!root.IsMap()) {
      return ErrorAt(root.Mark(), "an MLTable file must be a mapping of keys to values, not " +
                                      Describe(root));
    }
    Status s = CheckKeys(root, kTopKeys, "the MLTable file");
    if (!s.ok()) return s;
    YAML::Node paths_key, paths, transforms_key, transforms;
    bool have_paths = false;
    for (auto it = root.begin(); it != root.end(); ++it) {
      const std::string name = it->first.Scalar();
      if (name == "type") {
        if (!it->second.IsScalar() || it->second.Scalar() != "mltable") {
          return ErrorAt(MarkOf(it->first, it->second),
                         "type must be 'mltable', not " + Describe(it->second));
        }
      } else if (name == "paths") {
        paths_key = it->first;
        paths = it->second;
        have_paths = true;
      } else if (name == "transformations") {
        transforms_key = it->first;
        transforms = it->second;
      }
    }
    if (!have_paths) return ErrorAt(root.Mark(), "missing required key 'paths' in the MLTable file");
    s = ParsePaths(paths_key, paths);
    if (!s.ok()) return s;
    if (transforms.IsDefined() && !transforms.IsNull()) {
      s = ParseTransformations(transforms_key, transforms);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  Status ParsePaths(const YAML::Node& key, const YAML::Node& paths) {
    if (!paths.IsSequence() || paths.size() == 0) {
      return ErrorAt(MarkOf(key, paths), "paths must be a list of {file: …}, {folder: …} or "
                                         "{pattern: …}, not " + Describe(paths));
    }
    for (const YAML::Node& item : paths) {
      if (!item.IsMap() || item.size() != 1) {
        return ErrorAt(item.Mark(), "each entry of paths must be one of {file: …}, {folder: …}, "
                                    "{pattern: …}, not " + Describe(item));
      }
      Status s = CheckKeys(item, {"file", "folder", "pattern"}, "a paths entry");
      if (!s.ok()) return s;
      auto it = item.begin();
      const std::string kind = it->first.Scalar();
      std::string value;
      s = ReadString(it->first, it->second, kind, &value);
      if (!s.ok()) return s;
      Result<std::string> resolved = Resolve(value, MarkOf(it->first, it->second));
      if (!resolved.ok()) return resolved.status();
      TablePath p;
      p.kind = kind == "file" ? TablePath::Kind::kFile
               : kind == "folder" ? TablePath::Kind::kFolder
                                  : TablePath::Kind::kPattern;
      p.value = *resolved;
      table_.paths.push_back(std::move(p));
    }
    return Status::Ok();
  }

  // A path of the MLTable file as an absolute, normalized local path.
  Result<std::string> Resolve(std::string value, const YAML::Mark& mark) const {
    if (value.empty()) return ErrorAt(mark, "the path is empty");
    if (value.rfind("file://", 0) == 0) value = value.substr(7);
    size_t scheme = value.find("://");
    if (scheme != std::string::npos || value.rfind("azureml:", 0) == 0) {
      return ErrorAt(mark, "'" + value + "' is a cloud location; parallelrun reads local files: "
                           "download the data and point the MLTable's paths at it");
    }
    fs::path p(value);
    if (p.is_relative()) p = fs::path(table_.folder) / p;
    std::string out = p.lexically_normal().string();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
  }

  Status ParseTransformations(const YAML::Node& key, const YAML::Node& list) {
    if (!list.IsSequence()) {
      return ErrorAt(MarkOf(key, list), "transformations must be a list, not " + Describe(list));
    }
    YAML::Mark read_mark;
    bool have_read = false;
    for (const YAML::Node& item : list) {
      YAML::Node name_node, options;
      if (item.IsScalar()) {
        name_node = item;  // "- read_parquet" with no options
      } else if (item.IsMap() && item.size() == 1) {
        name_node = item.begin()->first;
        options = item.begin()->second;
      } else {
        return ErrorAt(item.Mark(), "each transformation must be a mapping with one key, such "
                                    "as 'read_delimited:', not " + Describe(item));
      }
      const std::string name = name_node.Scalar();
      if (!Contains(kSupported, name)) {
        if (Contains(kKnownUnsupported, name)) {
          return ErrorAt(name_node.Mark(), "transformation '" + name +
                                               "' is not supported by parallelrun (supported: " +
                                               Join(kSupported) + ")");
        }
        std::string suggestion = ClosestName(name, kSupported);
        return ErrorAt(name_node.Mark(),
                       "unknown transformation '" + name + "'" +
                           (suggestion.empty() ? "; supported: " + Join(kSupported)
                                               : "; did you mean '" + suggestion + "'?"));
      }
      Status s;
      if (name == "extract_columns_from_partition_format") {
        s = ParseExtract(name_node, options);
      } else {
        if (have_read) {
          return ErrorAt(name_node.Mark(), "a second read transformation ('" + name +
                                               "'); the first is at line " +
                                               std::to_string(read_mark.line + 1));
        }
        have_read = true;
        read_mark = name_node.Mark();
        s = ParseRead(name, name_node, options);
      }
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  Status ParseRead(const std::string& name, const YAML::Node& key, const YAML::Node& options) {
    TableReadOptions o;
    const Names* allowed = &kReadDelimited;
    if (name == "read_json_lines") {
      o.format = TableFormat::kJsonLines;
      allowed = &kReadJsonLines;
    } else if (name == "read_parquet") {
      o.format = TableFormat::kParquet;
      allowed = &kReadParquet;
    }
    if (options.IsDefined() && !options.IsNull()) {
      if (!options.IsMap()) {
        return ErrorAt(MarkOf(key, options), name + " must be a mapping of options, not " +
                                                 Describe(options));
      }
      Status s = CheckKeys(options, *allowed, name);
      if (!s.ok()) return s;
      for (auto it = options.begin(); it != options.end(); ++it) {
        const YAML::Node k = it->first, v = it->second;
        const std::string opt = k.Scalar();
        const std::string what = name + "." + opt;
        if (opt == "delimiter") {
          s = ReadString(k, v, what, &o.delimiter);
          // '\t' in single quotes is a backslash and a t to YAML; people mean a tab.
          if (o.delimiter == "\\t") o.delimiter = "\t";
          if (s.ok() && o.delimiter.empty()) s = ErrorAt(MarkOf(k, v), what + " is empty");
        } else if (opt == "header") {
          std::string h;
          s = ReadChoice(k, v, what, kHeaders, &h);
          if (s.ok()) o.header = *ParseHeaderMode(h);
        } else if (opt == "encoding") {
          s = ReadChoice(k, v, what, kEncodings, &o.encoding);
        } else if (opt == "include_path_column") {
          s = ReadBool(k, v, what, &o.include_path_column);
        } else if (opt == "path_column") {
          s = ReadString(k, v, what, &o.path_column);
        } else if (opt == "empty_as_string") {
          s = ReadBool(k, v, what, &o.empty_as_string);
        } else if (opt == "support_multi_line") {
          s = ReadBool(k, v, what, &o.support_multi_line);
        } else if (opt == "invalid_lines") {
          s = ReadChoice(k, v, what, {"error", "drop"}, &o.invalid_lines);
        } else if (opt == "infer_column_types") {
          bool infer = true;
          s = ReadBool(k, v, what, &infer);
          if (s.ok() && !infer) {
            s = ErrorAt(MarkOf(k, v), what + ": false is not supported (pandas infers column types)");
          }
        }
        if (!s.ok()) return s;
      }
    }
    table_.read = o;
    return Status::Ok();
  }

  Status ParseExtract(const YAML::Node& key, const YAML::Node& value) {
    std::string format;
    YAML::Mark mark = MarkOf(key, value);
    if (value.IsScalar()) {
      format = value.Scalar();
    } else if (value.IsMap() && value.size() == 1 && value.begin()->second.IsNull() &&
               value.begin()->first.IsScalar() && value.begin()->first.Scalar() != "partition_format") {
      // `{column_name:yyyy/MM/dd}` unquoted: YAML reads a flow mapping whose
      // only key is the text between the braces.
      format = "{" + value.begin()->first.Scalar() + "}";
    } else if (value.IsMap()) {
      Status s = CheckKeys(value, kExtract, "extract_columns_from_partition_format");
      if (!s.ok()) return s;
      bool found = false;
      for (auto it = value.begin(); it != value.end(); ++it) {
        if (it->first.Scalar() == "partition_format") {
          s = ReadString(it->first, it->second, "partition_format", &format);
          if (!s.ok()) return s;
          mark = MarkOf(it->first, it->second);
          found = true;
        } else if (it->first.Scalar() == "path_column") {
          std::string column;
          s = ReadString(it->first, it->second, "path_column", &column);
          if (!s.ok()) return s;
          if (column != "Path") {
            return ErrorAt(MarkOf(it->first, it->second),
                           "path_column: only 'Path' (the file's path) is supported");
          }
        }
      }
      if (!found) return ErrorAt(mark, "extract_columns_from_partition_format needs a partition_format");
    } else {
      return ErrorAt(mark, "extract_columns_from_partition_format must be a format such as "
                           "'{country}/{state}/*.csv', not " + Describe(value));
    }
    if (table_.partition_format) {
      return ErrorAt(key.Mark(), "extract_columns_from_partition_format is given twice");
    }
    Result<PartitionFormat> f = PartitionFormat::Parse(format);
    if (!f.ok()) return ErrorAt(mark, f.status().message());
    table_.partition_format = std::move(*f);
    return Status::Ok();
  }

  std::string text_;
  SourceText source_;  // for errors that point into the file
  MLTable table_;
};

}  // namespace

TableInput MLTable::ToTableInput(const std::string& input_name) const {
  TableInput in;
  in.name = input_name;
  in.root = folder;
  in.paths = paths;
  in.read = read;
  in.partition_format = partition_format;
  return in;
}

bool IsMLTable(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;
  if (S_ISDIR(st.st_mode)) {
    std::string file = path + "/MLTable";
    return stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }
  size_t slash = path.rfind('/');
  return S_ISREG(st.st_mode) && path.substr(slash == std::string::npos ? 0 : slash + 1) == "MLTable";
}

Result<MLTable> LoadMLTable(const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(fs::path(path), ec);
  if (ec) p = fs::path(path);
  struct stat st;
  if (stat(p.c_str(), &st) != 0) return Status::Usage(path + ": " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) p /= "MLTable";
  std::string file = p.lexically_normal().string();
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    int err = errno;
    return Status::Usage(file + ": " + std::strerror(err ? err : ENOENT));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseMLTable(ss.str(), file);
}

Result<TableInput> ResolveTableInput(const std::string& input_name, const std::string& path) {
  if (IsMLTable(path)) {
    Result<MLTable> table = LoadMLTable(path);
    if (!table.ok()) return table.status();
    if (!table->tabular()) {
      return Status::Usage("input " + input_name + ": " + table->file +
                           " is a file-list MLTable: it has no read_delimited, read_json_lines "
                           "or read_parquet transformation");
    }
    return table->ToTableInput(input_name);
  }
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    return Status::Usage("input " + input_name + " " + path + ": " + std::strerror(errno));
  }
  TableInput in;
  in.name = input_name;
  in.root = path;
  in.paths.push_back({S_ISDIR(st.st_mode) ? TablePath::Kind::kFolder : TablePath::Kind::kFile, path});
  return in;
}

Result<MLTable> ParseMLTable(const std::string& text, const std::string& file) {
  return MLTableParser(text, file).Parse();
}

}  // namespace parallelrun
