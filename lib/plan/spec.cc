// The spec parser: ParallelComponent and v2 parallel YAML → Spec.
//
// Every mapping the parser models is read through ReadMapping, which rejects
// unknown and duplicate keys, so no key is ever silently ignored. Blocks that
// parallelrun does not act on (tags, environment, identity, task.model) are
// accepted in any shape and not looked into. Value checks stop at the shape of
// the YAML (scalar / mapping / list, booleans, numbers, fixed choices): run
// settings are range-checked by RunSettings at the locations kept here.
//
// schemas/parallel_component.schema.json and schemas/parallel_v2.schema.json
// describe the same language; tests/e2e/test_schema_agreement.py holds the two
// to agreement on the documents in tests/data/specs. A rule added here that a
// schema can express belongs in the schema too.
//
// yaml-cpp throws; every exception stops in SpecParser::Parse.

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include "base/source_error.h"

#include "parallelrun/spec.h"

#include "base/spelling.h"
#include "plan/spec_node.h"
#include "plan/yaml_documents.h"
#include "plan/yaml_errors.h"
#include "plan/yaml_overrides.h"

namespace parallelrun {

const char* SpecFormatName(SpecFormat format) {
  switch (format) {
    case SpecFormat::kParallelComponent: return "ParallelComponent";
    case SpecFormat::kV2Parallel: return "v2 parallel";
    case SpecFormat::kBatchDeployment: return "batch deployment";
  }
  return "spec";
}

const Port* Spec::FindInput(const std::string& name) const {
  for (const Port& p : inputs) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const Port* Spec::FindOutput(const std::string& name) const {
  for (const Port& p : outputs) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

namespace {

namespace fs = std::filesystem;

// Returns from the enclosing function when `expr`, a Status, is an error.
#define SPEC_RETURN_IF_ERROR(expr) \
  do {                             \
    Status status_ = (expr);       \
    if (!status_.ok()) return status_; \
  } while (0)

using Names = std::vector<std::string>;

// ---- the language -----------------------------------------------------------

const char kComponentType[] = "ParallelComponent";
const char kV2Type[] = "parallel";

const Names kComponentKeys = {
    "$schema", "name", "version", "display_name", "type", "description", "tags",
    "is_deterministic", "successful_return_code", "inputs", "outputs", "code",
    "environment", "environment_variables", "parallel"};
const Names kComponentRequired = {"name", "version", "parallel"};
const Names kParallelKeys = {"input_data", "output_data", "entry", "args"};
const Names kParallelRequired = {"input_data", "output_data", "entry"};
const Names kComponentInputKeys = {"type", "optional", "default", "description",
                                   "min", "max", "enum", "datastore_mode"};
const Names kComponentOutputKeys = {"type", "description", "datastore_mode", "is_link_mode"};
const Names kComponentParameterTypes = {"String", "Integer", "Float", "Boolean", "Enum",
                                        "string", "integer", "int", "float", "number",
                                        "boolean", "enum"};
const Names kComponentInputModes = {"mount", "download", "direct"};
const Names kComponentOutputModes = {"upload", "mount", "link"};
const Names kReturnCodes = {"Zero", "ZeroOrGreater"};

const Names kV2Keys = {
    "$schema", "type", "name", "version", "display_name", "description", "tags",
    "is_deterministic", "inputs", "outputs", "compute", "input_data", "mini_batch_size",
    "partition_keys", "resources", "instance_count", "max_concurrency_per_instance",
    "error_threshold", "mini_batch_error_threshold", "logging_level", "retry_settings",
    "environment_variables", "identity", "task"};
const Names kV2Required = {"input_data", "task"};
const Names kTaskKeys = {"type", "code", "entry_script", "program_arguments",
                         "append_row_to", "environment", "model"};
const Names kTaskRequired = {"entry_script"};
const Names kTaskTypes = {"run_function", "model", "function"};
const Names kResourcesKeys = {"instance_count", "instance_type", "shm_size", "docker_args",
                              "properties"};
const Names kRetryKeys = {"max_retries", "timeout"};
const Names kV2InputKeys = {"type", "description", "default", "optional", "min", "max",
                            "enum", "mode", "path"};
const Names kV2OutputKeys = {"type", "mode", "path", "description"};
const Names kV2ParameterTypes = {"number", "integer", "boolean", "string"};
const Names kV2InputTypes = {"uri_file", "uri_folder", "mltable", "mlflow_model",
                             "custom_model", "number", "integer", "boolean", "string"};
const Names kV2OutputTypes = {"uri_folder", "uri_file", "mltable", "mlflow_model",
                              "custom_model"};
const Names kV2InputModes = {"ro_mount", "download", "direct", "eval_mount", "eval_download"};
const Names kV2OutputModes = {"rw_mount", "upload", "direct"};

// A batch endpoint's model deployment ([BDEP]; azure-ai-ml BatchDeployment
// and ModelBatchDeploymentSettings). The settings were top-level keys in the
// older batchDeployment schema and sit under `settings:` in the newer
// modelBatchDeployment one; both are read, with the same names.
const char kDeploymentType[] = "model";
const Names kDeploymentKeys = {
    "$schema", "name", "description", "tags", "properties", "endpoint_name", "type", "model",
    "code_configuration", "environment", "compute", "resources", "settings",
    "mini_batch_size", "error_threshold", "logging_level", "max_concurrency_per_instance",
    "output_action", "output_file_name", "retry_settings", "environment_variables"};
const Names kDeploymentSettingsKeys = {
    "mini_batch_size", "instance_count", "max_concurrency_per_instance", "output_action",
    "output_file_name", "retry_settings", "environment_variables", "error_threshold",
    "logging_level"};
const Names kCodeConfigurationKeys = {"code", "scoring_script"};
const Names kModelKeys = {"name", "version", "path", "type", "description", "tags",
                          "properties"};
const Names kDeploymentResourcesKeys = {"instance_count", "instance_type", "properties"};

// Deployment keys that are run settings, by the canonical setting name.
const std::map<std::string, std::string> kDeploymentSettingKeys = {
    {"mini_batch_size", "mini_batch_size"},
    {"instance_count", "node_count"},
    {"max_concurrency_per_instance", "process_count_per_node"},
    {"error_threshold", "error_threshold"},
    {"logging_level", "logging_level"},
    {"output_action", "output_action"},
    {"output_file_name", "append_row_file_name"},
};

// A batch deployment's defaults, where they differ from a parallel job's or
// are worth stating ([BDEP]; ModelBatchDeploymentSettings). Conflicts:
// mini_batch_size — [YAMLREF] gives 1 for a v2 parallel job, [BDEP] 10 files
// for a deployment; retry_settings.timeout — 60 for parallel jobs, 30 for
// deployments ([BDEP], [BTS]); max_concurrency_per_instance — the driver's
// default is the core count, a deployment's is 1; max_retries 3 is read as 3
// attempts, as v2 max_retries is (reference §1.2 run_max_try).
const std::map<std::string, std::string> kDeploymentDefaults = {
    {"mini_batch_size", "10"},
    {"process_count_per_node", "1"},
    {"error_threshold", "-1"},
    {"run_max_try", "3"},
    {"run_invocation_timeout", "30"},
    {"output_action", "append_row"},
    {"append_row_file_name", "predictions.csv"},
    {"logging_level", "INFO"},
};

// The single input and output of a model deployment. Azure ML takes the one
// input and the one output under any name (`invoke(inputs={NAME: …})`);
// MakeJobPlan renames these to the name given with -i/-o.
const char kDeploymentInput[] = "data";
const char kDeploymentOutput[] = "output";

// v2 keys that are run settings, by the canonical setting name (run_settings.h).
const std::map<std::string, std::string> kV2SettingKeys = {
    {"mini_batch_size", "mini_batch_size"},
    {"instance_count", "node_count"},
    {"max_concurrency_per_instance", "process_count_per_node"},
    {"error_threshold", "error_threshold"},
    {"mini_batch_error_threshold", "allowed_failed_count"},
    {"logging_level", "logging_level"},
};

bool Contains(const Names& names, const std::string& s) {
  for (const std::string& n : names) {
    if (n == s) return true;
  }
  return false;
}

std::string Join(const Names& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

// ---- did you mean -----------------------------------------------------------

// The closest of `candidates` to `word` (see spelling.h), "" if none.
std::string Closest(const std::string& word, const Names& candidates) {
  return ClosestName(word, std::vector<std::string>(candidates.begin(), candidates.end()));
}

// ---- values -----------------------------------------------------------------

// How a node reads in "X must be …, not <this>".
std::string Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return n.size() == 0 ? "an empty mapping" : "a mapping";
    case YAML::NodeType::Sequence:
      return n.size() == 0 ? "an empty list" : "a list";
    case YAML::NodeType::Scalar: {
      std::string s = n.Scalar();
      if (s.size() > 40) s = s.substr(0, 37) + "...";
      return "'" + s + "'";
    }
    default:
      return "empty";
  }
}

// Plain (unquoted) scalars are the ones YAML resolves to booleans and numbers;
// yaml-cpp tags them "?", quoted and block scalars "!".
bool IsPlain(const YAML::Node& n) { return n.IsScalar() && n.Tag() == "?"; }

// The YAML 1.1 booleans, as PyYAML (and so the schema test) reads them.
bool ParseBool(const YAML::Node& n, bool* out) {
  static const Names kTrue = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON"};
  static const Names kFalse = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF"};
  if (!IsPlain(n) && !(n.IsScalar() && n.Tag() == "tag:yaml.org,2002:bool")) return false;
  if (Contains(kTrue, n.Scalar())) {
    *out = true;
    return true;
  }
  if (Contains(kFalse, n.Scalar())) {
    *out = false;
    return true;
  }
  return false;
}

// Plain decimal integers and floats (a float needs its dot, as in YAML 1.1).
bool IsNumber(const YAML::Node& n) {
  static const std::regex kNumber(
      R"([-+]?[0-9]+|[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+][0-9]+)?)");
  return IsPlain(n) && std::regex_match(n.Scalar(), kNumber);
}

// Names of ports: what a placeholder and `-i name=…` can spell.
bool IsPortName(const std::string& s) {
  static const std::regex kName("[A-Za-z_][A-Za-z0-9_-]*");
  return std::regex_match(s, kName);
}

// A binding `${{inputs.x}}` (kind "inputs") → "x"; "" if `text` is not one.
std::string BindingName(const std::string& text, const std::string& kind) {
  static const std::regex kBinding(
      R"(\s*\$\{\{\s*(inputs|outputs)\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}\s*)");
  std::smatch m;
  if (!std::regex_match(text, m, kBinding) || m[1] != kind) return "";
  return m[2];
}

bool IsRemotePath(const std::string& s) {
  return s.find("://") != std::string::npos || s.rfind("azureml:", 0) == 0;
}

// ---- mappings ---------------------------------------------------------------

// One `key: value` of a mapping the parser models.
struct Entry {
  std::string key;
  std::string path;  // for messages: "retry_settings.timeout", "inputs.model"
  YAML::Node key_node;
  YAML::Node value;
};

struct Mapping {
  std::string path;  // "" for the top level
  YAML::Mark mark;   // where the mapping starts: missing keys are reported here
  std::vector<Entry> entries;

  const Entry* Find(const std::string& key) const {
    for (const Entry& e : entries) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }
};

// The key of a top-level entry is its path; nested ones are "parent.key".
std::string ChildPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}


// A scalar child of a mapping whose shape parallelrun does not check.
std::string ScalarChild(const YAML::Node& map, const char* key) {
  if (!map.IsMap()) return "";
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key && it->second.IsScalar()) {
      return it->second.Scalar();
    }
  }
  return "";
}

