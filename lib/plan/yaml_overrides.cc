#include "plan/yaml_overrides.h"

#include <cstdlib>

namespace parallelrun {

namespace {

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> keys;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    keys.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return keys;
}

bool IsIndex(const std::string& key, size_t* index) {
  if (key.empty() || key.size() > 9) return false;
  for (char c : key) {
    if (c < '0' || c > '9') return false;
  }
  *index = std::strtoul(key.c_str(), nullptr, 10);
  return true;
}

const char* KindOf(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: return "list";
    case YAML::NodeType::Map: return "mapping";
    case YAML::NodeType::Null: return "null value";
    default: return "scalar";
  }
}

// The value as YAML when it reads as one plain value, else as the text:
// "20" → 20, "[a, b]" → a list, "a: b c" → the text "a: b c".
YAML::Node ValueNode(const std::string& text) {
  try {
    YAML::Node node = YAML::Load(text);
    if (node.IsScalar() || node.IsSequence() || (node.IsMap() && text.find('{') == 0)) {
      return node;
    }
  } catch (const YAML::Exception&) {
  }
  return YAML::Node(text);
}

}  // namespace

Result<YamlOverride> ParseYamlOverride(const std::string& text) {
  size_t eq = text.find('=');
  if (eq == std::string::npos) {
    return Status::Usage("--set " + text + ": give PATH=VALUE, e.g. --set mini_batch_size=20");
  }
  YamlOverride o{text.substr(0, eq), text.substr(eq + 1)};
  for (const std::string& key : SplitPath(o.first)) {
    if (key.empty()) {
      return Status::Usage("--set " + text + ": the path '" + o.first +
                           "' has an empty key; write keys joined by dots, e.g. "
                           "jobs.score.mini_batch_size");
    }
  }
  return o;
}

Status ApplyYamlOverrides(YAML::Node root, const std::vector<YamlOverride>& overrides) {
  for (const auto& [path, value] : overrides) {
    const std::string given = "--set " + path + "=" + value;
    std::vector<std::string> keys = SplitPath(path);
    YAML::Node node;
    node.reset(root);
    std::string walked;
    for (size_t i = 0; i < keys.size(); i++) {
      const std::string& key = keys[i];
      const bool last = i + 1 == keys.size();
      size_t index = 0;
      if (node.IsSequence()) {
        if (!IsIndex(key, &index) || index >= node.size()) {
          return Status::Usage(given + ": '" + walked + "' is a list of " +
                               std::to_string(node.size()) + " in the file; '" + key +
                               "' is not an index in it");
        }
        if (last) {
          node[index] = ValueNode(value);
        } else {
          YAML::Node next = node[index];
          node.reset(next);
        }
      } else if (node.IsMap() || node.IsNull()) {
        if (last) {
          node[key] = ValueNode(value);
        } else {
          if (!node[key] || node[key].IsNull()) node[key] = YAML::Node(YAML::NodeType::Map);
          YAML::Node next = node[key];
          node.reset(next);
        }
      } else {
        return Status::Usage(given + ": '" + walked + "' is a " + KindOf(node) +
                             " in the file, so it has no key '" + key + "'");
      }
      walked += (walked.empty() ? "" : ".") + key;
    }
  }
  return Status::Ok();
}

}  // namespace parallelrun
