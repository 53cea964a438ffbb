#include "plan/mltable.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "base/source_error.h"
#include "base/spelling.h"
#include "plan/yaml_documents.h"

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
                          "extract_columns_from_partition_format", "drop_columns",
                          "keep_columns", "convert_column_types", "skip", "take", "filter"};
const Names kKnownUnsupported = {"read_delta_lake", "take_random_sample", "select_partitions",
                                 "read_json"};
const Names kColumnTypes = {"int", "float", "string", "boolean", "datetime"};
const Names kMismatchAs = {"true", "false", "error"};
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
    std::vector<YAML::Node> docs = LoadYamlDocuments(text_);
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
      } else if (name == "drop_columns" || name == "keep_columns") {
        s = ParseColumnsStep(name, name_node, options);
      } else if (name == "convert_column_types") {
        s = ParseConvert(name_node, options);
      } else if (name == "skip" || name == "take") {
        s = ParseSkipTake(name, name_node, options);
      } else if (name == "filter") {
        s = ParseFilter(name_node, options);
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
    if (!limit_.empty() && table_.read) {
      // The batcher counts each range's rows before a worker reads it; these
      // ranges' rows are only known once parsed.
      const TableReadOptions& o = *table_.read;
      std::string why;
      if (o.format == TableFormat::kJsonLines && o.invalid_lines == "drop") {
        why = "invalid_lines: drop leaves out lines only a JSON parser finds";
      } else if (o.encoding == "utf16" || o.encoding == "utf32") {
        why = "a file in " + o.encoding + " is read whole, its rows uncounted";
      }
      if (!why.empty()) {
        return ErrorAt(limit_key_.Mark(), StepWhat(limit_, limit_key_) +
                                              " cannot be cut into mini-batches here: " + why);
      }
    }
    // read_delimited is typed as mltable types it even without further steps
    // (TableReadOptions::transforms non-empty); JSON Lines and Parquet carry
    // their own types and need transforms only for steps.
    const bool delimited = table_.read && table_.read->format == TableFormat::kDelimited;
    if (!steps_.empty() || delimited) {
      if (!table_.read) {
        return ErrorAt(first_step_mark_, "transformation '" + first_step_ +
                                             "' needs a table: add a read_delimited, "
                                             "read_json_lines or read_parquet transformation "
                                             "before it");
      }
      // The steps go to the worker as JSON, which holds only UTF-8: a step
      // with other bytes (a column name in Latin-1) is refused where it is.
      for (size_t i = 0; i < steps_.size(); i++) {
        try {
          (void)steps_[i].dump();
        } catch (const nlohmann::json::exception&) {
          return ErrorAt(step_marks_[i], "transformation '" + step_names_[i] +
                                             "' holds text that is not UTF-8; an MLTable file "
                                             "is read as UTF-8");
        }
      }
      nlohmann::json t = {{"infer", infer_}, {"steps", steps_}};
      table_.read->transforms = t.dump();
    }
    return Status::Ok();
  }

  // A step that only the worker can do, on each mini-batch's rows.
  void AddStep(const std::string& name, const YAML::Node& key, nlohmann::json step) {
    if (first_step_.empty()) {
      first_step_ = name;
      first_step_mark_ = key.Mark();
    }
    step["line"] = key.Mark().line + 1;
    steps_.push_back(std::move(step));
    step_names_.push_back(name);
    step_marks_.push_back(key.Mark());
  }

  // "transformation 'X' (line N): " — the start of a message about one step.
  static std::string StepWhat(const std::string& name, const YAML::Node& key) {
    return "transformation '" + name + "' (line " + std::to_string(key.Mark().line + 1) + ")";
  }

  // A column name, or a list of them: the `columns` of drop_columns,
  // keep_columns and convert_column_types. Duplicates are errors, as in mltable.
  Status ReadColumns(const YAML::Node& key, const YAML::Node& value, const std::string& what,
                     bool allow_empty, Names* out) const {
    if (value.IsScalar()) {
      if (value.Scalar().empty()) return ErrorAt(MarkOf(key, value), what + ": a column name is empty");
      out->push_back(value.Scalar());
      return Status::Ok();
    }
    if (!value.IsSequence() || (!allow_empty && value.size() == 0)) {
      return ErrorAt(MarkOf(key, value), what + " must be a column name or a list of column "
                                                "names, not " + Describe(value));
    }
    for (const YAML::Node& item : value) {
      if (!item.IsScalar() || item.Scalar().empty()) {
        return ErrorAt(item.IsDefined() ? item.Mark() : MarkOf(key, value),
                       what + ": each column must be a name, not " + Describe(item));
      }
      if (Contains(*out, item.Scalar())) {
        return ErrorAt(item.Mark(), what + ": column '" + item.Scalar() + "' is named twice");
      }
      out->push_back(item.Scalar());
    }
    return Status::Ok();
  }

  Status ParseColumnsStep(const std::string& name, const YAML::Node& key, const YAML::Node& value) {
    Names columns;
    Status s = ReadColumns(key, value, StepWhat(name, key), /*allow_empty=*/true, &columns);
    if (!s.ok()) return s;
    AddStep(name, key, {{"op", name}, {"columns", columns}});
    return Status::Ok();
  }

  // convert_column_types: a list of {columns: …, column_type: …}, where
  // column_type is int | float | string | boolean | datetime, or a mapping
  // {boolean: {true_values, false_values, mismatch_as}} or
  // {datetime: {formats: […], date_constant}} (the MLTable YAML schema).
  Status ParseConvert(const YAML::Node& key, const YAML::Node& value) {
    const std::string what = StepWhat("convert_column_types", key);
    if (!value.IsSequence() || value.size() == 0) {
      return ErrorAt(MarkOf(key, value), what + " must be a list of {columns: …, column_type: …}, "
                                                "not " + Describe(value));
    }
    nlohmann::json conversions = nlohmann::json::array();
    for (const YAML::Node& item : value) {
      if (!item.IsMap()) {
        return ErrorAt(item.Mark(), what + ": each entry must be {columns: …, column_type: …}, "
                                           "not " + Describe(item));
      }
      Status s = CheckKeys(item, {"columns", "column_type"}, "a convert_column_types entry");
      if (!s.ok()) return s;
      YAML::Node columns_node = item["columns"], type_node = item["column_type"];
      if (!columns_node.IsDefined()) return ErrorAt(item.Mark(), what + ": an entry has no 'columns'");
      if (!type_node.IsDefined()) return ErrorAt(item.Mark(), what + ": an entry has no 'column_type'");
      nlohmann::json c;
      Names columns;
      s = ReadColumns(item, columns_node, what + ": columns", /*allow_empty=*/false, &columns);
      if (!s.ok()) return s;
      c["columns"] = columns;
      s = ParseColumnType(what, type_node, &c);
      if (!s.ok()) return s;
      conversions.push_back(std::move(c));
    }
    AddStep("convert_column_types", key, {{"op", "convert_column_types"}, {"conversions", conversions}});
    return Status::Ok();
  }

  Status ParseColumnType(const std::string& what, const YAML::Node& node, nlohmann::json* c) const {
    std::string type;
    YAML::Node options;
    if (node.IsScalar()) {
      type = node.Scalar();
    } else if (node.IsMap() && node.size() == 1 && node.begin()->first.IsScalar()) {
      type = node.begin()->first.Scalar();
      options = node.begin()->second;
    } else {
      return ErrorAt(node.Mark(), what + ": column_type must be one of " + Join(kColumnTypes) +
                                      " (or {boolean: …} / {datetime: {formats: …}}), not " +
                                      Describe(node));
    }
    if (type == "stream_info") {
      return ErrorAt(node.Mark(), what + ": column_type 'stream_info' is not supported by "
                                         "parallelrun (it names files in cloud storage)");
    }
    if (!Contains(kColumnTypes, type)) {
      std::string suggestion = ClosestName(type, kColumnTypes);
      return ErrorAt(node.Mark(), what + ": unknown column_type '" + type + "'" +
                                      (suggestion.empty() ? "; allowed: " + Join(kColumnTypes)
                                                          : "; did you mean '" + suggestion + "'?"));
    }
    (*c)["type"] = type;
    bool has_options = options.IsDefined() && !options.IsNull();
    if (has_options && !options.IsMap()) {
      return ErrorAt(options.Mark(), what + ": the options of column_type " + type +
                                         " must be a mapping, not " + Describe(options));
    }
    if (type == "boolean") {
      if (!has_options) return Status::Ok();
      Status s = CheckKeys(options, {"true_values", "false_values", "mismatch_as"}, "boolean");
      if (!s.ok()) return s;
      for (auto it = options.begin(); it != options.end(); ++it) {
        const std::string opt = it->first.Scalar();
        if (opt == "mismatch_as") {
          std::string m;
          s = ReadChoice(it->first, it->second, "boolean.mismatch_as", kMismatchAs, &m);
          if (!s.ok()) return s;
          (*c)["mismatch_as"] = m;
        } else {
          Names values;
          s = ReadStrings(it->first, it->second, "boolean." + opt, &values);
          if (!s.ok()) return s;
          (*c)[opt] = values;
        }
      }
      if (c->contains("true_values") != c->contains("false_values")) {
        return ErrorAt(options.Mark(), what + ": boolean needs both true_values and false_values, "
                                              "or neither");
      }
    } else if (type == "datetime") {
      if (!has_options) {
        return ErrorAt(node.Mark(), what + ": datetime needs its formats, as "
                                           "{datetime: {formats: ['%Y-%m-%d']}}");
      }
      Status s = CheckKeys(options, {"formats", "date_constant"}, "datetime");
      if (!s.ok()) return s;
      for (auto it = options.begin(); it != options.end(); ++it) {
        const std::string opt = it->first.Scalar();
        if (opt == "formats") {
          Names formats;
          s = ReadStrings(it->first, it->second, "datetime.formats", &formats);
          if (!s.ok()) return s;
          (*c)["formats"] = formats;
        } else {
          return ErrorAt(it->first.Mark(), what + ": datetime.date_constant is not supported by "
                                                  "parallelrun (give formats with the date)");
        }
      }
      if (!c->contains("formats")) {
        return ErrorAt(options.Mark(), what + ": datetime needs 'formats'");
      }
    } else if (has_options) {
      return ErrorAt(options.Mark(), what + ": column_type " + type + " takes no options");
    }
    return Status::Ok();
  }

  // A string, or a non-empty list of strings.
  Status ReadStrings(const YAML::Node& key, const YAML::Node& value, const std::string& what,
                     Names* out) const {
    if (value.IsScalar()) {
      out->push_back(value.Scalar());
      return Status::Ok();
    }
    if (value.IsSequence() && value.size() > 0) {
      for (const YAML::Node& item : value) {
        if (!item.IsScalar()) {
          return ErrorAt(item.Mark(), what + ": each value must be a string, not " + Describe(item));
        }
        out->push_back(item.Scalar());
      }
      return Status::Ok();
    }
    return ErrorAt(MarkOf(key, value), what + " must be a string or a non-empty list of strings, "
                                              "not " + Describe(value));
  }

  // skip: N / take: N on the whole table, in order. They are done by the
  // batcher (TableSource cuts the row ranges), which needs the rows counted
  // before any step that drops rows: a skip or take after a filter cannot be
  // cut into mini-batches exactly, and is refused.
  Status ParseSkipTake(const std::string& name, const YAML::Node& key, const YAML::Node& value) {
    const std::string what = StepWhat(name, key);
    uint64_t n = 0;
    bool ok = value.IsScalar() && !value.Scalar().empty();
    if (ok) {
      const std::string& text = value.Scalar();
      for (char ch : text) ok = ok && ch >= '0' && ch <= '9';
      if (ok) {
        errno = 0;
        n = std::strtoull(text.c_str(), nullptr, 10);
        ok = errno == 0;
      }
    }
    if (!ok) {
      return ErrorAt(MarkOf(key, value), what + " must be a whole number of rows, not " + Describe(value));
    }
    if (!filter_.empty()) {
      return ErrorAt(key.Mark(), what + " comes after the filter at line " + filter_ +
                                     ": parallelrun cuts skip and take into mini-batches before "
                                     "reading the rows, so it cannot count the rows a filter "
                                     "keeps; put skip/take before the filter");
    }
    if (limit_.empty()) {
      limit_ = name;
      limit_key_ = key;
    }
    if (name == "skip") {
      if (table_.take_rows) {
        *table_.take_rows = *table_.take_rows > n ? *table_.take_rows - n : 0;
      }
      table_.skip_rows += n;
    } else {
      table_.take_rows = table_.take_rows ? std::min(*table_.take_rows, n) : n;
    }
    if (!table_.read) {
      return ErrorAt(key.Mark(), what + " needs a table: add a read_delimited, read_json_lines "
                                        "or read_parquet transformation before it");
    }
    return Status::Ok();
  }

  // filter: mltable's expression language. The simple comparisons are
  // supported: col("name") OP literal, OP one of == != < <= > >=, the literal
  // a number, a quoted string, True/False or datetime(y, m, d[, H, M, S]).
  // Anything else is refused naming the expression.
  Status ParseFilter(const YAML::Node& key, const YAML::Node& value) {
    const std::string what = StepWhat("filter", key);
    if (!value.IsScalar() || value.Scalar().empty()) {
      return ErrorAt(MarkOf(key, value), what + " must be an expression such as "
                                                "'col(\"age\") > 30', not " + Describe(value));
    }
    const std::string expr = value.Scalar();
    nlohmann::json step;
    if (!ParseComparison(expr, &step)) {
      return ErrorAt(value.Mark(), what + ": the expression '" + expr + "' is not supported; "
                                          "parallelrun supports one comparison of a column with a "
                                          "value: col(\"name\") OP VALUE, OP one of == != < <= > >=, "
                                          "VALUE a number, a quoted string, True, False or "
                                          "datetime(y, m, d[, H, M, S])");
    }
    step["op"] = "filter";
    step["expression"] = expr;
    if (filter_.empty()) filter_ = std::to_string(key.Mark().line + 1);
    AddStep("filter", key, std::move(step));
    return Status::Ok();
  }

  static bool ParseComparison(const std::string& e, nlohmann::json* out) {
    size_t i = 0;
    auto space = [&] { while (i < e.size() && std::isspace(static_cast<unsigned char>(e[i]))) i++; };
    auto quoted = [&](std::string* s) {
      if (i >= e.size() || (e[i] != '"' && e[i] != '\'')) return false;
      char q = e[i++];
      s->clear();
      while (i < e.size() && e[i] != q) {
        if (e[i] == '\\' && i + 1 < e.size()) i++;
        s->push_back(e[i++]);
      }
      if (i >= e.size()) return false;
      i++;
      return true;
    };
    space();
    if (e.compare(i, 3, "col") != 0) return false;
    i += 3;
    space();
    if (i >= e.size() || e[i] != '(') return false;
    i++;
    space();
    std::string column;
    if (!quoted(&column) || column.empty()) return false;
    space();
    if (i >= e.size() || e[i] != ')') return false;
    i++;
    space();
    std::string op;
    for (const char* candidate : {"==", "!=", "<=", ">=", "<", ">"}) {
      if (e.compare(i, std::strlen(candidate), candidate) == 0) {
        op = candidate;
        break;
      }
    }
    if (op.empty()) return false;
    i += op.size();
    space();
    nlohmann::json v;
    std::string kind, text;
    if (quoted(&text)) {
      kind = "string";
      v = text;
    } else {
      size_t start = i;
      while (i < e.size() && !std::isspace(static_cast<unsigned char>(e[i])) && e[i] != '(') i++;
      text = e.substr(start, i - start);
      if (text == "True" || text == "true" || text == "False" || text == "false") {
        kind = "bool";
        v = text[0] == 'T' || text[0] == 't';
      } else if (text == "datetime") {
        space();
        if (i >= e.size() || e[i] != '(') return false;
        size_t close = e.find(')', i);
        if (close == std::string::npos) return false;
        std::vector<int> parts;
        std::stringstream args(e.substr(i + 1, close - i - 1));
        std::string part;
        while (std::getline(args, part, ',')) {
          size_t a = part.find_first_not_of(" \t"), b = part.find_last_not_of(" \t");
          if (a == std::string::npos) return false;
          part = part.substr(a, b - a + 1);
          if (part.empty() || part.size() > 4 ||
              part.find_first_not_of("0123456789") != std::string::npos) {
            return false;
          }
          parts.push_back(std::stoi(part));
        }
        if (parts.size() < 3 || parts.size() > 6) return false;
        kind = "datetime";
        v = parts;
        i = close + 1;
      } else {
        if (text.empty()) return false;
        char* end = nullptr;
        errno = 0;
        double d = std::strtod(text.c_str(), &end);
        if (errno != 0 || end != text.c_str() + text.size()) return false;
        bool integral = text.find_first_of(".eE") == std::string::npos;
        kind = "number";
        if (integral) {
          v = static_cast<int64_t>(std::strtoll(text.c_str(), nullptr, 10));
        } else {
          v = d;
        }
      }
    }
    space();
    if (i != e.size()) return false;
    *out = {{"column", column}, {"cmp", op}, {"kind", kind}, {"value", v}};
    return true;
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
          s = ReadBool(k, v, what, &infer_);
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
  // The worker's part of the transformations (TableReadOptions::transforms).
  nlohmann::json steps_ = nlohmann::json::array();
  std::vector<std::string> step_names_;  // each step's name and place, for messages
  std::vector<YAML::Mark> step_marks_;
  bool infer_ = true;             // read_delimited infer_column_types
  std::string first_step_;        // the first worker step, for "needs a table"
  YAML::Mark first_step_mark_;
  std::string filter_;            // the line of the first filter, "" = none
  std::string limit_;             // the first skip or take, "" = none
  YAML::Node limit_key_;
};

}  // namespace

TableInput MLTable::ToTableInput(const std::string& input_name) const {
  TableInput in;
  in.name = input_name;
  in.root = folder;
  in.paths = paths;
  in.read = read;
  in.partition_format = partition_format;
  in.skip_rows = skip_rows;
  in.take_rows = take_rows;
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