YAML::Node Child(const YAML::Node& map, const char* key) {
  if (map.IsMap()) {
    for (auto it = map.begin(); it != map.end(); ++it) {
      if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
    }
  }
  return YAML::Node();
}

// One phrase for an `environment` block: parallelrun runs in the current
// Python environment and only reports what the spec asked for.
std::string SummarizeEnvironment(const YAML::Node& env) {
  if (env.IsNull()) return "";
  if (env.IsScalar()) return env.Scalar();
  if (!env.IsMap()) return "inline environment";
  Names parts;
  // componentsdk: docker.image, conda.{conda_dependencies_file, …}
  std::string image = ScalarChild(Child(env, "docker"), "image");
  // v2: image, conda_file, build.path
  if (image.empty()) image = ScalarChild(env, "image");
  if (!image.empty()) parts.push_back("docker image " + image);
  std::string build = ScalarChild(Child(env, "build"), "path");
  if (!build.empty()) parts.push_back("docker build context " + build);
  YAML::Node conda = Child(env, "conda");
  std::string conda_file = ScalarChild(conda, "conda_dependencies_file");
  if (conda_file.empty()) conda_file = ScalarChild(env, "conda_file");
  if (!conda_file.empty()) parts.push_back("conda file " + conda_file);
  if (Child(env, "conda_file").IsMap() || Child(conda, "conda_dependencies").IsMap()) {
    parts.push_back("inline conda dependencies");
  }
  std::string pip = ScalarChild(conda, "pip_requirements_file");
  if (!pip.empty()) parts.push_back("pip requirements " + pip);
  if (parts.empty()) {
    std::string name = ScalarChild(env, "name");
    std::string version = ScalarChild(env, "version");
    if (name.empty()) return "inline environment";
    return "environment " + name + (version.empty() ? "" : ":" + version);
  }
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

// ---- the parser -------------------------------------------------------------

class SpecParser {
 public:
  SpecParser(const std::string& text, const std::string& path,
             const std::vector<YamlOverride>& overrides)
      : text_(text), overrides_(overrides), source_(path, text) {
    Init(path);
  }

  // A spec that is a node of a larger document (a pipeline's inline job):
  // `text` and `path` are that document's, so that errors point into it;
  // `what` names the node in messages ("job score").
  SpecParser(const YAML::Node& root, const std::string& text, const std::string& path,
             const std::string& what, bool overridden)
      : text_(text), source_(path, text), given_root_(root), what_(what), overridden_(overridden) {
    Init(path);
  }

  void Init(const std::string& path) {
    spec_.path = path;
    std::error_code ec;
    fs::path abs = fs::absolute(fs::path(path), ec);
    fs::path dir = (ec ? fs::path(path) : abs).parent_path().lexically_normal();
    spec_.dir = dir.string();
    if (spec_.dir.size() > 1 && spec_.dir.back() == '/') spec_.dir.pop_back();
  }

  Result<Spec> Parse() {
    try {
      if (given_root_) {
        Status s = ParseRoot(*given_root_);
        if (!s.ok()) return s;
        return std::move(spec_);
      }
      Status s = ParseDocument();
      if (!s.ok()) return s;
      return std::move(spec_);
    } catch (const YAML::Exception& e) {
      YamlErrorPlace p = e.mark.is_null() ? YamlErrorPlace{-1, -1, "invalid YAML: " + e.msg}
                                          : ExplainYamlError(text_, e.mark.line, e.mark.column, e.msg);
      return source_.ErrorAt(p.line, p.column, p.message);
    }
  }

 private:
  // ---- errors ----

  std::string WhereIn(const std::string& path) const { return path.empty() ? what_ : path; }

  Status ErrorAt(const YAML::Mark& mark, const std::string& message) const {
    // Nodes put in by --set have no place in the file.
    if (mark.is_null() && (!overrides_.empty() || overridden_)) {
      return Status::Usage(spec_.path + ": " + message + " (a value given with --set)");
    }
    return mark.is_null() ? source_.ErrorAt(0, 0, message)
                          : source_.ErrorAt(mark.line, mark.column, message);
  }

  // At the value; at the key when the value is empty (yaml-cpp puts an empty
  // value's mark on the next line).
  Status ErrorAtValue(const Entry& e, const std::string& message) const {
    return ErrorAt(e.value.IsNull() ? e.key_node.Mark() : e.value.Mark(), message);
  }

  Status WrongKind(const Entry& e, const std::string& expected) const {
    return ErrorAtValue(e, e.path + " must be " + expected + ", not " + Describe(e.value));
  }

  Status UnknownValue(const Entry& e, const Names& allowed) const {
    std::string value = e.value.Scalar();
    std::string suggestion = Closest(value, allowed);
    std::string message = e.path + ": unknown value '" + value + "'";
    message += suggestion.empty() ? "; allowed values: " + Join(allowed)
                                  : "; did you mean '" + suggestion + "'?";
    return ErrorAtValue(e, message);
  }

  SourceLocation LocationOf(const YAML::Mark& mark) const {
    SourceLocation where;
    where.file = spec_.path;
    if (!mark.is_null()) {
      where.line = mark.line + 1;
      where.column = mark.column + 1;
    }
    return where;
  }

  // ---- readers ----

  // Reads the entries of a mapping node, rejecting unknown (not in `allowed`;
  // an empty `allowed` takes any key, as for inputs: and
  // environment_variables:) and duplicate keys, and reporting the first
  // missing required key. Mappings whose required
  // keys are checked only after their content pass no `required` and call
  // RequireKeys later: a mistake in what is written is reported before what
  // is missing.
  Status ReadMapping(const YAML::Node& node, const std::string& path, const Names& allowed,
                     const Names& required, Mapping* out) const {
    out->path = path;
    out->mark = node.Mark();
    std::map<std::string, int> seen;  // key → line
    for (auto it = node.begin(); it != node.end(); ++it) {
      // A copy: the iterator yields a temporary pair, so a reference would dangle.
      const YAML::Node key = it->first;
      if (!key.IsScalar()) {
        return ErrorAt(key.Mark(), "keys in " + WhereIn(path) + " must be names, not " +
                                       Describe(key));
      }
      const std::string name = key.Scalar();
      if (!allowed.empty() && !Contains(allowed, name)) {
        std::string suggestion = Closest(name, allowed);
        std::string message = "unknown key '" + name + "' in " + WhereIn(path);
        message += suggestion.empty() ? "; allowed keys: " + Join(allowed)
                                      : "; did you mean '" + suggestion + "'?";
        return ErrorAt(key.Mark(), message);
      }
      auto [first, inserted] = seen.emplace(name, key.Mark().line + 1);
      if (!inserted) {
        return ErrorAt(key.Mark(), "duplicate key '" + name + "' in " + WhereIn(path) +
                                       " (first given at line " +
                                       std::to_string(first->second) + ")");
      }
      out->entries.push_back(Entry{name, ChildPath(path, name), key, it->second});
    }
    return RequireKeys(*out, required);
  }

  Status RequireKeys(const Mapping& m, const Names& required) const {
    for (const std::string& r : required) {
      if (m.Find(r) == nullptr) {
        return ErrorAt(m.mark, "missing required key '" + r + "' in " + WhereIn(m.path));
      }
    }
    return Status::Ok();
  }

  Status ReadMapping(const Entry& e, const Names& allowed, const Names& required,
                     Mapping* out) const {
    if (!e.value.IsMap()) return WrongKind(e, "a mapping");
    return ReadMapping(e.value, e.path, allowed, required, out);
  }

  Status ReadText(const Entry& e, std::string* out) const {
    if (!e.value.IsScalar()) return WrongKind(e, "a scalar");
    *out = e.value.Scalar();
    return Status::Ok();
  }

  // `"true"` and `"5"` are text in YAML; say so, since they look right.
  Status WrongKindQuoted(const Entry& e, const std::string& expected) const {
    if (!e.value.IsScalar() || e.value.Tag() != "!") return WrongKind(e, expected);
    return ErrorAtValue(e, e.path + " must be " + expected + ", not " + Describe(e.value) +
                               " (quoted, so text; remove the quotes)");
  }

  Status ReadBool(const Entry& e, bool* out) const {
    if (!ParseBool(e.value, out)) return WrongKindQuoted(e, "true or false");
    return Status::Ok();
  }

  Status ReadNumber(const Entry& e) const {
    if (!IsNumber(e.value)) return WrongKindQuoted(e, "a number");
    return Status::Ok();
  }

  Status ReadChoice(const Entry& e, const Names& allowed, std::string* out) const {
    SPEC_RETURN_IF_ERROR(ReadText(e, out));
    if (!Contains(allowed, *out)) return UnknownValue(e, allowed);
    return Status::Ok();
  }

  // A list of scalars, each reported as "<path>[i]" when it is not one.
  Status ReadScalarList(const Entry& e, Names* out) const {
    if (!e.value.IsSequence()) return WrongKind(e, "a list of scalars");
    for (size_t i = 0; i < e.value.size(); ++i) {
      Entry item{e.key, e.path + "[" + std::to_string(i) + "]", e.key_node, e.value[i]};
      std::string text;
      SPEC_RETURN_IF_ERROR(ReadText(item, &text));
      out->push_back(text);
    }
    return Status::Ok();
  }

  Status ReadAnyMapping(const Entry& e) const {
    if (!e.value.IsMap()) return WrongKind(e, "a mapping");
    return Status::Ok();
  }

  Status ReadEnvironmentVariables(const Entry& e) {
    Mapping vars;
    SPEC_RETURN_IF_ERROR(ReadMapping(e, {}, {}, &vars));
    for (const Entry& v : vars.entries) {
      std::string value;
      SPEC_RETURN_IF_ERROR(ReadText(v, &value));
      spec_.environment_variables[v.key] = value;
    }
    return Status::Ok();
  }

  // A v2 run setting: a scalar, kept as written with its place.
  Status ReadSetting(const Entry& e, const std::string& canonical) {
    std::string value;
    SPEC_RETURN_IF_ERROR(ReadText(e, &value));
    if (value.find("${{") != std::string::npos) {
      return ErrorAtValue(e, e.path + " is bound to " + value +
                                 ", but bindings of settings are not supported by a local "
                                 "run; pass --" + canonical + " instead");
    }
    spec_.settings[canonical] = SpecSetting{value, LocationOf(e.value.Mark())};
    return Status::Ok();
  }

  // ---- parts common to both formats ----

  Status ReadMetadata(const Mapping& top) {
    for (const char* key : {"$schema", "version", "display_name", "description", "compute"}) {
      if (const Entry* e = top.Find(key)) {
        std::string text;
        SPEC_RETURN_IF_ERROR(ReadText(*e, &text));
        if (e->key == "version") spec_.version = text;
        if (e->key == "display_name") spec_.display_name = text;
        if (e->key == "description") spec_.description = text;
      }
    }
    if (const Entry* e = top.Find("name")) {
      SPEC_RETURN_IF_ERROR(ReadText(*e, &spec_.name));
      static const std::regex kName("[A-Za-z0-9_.-]+");
      if (!std::regex_match(spec_.name, kName)) {
        return ErrorAtValue(*e, "name '" + spec_.name +
                                    "' may hold only letters, digits, '-', '.' and '_'");
      }
    }
    for (const char* key : {"tags", "identity"}) {
      if (const Entry* e = top.Find(key)) SPEC_RETURN_IF_ERROR(ReadAnyMapping(*e));
    }
    if (const Entry* e = top.Find("is_deterministic")) {
      bool ignored;
      SPEC_RETURN_IF_ERROR(ReadBool(*e, &ignored));
    }
    if (const Entry* e = top.Find("environment_variables")) {
      SPEC_RETURN_IF_ERROR(ReadEnvironmentVariables(*e));
    }
    return Status::Ok();
  }

  // inputs: / outputs: → ports, with names checked; `read` fills one port.
  template <typename ReadPort>
  Status ReadPorts(const Entry& e, std::vector<Port>* ports, ReadPort read) {
    Mapping map;
    SPEC_RETURN_IF_ERROR(ReadMapping(e, {}, {}, &map));
    for (const Entry& p : map.entries) {
      if (!IsPortName(p.key)) {
        return ErrorAt(p.key_node.Mark(),
                       e.key.substr(0, e.key.size() - 1) + " name '" + p.key +
                           "' may hold only letters, digits, '_' and '-', and must start "
                           "with a letter or '_'");
      }
      Port port;
      port.name = p.key;
      port.where = LocationOf(p.key_node.Mark());
      SPEC_RETURN_IF_ERROR((this->*read)(p, &port));
      ports->push_back(std::move(port));
    }
    return Status::Ok();
  }

  // Reads the parameter-port keys the two formats share.
  Status ReadParameterKeys(const Mapping& m, Port* port) {
    if (const Entry* e = m.Find("optional")) SPEC_RETURN_IF_ERROR(ReadBool(*e, &port->optional));
    if (const Entry* e = m.Find("default")) {
      std::string text;
      SPEC_RETURN_IF_ERROR(ReadText(*e, &text));
      port->default_value = text;
    }
    if (const Entry* e = m.Find("description")) {
      SPEC_RETURN_IF_ERROR(ReadText(*e, &port->description));
    }
    for (const char* key : {"min", "max"}) {
      if (const Entry* e = m.Find(key)) SPEC_RETURN_IF_ERROR(ReadNumber(*e));
    }
    if (const Entry* e = m.Find("enum")) {
      Names values;
      SPEC_RETURN_IF_ERROR(ReadScalarList(*e, &values));
    }
    return Status::Ok();
  }

  // `code` (default the spec's folder) → Spec::code_dir, which must exist.
  Status ReadCodeDir(const Entry* e) {
    fs::path dir = spec_.dir;
    if (e != nullptr) {
      std::string code;
      SPEC_RETURN_IF_ERROR(ReadText(*e, &code));
      dir = (dir / code).lexically_normal();
      std::error_code ec;
      fs::file_status st = fs::status(dir, ec);
      if (!fs::exists(st)) {
        return ErrorAtValue(*e, "code folder " + code + " not found (looked for " +
                                    dir.string() + ")");
      }
      if (!fs::is_directory(st)) {
        return ErrorAtValue(*e, "code " + code + " is not a folder (" + dir.string() + ")");
      }
    }
    spec_.code_dir = dir.string();
    if (spec_.code_dir.size() > 1 && spec_.code_dir.back() == '/') spec_.code_dir.pop_back();
    return Status::Ok();
  }

  // The entry script, relative to the code folder; a dotted module name
  // ("batch_score.main": no '/', no ".py") names code/batch_score/main.py.
  Status ReadEntryScript(const Entry& e) {
    std::string entry;
    SPEC_RETURN_IF_ERROR(ReadText(e, &entry));
    if (entry.empty()) return WrongKind(e, "a script path");
    std::string file = entry;
    bool is_module = entry.find('/') == std::string::npos &&
                     (entry.size() < 3 || entry.compare(entry.size() - 3, 3, ".py") != 0);
    if (is_module) {
      for (char& c : file) {
        if (c == '.') c = '/';
      }
      file += ".py";
    }
    fs::path script = (fs::path(spec_.code_dir) / file).lexically_normal();
    std::error_code ec;
    fs::file_status st = fs::status(script, ec);
    if (!fs::exists(st)) {
      return ErrorAtValue(e, "entry script " + entry + " not found (looked for " +
                                 script.string() + ")");
    }
    if (!fs::is_regular_file(st)) {
      return ErrorAtValue(e, "entry script " + entry + " is not a regular file (" +
                                 script.string() + ")");
    }
    spec_.entry_script = script.string();
    spec_.entry_where = LocationOf(e.value.Mark());
    return Status::Ok();
  }

  // The args template: well formed, and every placeholder names a port.
  Status ReadArgs(const Entry& e) {
    SPEC_RETURN_IF_ERROR(ReadText(e, &spec_.args_template));
    spec_.args_where = LocationOf(e.value.Mark());
    const bool v2 = spec_.format == SpecFormat::kV2Parallel;
    for (const std::string& v1 : v2 ? V1PlaceholdersInV2(spec_.args_template) : Names{}) {
      spec_.warnings.push_back(
          spec_.path + ":" + std::to_string(spec_.args_where.line) + ":" +
          std::to_string(spec_.args_where.column) + ": warning: " + e.key + " has " + v1 +
          ", the v1 spelling, which a v2 spec passes to the entry script as literal text; write "
          "${{" + v1.substr(1, v1.size() - 2) + "}}");
    }
    Result<std::vector<ArgsPlaceholder>> placeholders =
        ScanArgsTemplate(spec_.args_template, spec_.format, e.key);
    if (!placeholders.ok()) return ErrorAtValue(e, placeholders.status().message());
    for (const ArgsPlaceholder& p : *placeholders) {
      const Port* port = p.is_output ? spec_.FindOutput(p.name) : spec_.FindInput(p.name);
      if (port != nullptr) continue;
      const std::vector<Port>& same = p.is_output ? spec_.outputs : spec_.inputs;
      const Port* other = p.is_output ? spec_.FindInput(p.name) : spec_.FindOutput(p.name);
      auto placeholder = [&](bool output, const std::string& name) {
        std::string body = (output ? "outputs." : "inputs.") + name;
        return v2 ? "${{" + body + "}}" : "{" + body + "}";
      };
      Names names;
      for (const Port& q : same) names.push_back(q.name);
      std::string kind = p.is_output ? "output" : "input";
      std::string message = e.key + " refers to " + p.written + ", which is not an " + kind;
      std::string suggestion = Closest(p.name, names);
      if (other != nullptr) {
        message += "; " + p.name + " is an " + (p.is_output ? "input" : "output") +
                   ": write " + placeholder(!p.is_output, p.name);
      } else if (!suggestion.empty()) {
        message += "; did you mean " + placeholder(p.is_output, suggestion) + "?";
      } else if (names.empty()) {
        message += "; the spec declares no " + kind + "s";
      } else {
        message += "; " + kind + "s are: " + Join(names);
      }
      return ErrorAtValue(e, message);
    }
    return Status::Ok();
  }

  // "which is not an input; did you mean 'x'?" / "; inputs are: …"; a
  // suggestion is spelt as `open` + name + `close`.
  std::string NotAPort(const std::string& kind, const std::string& name,
                       const std::vector<Port>& ports, const std::string& open,
                       const std::string& close) const {
    Names names;
    for (const Port& q : ports) names.push_back(q.name);
    std::string message = "which is not an " + kind;
    std::string suggestion = Closest(name, names);
    if (!suggestion.empty()) return message + "; did you mean " + open + suggestion + close + "?";
    if (names.empty()) return message + "; the spec declares no " + kind + "s";
    return message + "; " + kind + "s are: " + Join(names);
  }

  // Values are bound by name alone (-i/-o name=…), so names must differ.
  Status CheckOutputNames() const {
    for (const Port& out : spec_.outputs) {
      if (spec_.FindInput(out.name) != nullptr) {
        YAML::Mark mark;
        mark.line = out.where.line - 1;
        mark.column = out.where.column - 1;
        return ErrorAt(mark, "output " + out.name + " has the name of an input; values are "
                             "given by name (-i/-o " + out.name + "=…), so names must differ");
      }
    }
    return Status::Ok();
  }

  // ---- the document ----

  Status ParseDocument() {
    std::vector<YAML::Node> docs = LoadYamlDocuments(text_);
    if (docs.empty() || (docs.size() == 1 && docs[0].IsNull())) {
      return ErrorAt(YAML::Mark(), "the spec is empty; expected a mapping with 'type: " +
                                       std::string(kComponentType) + "' or 'type: " + kV2Type +
                                       "'");
    }
    if (docs.size() > 1) {
      return ErrorAt(docs[1].Mark(), "the spec holds more than one YAML document");
    }
    return ParseRoot(docs[0]);
  }

  Status ParseRoot(const YAML::Node& root) {
    if (!root.IsMap()) {
      return ErrorAt(root.Mark(), "the spec must be a mapping of keys to values, not " +
                                      Describe(root));
    }
    SPEC_RETURN_IF_ERROR(ApplyYamlOverrides(root, overrides_));
    Mapping top;
    SPEC_RETURN_IF_ERROR(ReadMapping(root, "", {}, {}, &top));
    bool deployment = false;
    SPEC_RETURN_IF_ERROR(RecognizeDeployment(top, &deployment));
    if (deployment) {
      spec_.format = SpecFormat::kBatchDeployment;
      top = Mapping();
      SPEC_RETURN_IF_ERROR(ReadMapping(root, "", kDeploymentKeys, {}, &top));
      return ParseDeployment(top);
    }
    const Entry* type = top.Find("type");
    const Names kTypes = {kComponentType, kV2Type};
    if (type == nullptr) {
      // A misspelt `type` key is likelier than a missing one.
      for (const Entry& e : top.entries) {
        if (Closest(e.key, {"type"}) == "type") {
          return ErrorAt(e.key_node.Mark(),
                         "unknown key '" + e.key + "' in the spec; did you mean 'type'?");
        }
      }
      return ErrorAt(top.mark,
                     "missing required key 'type' in the spec; allowed values: " + Join(kTypes));
    }
    std::string type_name;
    if (type->value.IsScalar() && type->value.Scalar() == "pipeline" && !given_root_) {
      // A pipeline's job reaches here when its job dir is resumed on its own.
      return ErrorAtValue(*type, "this is a pipeline file: run it with 'parallelrun run " +
                                     spec_.path + "'; a job of a pipeline is not resumed on its "
                                     "own (run the pipeline again, or that job with --job NAME)");
    }
    SPEC_RETURN_IF_ERROR(ReadChoice(*type, kTypes, &type_name));
    if (type_name == kComponentType) {
      spec_.format = SpecFormat::kParallelComponent;
      top = Mapping();
      SPEC_RETURN_IF_ERROR(ReadMapping(root, "", kComponentKeys, {}, &top));
      return ParseComponent(top);
    }
    spec_.format = SpecFormat::kV2Parallel;
    top = Mapping();
    SPEC_RETURN_IF_ERROR(ReadMapping(root, "", kV2Keys, {}, &top));
    return ParseV2(top);
  }

  // ---- ParallelComponent ----

  Status ReadComponentInput(const Entry& e, Port* port) {
    Mapping m;
    SPEC_RETURN_IF_ERROR(ReadMapping(e, kComponentInputKeys, {"type"}, &m));
    const Entry& type = *m.Find("type");
    if (type.value.IsSequence()) {
      // Several data types the port accepts, e.g. [AnyFile, AnyDirectory].
      Names types;
      SPEC_RETURN_IF_ERROR(ReadScalarList(type, &types));
      if (types.empty()) return WrongKind(type, "a type or a non-empty list of types");
      for (const std::string& t : types) {
        if (Contains(kComponentParameterTypes, t)) {
          return ErrorAtValue(type, type.path + " lists " + t +
                                        ", a parameter type; only data types can be combined");
        }
        port->type += (port->type.empty() ? "" : "|") + t;
      }
    } else {
      SPEC_RETURN_IF_ERROR(ReadText(type, &port->type));
      if (port->type.empty()) return WrongKind(type, "a type");
    }
    port->is_data = !Contains(kComponentParameterTypes, port->type);
    port->is_tabular = port->type == "DataFrameDirectory";
    if ((port->type == "Enum" || port->type == "enum") && m.Find("enum") == nullptr) {
      return ErrorAt(m.mark, "missing required key 'enum' in " + e.path);
    }
    SPEC_RETURN_IF_ERROR(ReadParameterKeys(m, port));
    if (const Entry* mode = m.Find("datastore_mode")) {
      SPEC_RETURN_IF_ERROR(ReadChoice(*mode, kComponentInputModes, &port->mode));
    }
    return Status::Ok();
  }

  Status ReadComponentOutput(const Entry& e, Port* port) {
    Mapping m;
    SPEC_RETURN_IF_ERROR(ReadMapping(e, kComponentOutputKeys, {}, &m));
    port->type = "path";
    if (const Entry* t = m.Find("type")) SPEC_RETURN_IF_ERROR(ReadText(*t, &port->type));
    if (const Entry* d = m.Find("description")) {
      SPEC_RETURN_IF_ERROR(ReadText(*d, &port->description));
    }
    if (const Entry* mode = m.Find("datastore_mode")) {
      SPEC_RETURN_IF_ERROR(ReadChoice(*mode, kComponentOutputModes, &port->mode));
    }
    if (const Entry* link = m.Find("is_link_mode")) {
      bool ignored;
      SPEC_RETURN_IF_ERROR(ReadBool(*link, &ignored));
    }
    return Status::Ok();
  }

  // "inputs.x" or "x" → "x", checked against the ports.
  Status ReadPortReference(const Entry& e, const std::string& kind, std::string* name) {
    SPEC_RETURN_IF_ERROR(ReadText(e, name));
    const std::string prefix = kind + "s.";
    if (name->compare(0, prefix.size(), prefix) == 0) name->erase(0, prefix.size());
    const bool input = kind == "input";
    const Port* port = input ? spec_.FindInput(*name) : spec_.FindOutput(*name);
    if (port == nullptr) {
      return ErrorAtValue(e, e.path + " names '" + *name + "', " +
                                 NotAPort(kind, *name, input ? spec_.inputs : spec_.outputs, "'", "'"));
    }
    if (input && !port->is_data) {
      return ErrorAtValue(e, e.path + " names '" + *name + "', which is a parameter (" +
                                 port->type + "), not a data input");
    }
    return Status::Ok();
  }

  Status ParseComponent(const Mapping& top) {
    SPEC_RETURN_IF_ERROR(ReadMetadata(top));
    if (const Entry* e = top.Find("successful_return_code")) {
      std::string ignored;
      SPEC_RETURN_IF_ERROR(ReadChoice(*e, kReturnCodes, &ignored));
    }
    if (const Entry* e = top.Find("inputs")) {
      SPEC_RETURN_IF_ERROR(ReadPorts(*e, &spec_.inputs, &SpecParser::ReadComponentInput));
    }
    if (const Entry* e = top.Find("outputs")) {
      SPEC_RETURN_IF_ERROR(ReadPorts(*e, &spec_.outputs, &SpecParser::ReadComponentOutput));
    }
    SPEC_RETURN_IF_ERROR(CheckOutputNames());
    if (const Entry* e = top.Find("environment")) {
      spec_.environment_summary = SummarizeEnvironment(e->value);
    }
    SPEC_RETURN_IF_ERROR(ReadCodeDir(top.Find("code")));

    if (const Entry* e = top.Find("parallel")) SPEC_RETURN_IF_ERROR(ReadParallel(*e));
    return RequireKeys(top, kComponentRequired);
  }

  Status ReadParallel(const Entry& e) {
    Mapping parallel;
    SPEC_RETURN_IF_ERROR(ReadMapping(e, kParallelKeys, {}, &parallel));
    if (const Entry* input_data = parallel.Find("input_data")) {
      if (input_data->value.IsSequence()) {
        if (input_data->value.size() == 0) {
          return WrongKind(*input_data, "an input or a non-empty list of inputs");
        }
        for (size_t i = 0; i < input_data->value.size(); ++i) {
          Entry item{input_data->key, input_data->path + "[" + std::to_string(i) + "]",
                     input_data->key_node, input_data->value[i]};
          std::string name;
          SPEC_RETURN_IF_ERROR(ReadPortReference(item, "input", &name));
          spec_.input_data.push_back(name);
        }
      } else {
        std::string name;
        SPEC_RETURN_IF_ERROR(ReadPortReference(*input_data, "input", &name));
        spec_.input_data.push_back(name);
      }
    }
    if (const Entry* output_data = parallel.Find("output_data")) {
      SPEC_RETURN_IF_ERROR(ReadPortReference(*output_data, "output", &spec_.output_data));
    }
    if (const Entry* entry = parallel.Find("entry")) SPEC_RETURN_IF_ERROR(ReadEntryScript(*entry));
    if (const Entry* args = parallel.Find("args")) SPEC_RETURN_IF_ERROR(ReadArgs(*args));
    return RequireKeys(parallel, kParallelRequired);
  }

  // ---- v2 parallel ----

  Status ReadV2Input(const Entry& e, Port* port) {
    if (e.value.IsScalar()) {
      // A job may bind an input to a literal: a parameter with that value.
      port->type = "string";
      port->is_data = false;
      port->default_value = e.value.Scalar();
      return Status::Ok();
    }
    if (!e.value.IsMap()) return WrongKind(e, "a mapping or a literal value");
    Mapping m;
    SPEC_RETURN_IF_ERROR(ReadMapping(e, kV2InputKeys, {"type"}, &m));
    SPEC_RETURN_IF_ERROR(ReadChoice(*m.Find("type"), kV2InputTypes, &port->type));
    port->is_data = !Contains(kV2ParameterTypes, port->type);
    SPEC_RETURN_IF_ERROR(ReadParameterKeys(m, port));
    if (const Entry* mode = m.Find("mode")) {
      SPEC_RETURN_IF_ERROR(ReadChoice(*mode, kV2InputModes, &port->mode));
    }
    port->is_tabular = port->type == "mltable" && port->mode == "direct";
    if (const Entry* path = m.Find("path")) SPEC_RETURN_IF_ERROR(ReadPortPath(*path, port));
    return Status::Ok();
  }

  Status ReadV2Output(const Entry& e, Port* port) {
    Mapping m;
    SPEC_RETURN_IF_ERROR(ReadMapping(e, kV2OutputKeys, {}, &m));
    port->type = "uri_folder";
    if (const Entry* t = m.Find("type")) {
      SPEC_RETURN_IF_ERROR(ReadChoice(*t, kV2OutputTypes, &port->type));
    }
    if (const Entry* mode = m.Find("mode")) {
      SPEC_RETURN_IF_ERROR(ReadChoice(*mode, kV2OutputModes, &port->mode));
    }
    if (const Entry* d = m.Find("description")) {
      SPEC_RETURN_IF_ERROR(ReadText(*d, &port->description));
    }
    if (const Entry* path = m.Find("path")) SPEC_RETURN_IF_ERROR(ReadPortPath(*path, port));
    return Status::Ok();
  }

  // A job's `path:` is the port's value unless the command line gives one; a
  // local path is relative to the spec's folder, not to the working directory.
  Status ReadPortPath(const Entry& e, Port* port) {
    std::string path;
    SPEC_RETURN_IF_ERROR(ReadText(e, &path));
    if (!IsRemotePath(path)) path = (fs::path(spec_.dir) / path).lexically_normal().string();
    port->default_value = path;
    return Status::Ok();
  }

  // `${{inputs.x}}` / `${{outputs.y}}` naming an existing port → its name.
  Status ReadBinding(const Entry& e, const std::string& kind, std::string* name) {
    std::string text;
    SPEC_RETURN_IF_ERROR(ReadText(e, &text));
    *name = BindingName(text, kind + "s");
    if (name->empty()) {
      return ErrorAtValue(e, e.path + " must be ${{" + kind + "s.NAME}}, not '" + text + "'");
    }
    const bool input = kind == "input";
    if ((input ? spec_.FindInput(*name) : spec_.FindOutput(*name)) == nullptr) {
      return ErrorAtValue(e, e.path + " refers to ${{" + kind + "s." + *name + "}}, " +
                                 NotAPort(kind, *name, input ? spec_.inputs : spec_.outputs,
                                          "${{" + kind + "s.", "}}"));
    }
    return Status::Ok();
  }

  Status ParseV2(const Mapping& top) {
    SPEC_RETURN_IF_ERROR(ReadMetadata(top));
    if (const Entry* e = top.Find("inputs")) {
      SPEC_RETURN_IF_ERROR(ReadPorts(*e, &spec_.inputs, &SpecParser::ReadV2Input));
    }
    if (const Entry* e = top.Find("outputs")) {
      SPEC_RETURN_IF_ERROR(ReadPorts(*e, &spec_.outputs, &SpecParser::ReadV2Output));
    }
    SPEC_RETURN_IF_ERROR(CheckOutputNames());
    if (const Entry* e = top.Find("input_data")) {
      std::string input;
      SPEC_RETURN_IF_ERROR(ReadBinding(*e, "input", &input));
      spec_.input_data.push_back(input);
    }

    for (const auto& [key, canonical] : kV2SettingKeys) {
      if (const Entry* e = top.Find(key)) SPEC_RETURN_IF_ERROR(ReadSetting(*e, canonical));
    }
    if (const Entry* e = top.Find("partition_keys")) {
      Names keys;
      SPEC_RETURN_IF_ERROR(ReadScalarList(*e, &keys));
      if (keys.empty()) return WrongKind(*e, "a non-empty list of keys");
      std::string json;
      try {
        json = nlohmann::json(keys).dump();
      } catch (const nlohmann::json::exception&) {  // found by fuzz/spec_fuzz
        return ErrorAt(e->value.Mark(), "partition_keys holds a key that is not UTF-8 text");
      }
      spec_.settings["partition_keys"] = SpecSetting{json, LocationOf(e->value.Mark())};
    }
    if (const Entry* e = top.Find("resources")) {
      Mapping resources;
      SPEC_RETURN_IF_ERROR(ReadMapping(*e, kResourcesKeys, {}, &resources));
      for (const Entry& r : resources.entries) {
        if (r.key == "properties") {
          SPEC_RETURN_IF_ERROR(ReadAnyMapping(r));
        } else if (r.key == "instance_count") {
          if (const Entry* both = top.Find("instance_count")) {
            return ErrorAt(r.key_node.Mark(),
                           "resources.instance_count and instance_count (line " +
                               std::to_string(both->key_node.Mark().line + 1) +
                               ") are both given; keep one");
          }
          SPEC_RETURN_IF_ERROR(ReadSetting(r, "node_count"));
        } else {
          std::string ignored;
          SPEC_RETURN_IF_ERROR(ReadText(r, &ignored));
        }
      }
    }
    if (const Entry* e = top.Find("retry_settings")) {
      Mapping retry;
      SPEC_RETURN_IF_ERROR(ReadMapping(*e, kRetryKeys, {}, &retry));
      if (const Entry* r = retry.Find("max_retries")) {
        SPEC_RETURN_IF_ERROR(ReadSetting(*r, "run_max_try"));
      }
      if (const Entry* r = retry.Find("timeout")) {
        SPEC_RETURN_IF_ERROR(ReadSetting(*r, "run_invocation_timeout"));
      }
    }

    if (const Entry* e = top.Find("task")) SPEC_RETURN_IF_ERROR(ReadTask(*e));
    return RequireKeys(top, kV2Required);
  }

  Status ReadTask(const Entry& e) {
    Mapping task;
    SPEC_RETURN_IF_ERROR(ReadMapping(e, kTaskKeys, {}, &task));
    if (const Entry* type = task.Find("type")) {
      std::string ignored;
      SPEC_RETURN_IF_ERROR(ReadChoice(*type, kTaskTypes, &ignored));
    }
    if (const Entry* env = task.Find("environment")) {
      spec_.environment_summary = SummarizeEnvironment(env->value);
    }
    SPEC_RETURN_IF_ERROR(ReadCodeDir(task.Find("code")));
    if (const Entry* entry = task.Find("entry_script")) {
      SPEC_RETURN_IF_ERROR(ReadEntryScript(*entry));
    }
    if (const Entry* args = task.Find("program_arguments")) SPEC_RETURN_IF_ERROR(ReadArgs(*args));
    if (const Entry* append = task.Find("append_row_to")) {
      SPEC_RETURN_IF_ERROR(ReadBinding(*append, "output", &spec_.append_row_to));
    }
    if (!spec_.append_row_to.empty()) {
      spec_.output_data = spec_.append_row_to;
    } else if (spec_.outputs.size() == 1) {
      spec_.output_data = spec_.outputs[0].name;
    }
    return RequireKeys(task, kTaskRequired);
  }

  // ---- batch deployment ----

  // Whether the document is a batch deployment: by its `$schema`
  // (batchDeployment, modelBatchDeployment), else by `type: model` or a key
  // only deployments have. An endpoint and a pipeline deployment are
  // refused here with what to run instead.
  Status RecognizeDeployment(const Mapping& top, bool* deployment) const {
    const Entry* schema = top.Find("$schema");
    std::string url = schema && schema->value.IsScalar() ? schema->value.Scalar() : "";
    for (char& c : url) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    const Entry* type = top.Find("type");
    std::string type_name = type && type->value.IsScalar() ? type->value.Scalar() : "";
    bool endpoint_keys = top.Find("endpoint_name") || top.Find("code_configuration") ||
                         top.Find("output_file_name");
    if (url.find("batchendpoint.schema") != std::string::npos ||
        (schema == nullptr && type == nullptr && top.Find("auth_mode"))) {
      const Entry& at = schema ? *schema : *top.Find("auth_mode");
      return ErrorAtValue(at, "this is a batch endpoint, which only names its deployments; run a "
                              "deployment's YAML instead: parallelrun run deployment.yml -i "
                              "data=DIR --model PATH");
    }
    bool pipeline_schema = url.find("pipelinecomponentbatchdeployment") != std::string::npos;
    if (pipeline_schema ||
        (type_name == "pipeline" && (top.Find("endpoint_name") || top.Find("component")))) {
      const Entry& at = type ? *type : *schema;
      return ErrorAtValue(at, "a pipeline component deployment (type: pipeline) runs a whole "
                              "pipeline, which parallelrun does not; run the parallel "
                              "component's YAML of the pipeline's parallel step instead");
    }
    *deployment = url.find("batchdeployment.schema") != std::string::npos ||
                  type_name == kDeploymentType || (type == nullptr && endpoint_keys);
    return Status::Ok();
  }

  Status ParseDeployment(const Mapping& top) {
    if (const Entry* type = top.Find("type")) {
      std::string ignored;
      SPEC_RETURN_IF_ERROR(ReadChoice(*type, {kDeploymentType}, &ignored));
    }
    SPEC_RETURN_IF_ERROR(ReadMetadata(top));
    if (const Entry* e = top.Find("properties")) SPEC_RETURN_IF_ERROR(ReadAnyMapping(*e));

    // Keys with no meaning on this machine: accepted, and named once.
    Names unused;
    const Entry* first_unused = nullptr;
    for (const char* key : {"endpoint_name", "compute", "environment"}) {
      const Entry* e = top.Find(key);
      if (e == nullptr) continue;
      if (std::string(key) == "environment") {
        spec_.environment_summary = SummarizeEnvironment(e->value);
      } else {
        std::string ignored;
        SPEC_RETURN_IF_ERROR(ReadText(*e, &ignored));
      }
      unused.push_back(key);
      if (first_unused == nullptr) first_unused = e;
    }

    const Entry* code = top.Find("code_configuration");
    if (code == nullptr) {
      return ErrorAt(top.mark,
                     "the deployment has no code_configuration: it is an MLflow no-code "
                     "deployment, whose scoring script Azure ML writes; parallelrun needs the "
                     "script: add code_configuration with code and scoring_script");
    }
    Mapping code_configuration;
    SPEC_RETURN_IF_ERROR(ReadMapping(*code, kCodeConfigurationKeys, {"scoring_script"},
                                     &code_configuration));
    SPEC_RETURN_IF_ERROR(ReadCodeDir(code_configuration.Find("code")));
    SPEC_RETURN_IF_ERROR(ReadEntryScript(*code_configuration.Find("scoring_script")));

    const Entry* model = top.Find("model");
    if (model == nullptr) return ErrorAt(top.mark, "missing required key 'model' in the spec");
    SPEC_RETURN_IF_ERROR(ReadModel(*model));

    // Settings: the newer `settings:` block, or the older top-level keys.
    // canonical name → the key that gave it and its line
    std::map<std::string, std::pair<std::string, int>> given;
    auto read_setting = [&](const Entry& e, const std::string& canonical) -> Status {
      auto [at, inserted] =
          given.emplace(canonical, std::make_pair(e.path, e.key_node.Mark().line + 1));
      if (!inserted) {
        return ErrorAt(e.key_node.Mark(), e.path + " and " + at->second.first + " (line " +
                                              std::to_string(at->second.second) +
                                              ") are both given; keep one");
      }
      return ReadSetting(e, canonical);
    };
    auto read_settings = [&](const Mapping& m) -> Status {
      for (const auto& [key, canonical] : kDeploymentSettingKeys) {
        if (const Entry* e = m.Find(key)) SPEC_RETURN_IF_ERROR(read_setting(*e, canonical));
      }
      if (const Entry* e = m.Find("retry_settings")) {
        Mapping retry;
        SPEC_RETURN_IF_ERROR(ReadMapping(*e, kRetryKeys, {}, &retry));
        if (const Entry* r = retry.Find("max_retries")) {
          SPEC_RETURN_IF_ERROR(read_setting(*r, "run_max_try"));
        }
        if (const Entry* r = retry.Find("timeout")) {
          SPEC_RETURN_IF_ERROR(read_setting(*r, "run_invocation_timeout"));
        }
      }
      if (const Entry* e = m.Find("environment_variables")) {
        if (e->path != "environment_variables") SPEC_RETURN_IF_ERROR(ReadEnvironmentVariables(*e));
      }
      return Status::Ok();
    };
    SPEC_RETURN_IF_ERROR(read_settings(top));
    if (const Entry* e = top.Find("settings")) {
      Mapping settings;
      SPEC_RETURN_IF_ERROR(ReadMapping(*e, kDeploymentSettingsKeys, {}, &settings));
      SPEC_RETURN_IF_ERROR(read_settings(settings));
    }
    if (const Entry* e = top.Find("resources")) {
      Mapping resources;
      SPEC_RETURN_IF_ERROR(ReadMapping(*e, kDeploymentResourcesKeys, {}, &resources));
      for (const Entry& r : resources.entries) {
        if (r.key == "instance_count") {
          SPEC_RETURN_IF_ERROR(read_setting(r, "node_count"));
        } else if (r.key == "properties") {
          SPEC_RETURN_IF_ERROR(ReadAnyMapping(r));
        } else {
          std::string ignored;
          SPEC_RETURN_IF_ERROR(ReadText(r, &ignored));
          unused.push_back(r.path);
          if (first_unused == nullptr) first_unused = &r;
        }
      }
    }
    spec_.setting_defaults = kDeploymentDefaults;

    Port in;
    in.name = kDeploymentInput;
    in.type = "uri_folder";
    in.where = LocationOf(top.mark);
    spec_.inputs.push_back(in);
    spec_.input_data.push_back(kDeploymentInput);
    Port out;
    out.name = kDeploymentOutput;
    out.type = "uri_folder";
    out.where = in.where;
    spec_.outputs.push_back(out);
    spec_.output_data = kDeploymentOutput;

    if (first_unused != nullptr) {
      SourceLocation at = LocationOf(first_unused->key_node.Mark());
      spec_.warnings.push_back(at.file + ":" + std::to_string(at.line) + ":" +
                               std::to_string(at.column) + ": note: " + Join(unused) +
                               (unused.size() == 1 ? " is" : " are") +
                               " not used locally (the deployment runs on this machine, in the "
                               "current Python)");
    }
    return Status::Ok();
  }

  // `model:` — "azureml:name@latest" / "azureml:name:1", or a mapping whose
  // `path` is a local folder or file (relative to the YAML) or a remote one.
  Status ReadModel(const Entry& e) {
    spec_.model_where = LocationOf(e.value.Mark());
    if (e.value.IsScalar()) {
      std::string ref = e.value.Scalar();
      if (ref.compare(0, 8, "azureml:") != 0) {
        return ErrorAtValue(e, "model '" + ref + "' is not a registered model (azureml:NAME@latest, "
                               "azureml:NAME:VERSION); for a local model write model: {path: "
                               "FOLDER}, or give --model PATH");
      }
      spec_.model_reference = ref;
      return Status::Ok();
    }
    Mapping m;
    SPEC_RETURN_IF_ERROR(ReadMapping(e, kModelKeys, {}, &m));
    std::string name, version;
    for (const Entry& k : m.entries) {
      if (k.key == "tags" || k.key == "properties") {
        SPEC_RETURN_IF_ERROR(ReadAnyMapping(k));
        continue;
      }
      std::string text;
      SPEC_RETURN_IF_ERROR(ReadText(k, &text));
      if (k.key == "name") name = text;
      if (k.key == "version") version = text;
      if (k.key != "path") continue;
      spec_.model_where = LocationOf(k.value.Mark());
      if (IsRemotePath(text)) {
        spec_.model_reference = text;
        continue;
      }
      fs::path path = (fs::path(spec_.dir) / text).lexically_normal();
      std::error_code ec;
      if (!fs::exists(path, ec)) {
        return ErrorAtValue(k, "model path " + text + " not found (looked for " + path.string() +
                                   ")");
      }
      spec_.model_path = path.string();
      if (spec_.model_path.size() > 1 && spec_.model_path.back() == '/') spec_.model_path.pop_back();
    }
    if (spec_.model_path.empty() && spec_.model_reference.empty()) {
      if (name.empty()) {
        return ErrorAt(m.mark, "model has neither a path nor a name; give path: FOLDER");
      }
      spec_.model_reference = "azureml:" + name + (version.empty() ? "@latest" : ":" + version);
    }
    return Status::Ok();
  }

  const std::string& text_;
  std::vector<YamlOverride> overrides_;  // --set, applied before reading
  SourceText source_;  // for errors that point into the file
  std::optional<YAML::Node> given_root_;  // a node of a larger document
  std::string what_ = "the spec";         // the whole spec, in messages
  bool overridden_ = false;  // the larger document had --set applied
  Spec spec_;
};

#undef SPEC_RETURN_IF_ERROR

}  // namespace

Result<Spec> ParseSpecText(const std::string& text, const std::string& path,
                           const std::vector<YamlOverride>& overrides) {
  return SpecParser(text, path, overrides).Parse();
}

Result<Spec> ParseSpecNode(const YAML::Node& node, const std::string& text, const std::string& path,
                           const std::string& what, bool overridden) {
  return SpecParser(node, text, path, what, overridden).Parse();
}

Result<Spec> ParseSpecFile(const std::string& path, const std::vector<YamlOverride>& overrides) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return Status::Usage("spec " + path + ": Is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Usage("spec " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::Usage("spec " + path + ": read error");
  return ParseSpecText(text.str(), path, overrides);
}

}  // namespace parallelrun
