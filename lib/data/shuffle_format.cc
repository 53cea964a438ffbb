#include "data/shuffle_format.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/text.h"
#include "base/wire.h"

namespace parallelrun {

void AppendShuffleRange(uint64_t index, const TableRange& range, std::string* out) {
  WireWriter w;
  w.U64(index);
  w.Bytes(EncodeTableRange(range));
  out->append(w.data());
}

std::vector<std::string> ShuffleCommandArgs(const std::string& ranges_file,
                                            const std::string& rows_dir,
                                            const std::vector<std::string>& partition_keys,
                                            const std::string& tabular_py) {
  return {"shuffle", ranges_file, rows_dir, nlohmann::json(partition_keys).dump(), tabular_py};
}

namespace {

using Json = nlohmann::json;

Status Malformed(const std::string& why) { return Status::JobFailed(why); }

bool IsCount(const Json& j) { return j.is_number_unsigned() || (j.is_number_integer() && j >= 0); }

}  // namespace

Result<ShuffleReport> ParseShuffleLine(std::string_view line) {
  if (line.empty()) return Malformed("an empty line");
  Json j = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Malformed(fmt::format("not JSON: {}", PrintableShort(std::string(line), 80)));
  }
  if (!j.is_object()) return Malformed("not a JSON object");
  ShuffleReport report;
  auto range = j.find("range");
  if (range == j.end()) return Malformed("no \"range\"");
  if (!IsCount(*range)) return Malformed("\"range\" is not an unsigned integer");
  report.range = range->get<uint64_t>();
  auto groups = j.find("groups");
  if (groups == j.end()) return Malformed("no \"groups\"");
  if (!groups->is_array()) return Malformed("\"groups\" is not an array");
  for (size_t i = 0; i < groups->size(); i++) {
    const Json& g = (*groups)[i];
    std::string where = fmt::format("groups[{}]", i);
    if (!g.is_object()) return Malformed(where + " is not an object");
    auto kv = g.find("key_values");
    if (kv == g.end() || !kv->is_array()) {
      return Malformed(where + ".key_values is missing or not an array");
    }
    ShuffleGroup group;
    for (size_t k = 0; k < kv->size(); k++) {
      const Json& pair = (*kv)[k];
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) {
        return Malformed(
            fmt::format("{}.key_values[{}] is not a [key, value] pair of strings", where, k));
      }
      group.key_values.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
    }
    auto path = g.find("path");
    if (path == g.end() || !path->is_string() || path->get<std::string>().empty()) {
      return Malformed(where + ".path is missing or not a non-empty string");
    }
    group.path = path->get<std::string>();
    auto rows = g.find("rows");
    if (rows == g.end() || !IsCount(*rows)) {
      return Malformed(where + ".rows is missing or not an unsigned integer");
    }
    group.rows = rows->get<uint64_t>();
    report.groups.push_back(std::move(group));
  }
  return report;
}

}  // namespace parallelrun
