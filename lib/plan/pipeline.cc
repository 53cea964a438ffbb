// The pipeline parser: `type: pipeline` YAML → Pipeline (plan/pipeline.h).
//
// Every mapping it models is read through ReadMapping, which rejects unknown
// and duplicate keys with "did you mean …", as the spec parser does. An
// inline parallel job is handed to the spec parser as a node of this
// document (plan/spec_node.h), after its bindings to the pipeline are taken
// out of it: the spec parser then checks it exactly as a parallel spec file,
// and its errors point at the job's lines here. yaml-cpp throws; every
// exception stops in PipelineParser::Parse.
#include "plan/pipeline.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "base/job_dir.h"
#include "base/source_error.h"
#include "base/spelling.h"
#include "base/text.h"
#include "plan/spec_node.h"
#include "plan/yaml_documents.h"
#include "plan/yaml_errors.h"

namespace parallelrun {

const PipelinePort* PipelineJob::FindInput(const std::string& n) const {
  for (const auto& p : inputs) {
    if (p.name == n) return &p;
  }
  return nullptr;
}

const PipelinePort* PipelineJob::FindOutput(const std::string& n) const {
  for (const auto& p : outputs) {
    if (p.name == n) return &p;
  }
  return nullptr;
}

const PipelineJob* Pipeline::FindJob(const std::string& n) const {
  for (const auto& j : jobs) {
    if (j.name == n) return &j;
  }
  return nullptr;
}

namespace {

namespace fs = std::filesystem;

#define PIPE_RETURN_IF_ERROR(expr)     \
  do {                                 \
    Status status_ = (expr);           \
    if (!status_.ok()) return status_; \
  } while (0)

using Names = std::vector<std::string>;

const Names kPipelineKeys = {"$schema",     "type",     "name",     "display_name",
                             "description", "experiment_name", "tags", "settings",
                             "inputs",      "outputs",  "jobs",     "compute",
                             "properties"};
const Names kSettingsKeys = {"default_compute", "default_datastore"};
const Names kPipelineInputKeys = {"type", "path", "mode", "default", "description", "optional"};
const Names kPortOutputKeys = {"type", "path", "mode", "description"};
const Names kJobTypes = {"parallel", "command"};
// Job types of Azure ML pipelines that a local run does not have.
const Names kOtherJobTypes = {"sweep", "automl", "spark", "pipeline", "data_transfer", "import",
                              "classification", "regression", "forecasting"};
const Names kParameterTypes = {"string", "integer", "number", "boolean"};
const Names kDataTypes = {"uri_folder", "uri_file", "mltable", "mlflow_model", "custom_model"};
// A job that runs a parallel component file: its bindings and the settings a
// pipeline job may set on it.
const Names kComponentJobKeys = {"type", "component", "inputs", "outputs", "compute",
                                 "display_name", "description", "tags", "name",
                                 "mini_batch_size", "max_concurrency_per_instance",
                                 "error_threshold", "mini_batch_error_threshold",
                                 "logging_level", "resources", "retry_settings"};
const Names kCommandJobKeys = {"type", "name", "display_name", "description", "tags", "compute",
                               "command", "code", "inputs", "outputs", "environment",
                               "environment_variables", "resources"};
const Names kCommandComponentJobKeys = {"type", "component", "inputs", "outputs", "compute",
                                        "display_name", "description", "tags", "name",
                                        "environment_variables", "resources"};
const Names kCommandComponentKeys = {"$schema", "type", "name", "display_name", "version",
                                     "description", "tags", "is_deterministic", "inputs",
                                     "outputs", "code", "environment", "environment_variables",
                                     "command", "resources"};
const Names kComponentInputKeys = {"type", "default", "optional", "description", "min", "max",
                                   "enum"};
const Names kJobInputKeys = {"type", "path", "mode", "description", "optional", "default"};

bool Contains(const Names& names, const std::string& s) {
  return std::find(names.begin(), names.end(), s) != names.end();
}

std::string Join(const Names& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

bool IsRemote(const std::string& s) {
  return s.find("://") != std::string::npos || s.rfind("azureml:", 0) == 0;
}

// `${{parent.inputs.x}}`, `${{parent.outputs.y}}`, `${{parent.jobs.J.outputs.y}}`
// → a binding; kNone when `text` is none of them.
PipelineBinding ParentBinding(const std::string& text) {
  static const std::regex kParent(
      R"(\s*\$\{\{\s*parent\.(inputs|outputs|jobs\.([A-Za-z0-9_-]+)\.outputs)\.([A-Za-z0-9_-]+)\s*\}\}\s*)");
  std::smatch m;
  PipelineBinding b;
  if (!std::regex_match(text, m, kParent)) return b;
  std::string kind = m[1];
  b.name = m[3];
  if (kind == "inputs") {
    b.kind = PipelineBinding::Kind::kPipelineInput;
  } else if (kind == "outputs") {
    b.kind = PipelineBinding::Kind::kPipelineOutput;
  } else {
    b.kind = PipelineBinding::Kind::kJobOutput;
    b.job = m[2];
  }
  return b;
}

std::string Describe(const YAML::Node& n) {
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  if (n.IsNull()) return "empty";
  return "'" + n.Scalar() + "'";
}

struct Entry {
  std::string key;
  std::string path;  // "jobs.score.inputs.data"
  YAML::Node key_node;
  YAML::Node value;
};

struct Mapping {
  YAML::Mark mark;
  std::vector<Entry> entries;
  const Entry* Find(const std::string& key) const {
    for (const Entry& e : entries) {
      if (e.key == key) return &e;
    }
    return nullptr;
  }
};

// A YAML file being read: the pipeline or a component it names.
struct Document {
  std::string path;
  std::string text;
  SourceText source;
  Document(std::string p, std::string t) : path(std::move(p)), text(std::move(t)), source(path, text) {}
};

Result<std::string> ReadFileText(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return Status::Usage(what + " " + path + ": Is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Usage(what + " " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Absolute(const std::string& dir, const std::string& path) {
  if (path.empty()) return dir;
  return (fs::path(dir) / path).lexically_normal().string();
}

std::string FolderOf(const std::string& file) {
  std::error_code ec;
  fs::path abs = fs::absolute(fs::path(file), ec);
  std::string dir = (ec ? fs::path(file) : abs).parent_path().lexically_normal().string();
  if (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

class PipelineParser {
 public:
  PipelineParser(const std::string& text, const std::string& path,
                 const std::vector<YamlOverride>& overrides)
      : doc_(path, text), overrides_(overrides) {
    pipeline_.path = path;
    pipeline_.dir = FolderOf(path);
    pipeline_.text = text;
  }

  Result<Pipeline> Parse() {
    const Document* doc = &doc_;
    try {
      Status s = ParseDocument(&doc);
      if (!s.ok()) return s;
      return std::move(pipeline_);
    } catch (const YAML::Exception& e) {
      YamlErrorPlace p = e.mark.is_null()
                             ? YamlErrorPlace{-1, -1, "invalid YAML: " + e.msg}
                             : ExplainYamlError(doc->text, e.mark.line, e.mark.column, e.msg);
      return doc->source.ErrorAt(p.line, p.column, p.message);
    }
  }

 private:
  // ---- errors ----

  Status ErrorAt(const Document& doc, const YAML::Mark& mark, const std::string& message) const {
    if (mark.is_null() && !overrides_.empty() && &doc == &doc_) {
      return Status::Usage(doc.path + ": " + message + " (a value given with --set)");
    }
    return mark.is_null() ? doc.source.ErrorAt(0, 0, message)
                          : doc.source.ErrorAt(mark.line, mark.column, message);
  }
  Status ErrorAt(const YAML::Mark& mark, const std::string& message) const {
    return ErrorAt(doc_, mark, message);
  }
  Status ErrorAtValue(const Document& doc, const Entry& e, const std::string& message) const {
    return ErrorAt(doc, e.value.IsNull() ? e.key_node.Mark() : e.value.Mark(), message);
  }
  Status WrongKind(const Document& doc, const Entry& e, const std::string& expected) const {
    return ErrorAtValue(doc, e, e.path + " must be " + expected + ", not " + Describe(e.value));
  }
  SourceLocation LocationOf(const Document& doc, const YAML::Mark& mark) const {
    SourceLocation where;
    where.file = doc.path;
    if (!mark.is_null()) {
      where.line = mark.line + 1;
      where.column = mark.column + 1;
    }
    return where;
  }
  Status ErrorAt(const SourceLocation& where, const std::string& message) const {
    const Document& doc = where.file == doc_.path ? doc_ : *component_doc_;
    YAML::Mark mark;
    mark.line = where.line - 1;
    mark.column = where.column - 1;
    if (where.line == 0) mark = YAML::Mark::null_mark();
    return ErrorAt(doc, mark, message);
  }

  // ---- readers ----

  Status ReadMapping(const Document& doc, const YAML::Node& node, const std::string& path,
                     const Names& allowed, Mapping* out) const {
    out->mark = node.Mark();
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const YAML::Node key = it->first;
      const std::string where = path.empty() ? "the pipeline" : path;
      if (!key.IsScalar()) {
        return ErrorAt(doc, key.Mark(), "keys in " + where + " must be names, not " + Describe(key));
      }
      const std::string name = key.Scalar();
      if (!allowed.empty() && !Contains(allowed, name)) {
        std::string suggestion = ClosestName(name, allowed);
        std::string message = "unknown key '" + name + "' in " + where;
        message += suggestion.empty() ? "; allowed keys: " + Join(allowed)
                                      : "; did you mean '" + suggestion + "'?";
        return ErrorAt(doc, key.Mark(), message);
      }
      if (!seen.insert(name).second) {
        return ErrorAt(doc, key.Mark(), "duplicate key '" + name + "' in " + where);
      }
      out->entries.push_back(Entry{name, path.empty() ? name : path + "." + name, key, it->second});
    }
    return Status::Ok();
  }

  Status ReadMapping(const Document& doc, const Entry& e, const Names& allowed, Mapping* out) const {
    if (!e.value.IsMap()) return WrongKind(doc, e, "a mapping");
    return ReadMapping(doc, e.value, e.path, allowed, out);
  }

  Status ReadText(const Document& doc, const Entry& e, std::string* out) const {
    if (!e.value.IsScalar()) return WrongKind(doc, e, "a scalar");
    *out = e.value.Scalar();
    return Status::Ok();
  }

  Status ReadChoice(const Document& doc, const Entry& e, const Names& allowed,
                    std::string* out) const {
    PIPE_RETURN_IF_ERROR(ReadText(doc, e, out));
    if (Contains(allowed, *out)) return Status::Ok();
    std::string suggestion = ClosestName(*out, allowed);
    return ErrorAtValue(doc, e,
                        e.path + ": unknown value '" + *out + "'" +
                            (suggestion.empty() ? "; allowed values: " + Join(allowed)
                                                : "; did you mean '" + suggestion + "'?"));
  }

  // A value that may be a binding to the pipeline; `allowed` says which kinds.
  Status ReadBindingOrText(const Document& doc, const Entry& e, bool is_path,
                           PipelineBinding* out) const {
    std::string text;
    PIPE_RETURN_IF_ERROR(ReadText(doc, e, &text));
    PipelineBinding b = ParentBinding(text);
    b.where = LocationOf(doc, e.value.IsNull() ? e.key_node.Mark() : e.value.Mark());
    if (b.kind == PipelineBinding::Kind::kNone) {
      // A remote path may hold the service's own expressions
      // (azureml://datastores/${{default_datastore}}/paths/${{name}}/…).
      if (text.find("${{") != std::string::npos && !(is_path && IsRemote(text))) {
        return ErrorAtValue(doc, e, e.path + " is '" + text +
                                        "'; a local run binds a whole value to "
                                        "${{parent.inputs.NAME}}, ${{parent.outputs.NAME}} or "
                                        "${{parent.jobs.JOB.outputs.NAME}}, nothing else");
      }
      b.text = text;
      if (!is_path) {
        b.kind = PipelineBinding::Kind::kLiteral;
      } else if (IsRemote(text)) {
        b.kind = PipelineBinding::Kind::kRemote;
      } else {
        b.kind = PipelineBinding::Kind::kPath;
        b.text = Absolute(FolderOf(doc.path), text);
      }
    }
    *out = b;
    return Status::Ok();
  }

  // ---- the document ----

  Status ParseDocument(const Document** current) {
    std::vector<YAML::Node> docs = LoadYamlDocuments(doc_.text);
    if (docs.empty() || docs[0].IsNull()) {
      return ErrorAt(YAML::Mark(), "the pipeline is empty");
    }
    if (docs.size() > 1) return ErrorAt(docs[1].Mark(), "the pipeline holds more than one YAML document");
    YAML::Node root = docs[0];
    if (!root.IsMap()) return ErrorAt(root.Mark(), "the pipeline must be a mapping, not " + Describe(root));
    PIPE_RETURN_IF_ERROR(ApplyYamlOverrides(root, overrides_));
    Mapping top;
    PIPE_RETURN_IF_ERROR(ReadMapping(doc_, root, "", kPipelineKeys, &top));
    const Entry* type = top.Find("type");
    if (type == nullptr) return ErrorAt(top.mark, "missing required key 'type' in the pipeline");
    std::string type_name;
    PIPE_RETURN_IF_ERROR(ReadChoice(doc_, *type, {"pipeline"}, &type_name));
    for (const char* key : {"$schema", "name", "display_name", "description", "experiment_name",
                            "compute"}) {
      if (const Entry* e = top.Find(key)) {
        std::string text;
        PIPE_RETURN_IF_ERROR(ReadText(doc_, *e, &text));
        if (e->key == "name") pipeline_.name = text;
        if (e->key == "display_name") pipeline_.display_name = text;
      }
    }
    if (pipeline_.name.empty()) {
      pipeline_.name = pipeline_.display_name.empty() ? fs::path(doc_.path).stem().string()
                                                      : pipeline_.display_name;
    }
    for (const char* key : {"tags", "properties"}) {
      if (const Entry* e = top.Find(key)) {
        if (!e->value.IsMap()) return WrongKind(doc_, *e, "a mapping");
      }
    }
    if (const Entry* e = top.Find("settings")) {
      Mapping settings;
      PIPE_RETURN_IF_ERROR(ReadMapping(doc_, *e, kSettingsKeys, &settings));
      for (const Entry& s : settings.entries) {
        std::string text;
        PIPE_RETURN_IF_ERROR(ReadText(doc_, s, &text));
      }
    }
    if (const Entry* e = top.Find("inputs")) PIPE_RETURN_IF_ERROR(ReadPipelinePorts(*e, true));
    if (const Entry* e = top.Find("outputs")) PIPE_RETURN_IF_ERROR(ReadPipelinePorts(*e, false));
    const Entry* jobs = top.Find("jobs");
    if (jobs == nullptr) return ErrorAt(top.mark, "missing required key 'jobs' in the pipeline");
    Mapping job_map;
    PIPE_RETURN_IF_ERROR(ReadMapping(doc_, *jobs, {}, &job_map));
    if (job_map.entries.empty()) return WrongKind(doc_, *jobs, "a mapping of at least one job");
    for (const Entry& j : job_map.entries) {
      PipelineJob job;
      job.name = j.key;
      job.where = LocationOf(doc_, j.key_node.Mark());
      PIPE_RETURN_IF_ERROR(ReadJob(j, &job, current));
      *current = &doc_;
      pipeline_.jobs.push_back(std::move(job));
    }
    PIPE_RETURN_IF_ERROR(CheckBindings());
    return Order();
  }

  Status ReadPipelinePorts(const Entry& e, bool inputs) {
    Mapping ports;
    PIPE_RETURN_IF_ERROR(ReadMapping(doc_, e, {}, &ports));
    for (const Entry& p : ports.entries) {
      PipelinePort port;
      port.name = p.key;
      port.where = LocationOf(doc_, p.key_node.Mark());
      if (p.value.IsScalar() && inputs) {
        // A literal: a parameter of the pipeline.
        port.type = "string";
        port.is_data = false;
        PIPE_RETURN_IF_ERROR(ReadBindingOrText(doc_, p, false, &port.value));
      } else {
        Mapping m;
        PIPE_RETURN_IF_ERROR(
            ReadMapping(doc_, p, inputs ? kPipelineInputKeys : kPortOutputKeys, &m));
        port.type = inputs ? "" : "uri_folder";
        if (const Entry* t = m.Find("type")) {
          Names types = kDataTypes;
          if (inputs) types.insert(types.end(), kParameterTypes.begin(), kParameterTypes.end());
          PIPE_RETURN_IF_ERROR(ReadChoice(doc_, *t, types, &port.type));
        }
        port.is_data = !Contains(kParameterTypes, port.type);
        if (const Entry* mode = m.Find("mode")) PIPE_RETURN_IF_ERROR(ReadText(doc_, *mode, &port.mode));
        if (const Entry* d = m.Find("description")) {
          std::string ignored;
          PIPE_RETURN_IF_ERROR(ReadText(doc_, *d, &ignored));
        }
        if (const Entry* o = m.Find("optional")) {
          std::string text;
          PIPE_RETURN_IF_ERROR(ReadText(doc_, *o, &text));
          if (text != "true" && text != "false") return WrongKind(doc_, *o, "true or false");
          port.optional = text == "true";
        }
        const Entry* path = m.Find("path");
        const Entry* def = m.Find("default");
        if (path != nullptr && def != nullptr) {
          return ErrorAt(def->key_node.Mark(), p.path + " has both path and default; keep one");
        }
        if (path != nullptr) {
          PIPE_RETURN_IF_ERROR(ReadBindingOrText(doc_, *path, true, &port.value));
          if (port.value.kind != PipelineBinding::Kind::kPath &&
              port.value.kind != PipelineBinding::Kind::kRemote) {
            return ErrorAtValue(doc_, *path, path->path + " of the pipeline must be a path");
          }
        } else if (def != nullptr) {
          PIPE_RETURN_IF_ERROR(ReadBindingOrText(doc_, *def, port.is_data, &port.value));
        }
        if (inputs && port.type.empty()) {
          return ErrorAt(m.mark, "missing required key 'type' in " + p.path);
        }
      }
      (inputs ? pipeline_.inputs : pipeline_.outputs).push_back(std::move(port));
    }
    return Status::Ok();
  }

  // ---- jobs ----

  Status ReadJob(const Entry& j, PipelineJob* job, const Document** current) {
    if (!j.value.IsMap()) return WrongKind(doc_, j, "a mapping (a job)");
    const YAML::Node type_node = j.value["type"];
    const YAML::Node component_node = j.value["component"];
    std::string type;
    if (type_node && type_node.IsScalar()) type = type_node.Scalar();
    Entry type_entry{"type", j.path + ".type", j.value, type_node};
    if (Contains(kOtherJobTypes, type)) {
      return ErrorAtValue(doc_, type_entry,
                          "job " + j.key + " is a " + type +
                              " job; parallelrun runs the parallel and command jobs of a "
                              "pipeline, not " + type + " jobs");
    }
    std::string component_path;
    if (component_node) {
      Entry c{"component", j.path + ".component", j.value, component_node};
      PIPE_RETURN_IF_ERROR(ReadText(doc_, c, &component_path));
      if (component_path.rfind("azureml:", 0) == 0 || component_path.find("://") != std::string::npos) {
        return ErrorAtValue(doc_, c, "job " + j.key + " uses the registered component " +
                                         component_path + ", which a local run cannot fetch; "
                                         "give its YAML file: component: ./path/to/component.yml");
      }
      if (component_path.rfind("file:", 0) == 0) component_path.erase(0, 5);
      component_path = Absolute(pipeline_.dir, component_path);
      job->component_file = component_path;
      auto text = ReadFileText(component_path, "component");
      if (!text.ok()) return ErrorAtValue(doc_, c, "job " + j.key + ": " + text.status().message());
      component_doc_ = std::make_unique<Document>(component_path, *text);
      *current = component_doc_.get();
      component_root_ = YAML::Load(component_doc_->text);
      std::string component_type;
      if (component_root_.IsMap() && component_root_["type"] && component_root_["type"].IsScalar()) {
        component_type = component_root_["type"].Scalar();
      }
      if (type.empty()) type = component_type == "ParallelComponent" ? "parallel" : component_type;
      if (component_type == "pipeline" || Contains(kOtherJobTypes, component_type)) {
        return ErrorAtValue(doc_, c, "job " + j.key + " runs a " + component_type +
                                         " component (" + component_path +
                                         "); parallelrun runs parallel and command components");
      }
      bool parallel_component = component_type == "parallel" || component_type == "ParallelComponent";
      if ((type == "parallel") != parallel_component || (type == "command" && component_type != "command")) {
        return ErrorAtValue(doc_, type_entry, "job " + j.key + " is of type '" + type +
                                                  "' but its component " + component_path +
                                                  " is of type '" + component_type + "'");
      }
    }
    if (!type_node && type.empty()) {
      return ErrorAt(j.value.Mark(), "missing required key 'type' in " + j.path +
                                          "; allowed values: " + Join(kJobTypes));
    }
    if (type_node) PIPE_RETURN_IF_ERROR(ReadChoice(doc_, type_entry, kJobTypes, &type));
    if (type == "parallel") {
      job->kind = PipelineJob::Kind::kParallel;
      return component_node ? ReadParallelComponentJob(j, job) : ReadInlineParallelJob(j, job);
    }
    job->kind = PipelineJob::Kind::kCommand;
    return ReadCommandJob(j, job);
  }

  // A job's inputs: bindings (a scalar `${{parent…}}` or literal, or a
  // mapping whose path is one); `declared` are the ports a component declares.
  Status ReadJobPorts(const Entry& j, const Mapping& job_map, bool inputs, PipelineJob* job) {
    const Entry* e = job_map.Find(inputs ? "inputs" : "outputs");
    if (e == nullptr) return Status::Ok();
    Mapping ports;
    PIPE_RETURN_IF_ERROR(ReadMapping(doc_, *e, {}, &ports));
    for (const Entry& p : ports.entries) {
      PipelinePort port;
      port.name = p.key;
      port.where = LocationOf(doc_, p.key_node.Mark());
      if (p.value.IsScalar()) {
        PIPE_RETURN_IF_ERROR(ReadBindingOrText(doc_, p, false, &port.value));
        if (!inputs && port.value.kind != PipelineBinding::Kind::kPipelineOutput) {
          return ErrorAtValue(doc_, p, p.path + " must be ${{parent.outputs.NAME}} or a mapping "
                                               "with type, mode and path");
        }
        if (inputs && port.value.kind == PipelineBinding::Kind::kPipelineOutput) {
          return ErrorAtValue(doc_, p, p.path + " is an input; it cannot be bound to a pipeline "
                                               "output");
        }
        port.is_data = port.value.kind != PipelineBinding::Kind::kLiteral;
      } else {
        Mapping m;
        PIPE_RETURN_IF_ERROR(ReadMapping(doc_, p, inputs ? kJobInputKeys : kPortOutputKeys, &m));
        if (const Entry* t = m.Find("type")) PIPE_RETURN_IF_ERROR(ReadText(doc_, *t, &port.type));
        if (const Entry* mode = m.Find("mode")) PIPE_RETURN_IF_ERROR(ReadText(doc_, *mode, &port.mode));
        port.is_data = !Contains(kParameterTypes, port.type);
        if (const Entry* path = m.Find("path")) {
          PIPE_RETURN_IF_ERROR(ReadBindingOrText(doc_, *path, port.is_data, &port.value));
          if (!inputs && port.value.kind != PipelineBinding::Kind::kPipelineOutput &&
              port.value.kind != PipelineBinding::Kind::kPath &&
              port.value.kind != PipelineBinding::Kind::kRemote) {
            return ErrorAtValue(doc_, *path, path->path + " must be a path or ${{parent.outputs.NAME}}");
          }
          if (inputs && port.value.kind == PipelineBinding::Kind::kPipelineOutput) {
            return ErrorAtValue(doc_, *path, path->path + " is an input; it cannot be bound to a "
                                                        "pipeline output");
          }
        }
      }
      (void)j;
      (inputs ? job->inputs : job->outputs).push_back(std::move(port));
    }
    return Status::Ok();
  }

  // The type of what a binding reads, when it is known here.
  std::string SourceType(const PipelineBinding& b) const {
    if (b.kind == PipelineBinding::Kind::kPipelineInput) {
      for (const auto& p : pipeline_.inputs) {
        if (p.name == b.name) return p.type;
      }
    }
    return "uri_folder";
  }

  Status ReadInlineParallelJob(const Entry& j, PipelineJob* job) {
    Mapping job_map;
    PIPE_RETURN_IF_ERROR(ReadMapping(doc_, j.value, j.path, {}, &job_map));
    PIPE_RETURN_IF_ERROR(ReadJobPorts(j, job_map, true, job));
    PIPE_RETURN_IF_ERROR(ReadJobPorts(j, job_map, false, job));
    // The spec parser sees declarations only: a binding's value comes from
    // the pipeline at run time (-i/-o of the job's run), not from the spec.
    YAML::Node node = j.value;
    for (const char* side : {"inputs", "outputs"}) {
      YAML::Node ports = node[side];
      if (!ports || !ports.IsMap()) continue;
      std::vector<std::pair<YAML::Node, YAML::Node>> entries;  // (key, value)
      for (auto it = ports.begin(); it != ports.end(); ++it) entries.emplace_back(it->first, it->second);
      for (auto& [key, value] : entries) {
        const std::string name = key.Scalar();
        const PipelinePort* port =
            std::string(side) == "inputs" ? job->FindInput(name) : job->FindOutput(name);
        if (value.IsScalar()) {
          if (port->value.kind == PipelineBinding::Kind::kLiteral) continue;
          YAML::Node decl(YAML::NodeType::Map);
          decl["type"] = port->value.kind == PipelineBinding::Kind::kPipelineOutput
                             ? std::string("uri_folder")
                             : SourceType(port->value);
          ports[key] = decl;
        } else if (value.IsMap() && value["path"]) {
          value.remove("path");
          if (!value["type"] && std::string(side) == "inputs") value["type"] = SourceType(port->value);
        }
      }
    }
    auto spec = ParseSpecNode(node, doc_.text, doc_.path, "job " + j.key, !overrides_.empty());
    if (!spec.ok()) return spec.status();
    job->spec = std::move(*spec);
    if (job->spec.format != SpecFormat::kV2Parallel) {
      return ErrorAt(j.value.Mark(), "job " + j.key + " must be a v2 parallel job (type: parallel)");
    }
    for (auto& port : job->inputs) {
      if (const Port* p = job->spec.FindInput(port.name)) {
        port.type = p->type;
        port.is_data = p->is_data;
      }
    }
    job->environment_summary = job->spec.environment_summary;
    return Status::Ok();
  }

  Status ReadParallelComponentJob(const Entry& j, PipelineJob* job) {
    Mapping job_map;
    PIPE_RETURN_IF_ERROR(ReadMapping(doc_, j.value, j.path, kComponentJobKeys, &job_map));
    auto spec = ParseSpecFile(job->component_file);
    if (!spec.ok()) return spec.status();
    job->spec = std::move(*spec);
    job->environment_summary = job->spec.environment_summary;
    PIPE_RETURN_IF_ERROR(ReadJobPorts(j, job_map, true, job));
    PIPE_RETURN_IF_ERROR(ReadJobPorts(j, job_map, false, job));
    Names in_names, out_names;
    for (const auto& p : job->spec.inputs) in_names.push_back(p.name);
    for (const auto& p : job->spec.outputs) out_names.push_back(p.name);
    PIPE_RETURN_IF_ERROR(CheckPortNames(j, *job, in_names, out_names));
    for (auto& port : job->inputs) {
      const Port* p = job->spec.FindInput(port.name);
      port.type = p->type;
      port.is_data = p->is_data;
    }
    for (const auto& p : job->spec.outputs) {
      if (job->FindOutput(p.name) == nullptr) {
        PipelinePort port;
        port.name = p.name;
        port.type = p.type;
        port.where = job->where;
        job->outputs.push_back(port);
      }
    }
    // Settings written on the job win over the component's, as run flags do.
    static const std::map<std::string, std::string> kSettingKeys = {
        {"mini_batch_size", "mini_batch_size"},
        {"max_concurrency_per_instance", "process_count_per_node"},
        {"error_threshold", "error_threshold"},
        {"mini_batch_error_threshold", "allowed_failed_count"},
        {"logging_level", "logging_level"}};
    for (const auto& [key, canonical] : kSettingKeys) {
      if (const Entry* e = job_map.Find(key)) PIPE_RETURN_IF_ERROR(ReadText(doc_, *e, &job->settings[canonical]));
    }
    if (const Entry* e = job_map.Find("resources")) {
      Mapping r;
      PIPE_RETURN_IF_ERROR(ReadMapping(doc_, *e, {"instance_count", "instance_type", "shm_size",
                                                  "docker_args", "properties"}, &r));
      if (const Entry* c = r.Find("instance_count")) {
        PIPE_RETURN_IF_ERROR(ReadText(doc_, *c, &job->settings["node_count"]));
      }
    }
    if (const Entry* e = job_map.Find("retry_settings")) {
      Mapping r;
      PIPE_RETURN_IF_ERROR(ReadMapping(doc_, *e, {"max_retries", "timeout"}, &r));
      if (const Entry* c = r.Find("max_retries")) PIPE_RETURN_IF_ERROR(ReadText(doc_, *c, &job->settings["run_max_try"]));
      if (const Entry* c = r.Find("timeout")) {
        PIPE_RETURN_IF_ERROR(ReadText(doc_, *c, &job->settings["run_invocation_timeout"]));
      }
    }
    return Status::Ok();
  }

  Status CheckPortNames(const Entry& j, const PipelineJob& job, const Names& in_names,
                        const Names& out_names) const {
    for (int side = 0; side < 2; side++) {
      const auto& ports = side == 0 ? job.inputs : job.outputs;
      const Names& names = side == 0 ? in_names : out_names;
      const std::string kind = side == 0 ? "input" : "output";
      for (const auto& port : ports) {
        if (Contains(names, port.name)) continue;
        std::string suggestion = ClosestName(port.name, names);
        return ErrorAt(port.where, "job " + j.key + " binds " + kind + " '" + port.name +
                                       "', which its component " + job.component_file +
                                       " does not declare" +
                                       (suggestion.empty()
                                            ? (names.empty() ? "" : "; its " + kind + "s are: " + Join(names))
                                            : "; did you mean '" + suggestion + "'?"));
      }
    }
    return Status::Ok();
  }

  Status ReadCommandJob(const Entry& j, PipelineJob* job) {
    const bool by_file = !job->component_file.empty();
    Mapping job_map;
    PIPE_RETURN_IF_ERROR(ReadMapping(doc_, j.value, j.path,
                                     by_file ? kCommandComponentJobKeys : kCommandJobKeys, &job_map));
    PIPE_RETURN_IF_ERROR(ReadJobPorts(j, job_map, true, job));
    PIPE_RETURN_IF_ERROR(ReadJobPorts(j, job_map, false, job));
    const Document& doc = by_file ? *component_doc_ : doc_;
    Mapping m;
    if (by_file) {
      if (!component_root_.IsMap()) {
        return ErrorAt(doc, component_root_.Mark(), "the component must be a mapping");
      }
      PIPE_RETURN_IF_ERROR(ReadMapping(doc, component_root_, "", kCommandComponentKeys, &m));
    } else {
      m = job_map;
    }
    const Entry* command = m.Find("command");
    if (command == nullptr) {
      return ErrorAt(doc, m.mark, "missing required key 'command' in " +
                                      (by_file ? "the component " + doc.path : j.path));
    }
    PIPE_RETURN_IF_ERROR(ReadText(doc, *command, &job->command));
    job->command_where = LocationOf(doc, command->value.Mark());
    job->code_dir = FolderOf(doc.path);
    if (const Entry* code = m.Find("code")) {
      std::string text;
      PIPE_RETURN_IF_ERROR(ReadText(doc, *code, &text));
      if (IsRemote(text)) return ErrorAtValue(doc, *code, "code " + text + " is remote; give a local folder");
      job->code_dir = Absolute(FolderOf(doc.path), text);
      std::error_code ec;
      if (!fs::is_directory(job->code_dir, ec)) {
        return ErrorAtValue(doc, *code, "code folder " + text + " not found (looked for " +
                                            job->code_dir + ")");
      }
    }
    if (job->code_dir.size() > 1 && job->code_dir.back() == '/') job->code_dir.pop_back();
    if (const Entry* env = m.Find("environment")) {
      job->environment_summary = env->value.IsScalar() ? env->value.Scalar() : "inline environment";
      if (env->value.IsMap() && env->value["image"] && env->value["image"].IsScalar()) {
        job->environment_summary = "docker image " + env->value["image"].Scalar();
      }
    }
    for (const Mapping* source : {&m, &job_map}) {
      const Document& d = source == &m ? doc : doc_;
      if (const Entry* e = source->Find("environment_variables")) {
        Mapping vars;
        PIPE_RETURN_IF_ERROR(ReadMapping(d, *e, {}, &vars));
        for (const Entry& v : vars.entries) {
          PIPE_RETURN_IF_ERROR(ReadText(d, v, &job->environment_variables[v.key]));
        }
      }
      if (const Entry* e = source->Find("resources")) {
        if (!e->value.IsMap()) return WrongKind(d, *e, "a mapping");
      }
    }
    if (by_file) {
      Names in_names, out_names;
      std::vector<PipelinePort> declared_in, declared_out;
      for (int side = 0; side < 2; side++) {
        const Entry* e = m.Find(side == 0 ? "inputs" : "outputs");
        if (e == nullptr) continue;
        Mapping ports;
        PIPE_RETURN_IF_ERROR(ReadMapping(doc, *e, {}, &ports));
        for (const Entry& p : ports.entries) {
          Mapping pm;
          PIPE_RETURN_IF_ERROR(ReadMapping(doc, p, side == 0 ? kComponentInputKeys : kPortOutputKeys, &pm));
          PipelinePort port;
          port.name = p.key;
          port.where = LocationOf(doc, p.key_node.Mark());
          port.type = "uri_folder";
          if (const Entry* t = pm.Find("type")) PIPE_RETURN_IF_ERROR(ReadText(doc, *t, &port.type));
          port.is_data = !Contains(kParameterTypes, port.type);
          if (const Entry* d = pm.Find("default")) {
            PIPE_RETURN_IF_ERROR(ReadText(doc, *d, &job->input_defaults[p.key]));
          }
          if (const Entry* o = pm.Find("optional")) {
            std::string ignored;  // an optional input goes in a $[[ … ]] group
            PIPE_RETURN_IF_ERROR(ReadText(doc, *o, &ignored));
          }
          (side == 0 ? in_names : out_names).push_back(p.key);
          (side == 0 ? declared_in : declared_out).push_back(port);
        }
      }
      PIPE_RETURN_IF_ERROR(CheckPortNames(j, *job, in_names, out_names));
      for (int side = 0; side < 2; side++) {
        auto& ports = side == 0 ? job->inputs : job->outputs;
        for (const auto& d : side == 0 ? declared_in : declared_out) {
          auto it = std::find_if(ports.begin(), ports.end(),
                                 [&](const PipelinePort& p) { return p.name == d.name; });
          if (it == ports.end()) {
            PipelinePort port = d;
            port.where = job->where;
            ports.push_back(port);
          } else {
            it->type = d.type;
            it->is_data = d.is_data;
          }
        }
      }
    }
    // Every placeholder of the command names a port of the job.
    static const std::regex kPlaceholder(R"(\$\{\{\s*([A-Za-z_.]+?)\.([A-Za-z0-9_-]+)\s*\}\})");
    for (auto it = std::sregex_iterator(job->command.begin(), job->command.end(), kPlaceholder);
         it != std::sregex_iterator(); ++it) {
      std::string kind = (*it)[1], name = (*it)[2];
      if (kind != "inputs" && kind != "outputs") {
        return ErrorAtValue(doc, *command, "command uses " + it->str() +
                                               "; a command reads ${{inputs.NAME}} and "
                                               "${{outputs.NAME}} of its own job");
      }
      const bool input = kind == "inputs";
      if ((input ? job->FindInput(name) : job->FindOutput(name)) != nullptr) continue;
      if (input && job->input_defaults.count(name)) continue;
      Names names;
      for (const auto& p : input ? job->inputs : job->outputs) names.push_back(p.name);
      std::string suggestion = ClosestName(name, names);
      return ErrorAtValue(doc, *command,
                          "command uses " + it->str() + ", which is not an " +
                              (input ? "input" : "output") + " of job " + j.key +
                              (suggestion.empty() ? "" : "; did you mean ${{" + kind + "." + suggestion + "}}?"));
    }
    return Status::Ok();
  }

  // ---- bindings and order ----

  Status CheckBindings() {
    Names job_names;
    for (const auto& j : pipeline_.jobs) job_names.push_back(j.name);
    Names in_names, out_names;
    for (const auto& p : pipeline_.inputs) in_names.push_back(p.name);
    for (const auto& p : pipeline_.outputs) out_names.push_back(p.name);
    auto not_found = [](const std::string& what, const std::string& name, const Names& names) {
      std::string suggestion = ClosestName(name, names);
      if (!suggestion.empty()) return "; did you mean '" + suggestion + "'?";
      if (names.empty()) return "; the pipeline has no " + what + "s";
      return "; its " + what + "s are: " + Join(names);
    };
    for (auto& job : pipeline_.jobs) {
      for (const auto* ports : {&job.inputs, &job.outputs}) {
        for (const auto& port : *ports) {
          const PipelineBinding& b = port.value;
          std::string written;
          if (b.kind == PipelineBinding::Kind::kPipelineInput) {
            if (!Contains(in_names, b.name)) {
              return ErrorAt(b.where, "job " + job.name + " binds ${{parent.inputs." + b.name +
                                          "}}, but the pipeline has no input '" + b.name + "'" +
                                          not_found("input", b.name, in_names));
            }
          } else if (b.kind == PipelineBinding::Kind::kPipelineOutput) {
            if (!Contains(out_names, b.name)) {
              return ErrorAt(b.where, "job " + job.name + " binds ${{parent.outputs." + b.name +
                                          "}}, but the pipeline has no output '" + b.name + "'" +
                                          not_found("output", b.name, out_names));
            }
          } else if (b.kind == PipelineBinding::Kind::kJobOutput) {
            std::string ref = "${{parent.jobs." + b.job + ".outputs." + b.name + "}}";
            const PipelineJob* from = pipeline_.FindJob(b.job);
            if (from == nullptr) {
              return ErrorAt(b.where, "job " + job.name + " reads " + ref +
                                          ", but the pipeline has no job '" + b.job + "'" +
                                          not_found("job", b.job, job_names));
            }
            if (from == &job) {
              return ErrorAt(b.where, "job " + job.name + " reads " + ref + ", its own output");
            }
            if (from->FindOutput(b.name) == nullptr) {
              Names outs;
              for (const auto& o : from->outputs) outs.push_back(o.name);
              std::string suggestion = ClosestName(b.name, outs);
              return ErrorAt(b.where, "job " + job.name + " reads " + ref + ", but job " + b.job +
                                          " has no output '" + b.name + "'" +
                                          (!suggestion.empty() ? "; did you mean '" + suggestion + "'?"
                                           : outs.empty()      ? "; it has no outputs"
                                                               : "; its outputs are: " + Join(outs)));
            }
            if (!Contains(job.upstream, b.job)) job.upstream.push_back(b.job);
          }
        }
      }
    }
    return Status::Ok();
  }

  // Jobs in run order: the file's order, each job moved after the jobs it
  // reads from. A cycle is an error that names its jobs.
  Status Order() {
    std::vector<PipelineJob> ordered;
    std::vector<PipelineJob> left = std::move(pipeline_.jobs);
    std::set<std::string> done;
    while (!left.empty()) {
      bool moved = false;
      for (auto it = left.begin(); it != left.end(); ++it) {
        bool ready = std::all_of(it->upstream.begin(), it->upstream.end(),
                                 [&](const std::string& u) { return done.count(u) > 0; });
        if (ready) {
          done.insert(it->name);
          ordered.push_back(std::move(*it));
          left.erase(it);
          moved = true;
          break;
        }
      }
      if (moved) continue;
      // Every job left waits on another one left: follow the first waits
      // until a job repeats.
      std::map<std::string, const PipelineJob*> by_name;
      for (const auto& j : left) by_name[j.name] = &j;
      std::vector<std::string> path;
      const PipelineJob* j = &left.front();
      while (std::find(path.begin(), path.end(), j->name) == path.end()) {
        path.push_back(j->name);
        for (const auto& u : j->upstream) {
          if (by_name.count(u)) {
            j = by_name[u];
            break;
          }
        }
      }
      auto start = std::find(path.begin(), path.end(), j->name);
      std::vector<std::string> cycle(start, path.end());
      std::string chain;
      // A reads B's output: B runs before A. Say it in run order.
      std::reverse(cycle.begin(), cycle.end());
      for (const auto& n : cycle) chain += n + " → ";
      chain += cycle.front();
      return ErrorAt(by_name[cycle.front()]->where,
                     "the jobs " + chain + " read each other's outputs in a cycle (each reads an "
                     "output of the one before it), so none of them can run first");
    }
    pipeline_.jobs = std::move(ordered);
    return Status::Ok();
  }

  Document doc_;
  std::vector<YamlOverride> overrides_;
  std::unique_ptr<Document> component_doc_;  // the component file being read
  YAML::Node component_root_;
  Pipeline pipeline_;
};

#undef PIPE_RETURN_IF_ERROR

}  // namespace

bool IsPipelineFile(const std::string& path) {
  try {
    YAML::Node root = YAML::LoadFile(path);
    return root.IsMap() && root["type"] && root["type"].IsScalar() &&
           root["type"].Scalar() == "pipeline";
  } catch (const YAML::Exception&) {
    return false;
  }
}

Result<Pipeline> ParsePipelineText(const std::string& text, const std::string& path,
                                   const std::vector<YamlOverride>& overrides) {
  return PipelineParser(text, path, overrides).Parse();
}

Result<Pipeline> ParsePipelineFile(const std::string& path,
                                   const std::vector<YamlOverride>& overrides) {
  auto text = ReadFileText(path, "pipeline");
  if (!text.ok()) return text.status();
  return ParsePipelineText(*text, path, overrides);
}

namespace {

std::string Where(const SourceLocation& w) {
  if (w.line == 0) return w.file + ": ";
  return w.file + ":" + std::to_string(w.line) + ":" + std::to_string(w.column) + ": ";
}

}  // namespace

Result<std::vector<BoundJob>> BindPipeline(
    const Pipeline& pipeline, const std::vector<std::pair<std::string, std::string>>& inputs,
    const std::vector<std::pair<std::string, std::string>>& outputs, const std::string& cwd,
    const std::string& job_dir) {
  // An error at a place in the pipeline file, with its line and a caret.
  auto error_at = [&pipeline](const SourceLocation& w, const std::string& message) {
    if (w.file != pipeline.path || w.line == 0) return Status::Usage(Where(w) + message);
    return SourceText(pipeline.path, pipeline.text).ErrorAt(w.line - 1, w.column - 1, message);
  };
  // The pipeline's own ports: -i/-o, then what the file says.
  std::map<std::string, std::string> in_values, out_values;
  for (int side = 0; side < 2; side++) {
    const auto& given = side == 0 ? inputs : outputs;
    const auto& ports = side == 0 ? pipeline.inputs : pipeline.outputs;
    const std::string flag = side == 0 ? "-i" : "-o";
    const std::string kind = side == 0 ? "input" : "output";
    Names names;
    for (const auto& p : ports) names.push_back(p.name);
    for (const auto& [name, value] : given) {
      auto port = std::find_if(ports.begin(), ports.end(),
                               [&](const PipelinePort& p) { return p.name == name; });
      if (port == ports.end()) {
        std::string suggestion = ClosestName(name, names);
        return Status::Usage(flag + " " + name + ": the pipeline has no " + kind + " '" + name + "'" +
                             (!suggestion.empty() ? "; did you mean '" + suggestion + "'?"
                              : names.empty()     ? "; it declares no " + kind + "s"
                                                  : "; its " + kind + "s are: " + Join(names)));
      }
      auto& values = side == 0 ? in_values : out_values;
      if (values.count(name)) return Status::Usage(kind + " " + name + " is given twice");
      values[name] = side == 1 || port->is_data ? Absolute(cwd, value) : value;
    }
  }
  for (const auto& p : pipeline.inputs) {
    if (in_values.count(p.name) || p.value.kind == PipelineBinding::Kind::kNone) continue;
    if (p.value.kind == PipelineBinding::Kind::kRemote) continue;  // said when a job reads it
    in_values[p.name] = p.value.text;
  }
  std::vector<std::string> pipeline_notes;
  for (const auto& p : pipeline.outputs) {
    if (out_values.count(p.name)) continue;
    if (p.value.kind == PipelineBinding::Kind::kPath) {
      out_values[p.name] = p.value.text;
      continue;
    }
    out_values[p.name] = Absolute(job_dir, "outputs/" + p.name);
    if (p.value.kind == PipelineBinding::Kind::kRemote) {
      pipeline_notes.push_back("pipeline output " + p.name + " is " + p.value.text +
                               ", which is remote; writing it to " + out_values[p.name] +
                               " (-o " + p.name + "=PATH chooses the place)");
    }
  }

  std::vector<BoundJob> bound;
  std::map<std::string, size_t> index;
  for (const auto& job : pipeline.jobs) {
    BoundJob b;
    b.job = &job;
    b.dir = Absolute(job_dir, job.name);
    b.notes = pipeline_notes;
    pipeline_notes.clear();
    for (const auto& port : job.outputs) {
      const PipelineBinding& v = port.value;
      if (v.kind == PipelineBinding::Kind::kPipelineOutput) {
        b.outputs[port.name] = out_values.at(v.name);
      } else if (v.kind == PipelineBinding::Kind::kPath) {
        b.outputs[port.name] = v.text;
      } else {
        b.outputs[port.name] = DefaultOutputDir(b.dir, port.name);
        if (v.kind == PipelineBinding::Kind::kRemote) {
          b.notes.push_back("output " + port.name + " of job " + job.name + " is " + v.text +
                            ", which is remote; writing it to " + b.outputs[port.name]);
        }
      }
    }
    for (const auto& port : job.inputs) {
      const PipelineBinding& v = port.value;
      const std::string set_path = "jobs." + job.name + ".inputs." + port.name;
      switch (v.kind) {
        case PipelineBinding::Kind::kNone:
          break;
        case PipelineBinding::Kind::kLiteral:
        case PipelineBinding::Kind::kPath:
          b.inputs[port.name] = v.text;
          break;
        case PipelineBinding::Kind::kRemote:
          return error_at(v.where, "input " + port.name + " of job " + job.name +
                               " is " + v.text + ", a remote path; a local run needs a local "
                               "path: give one with --set " + set_path + ".path=PATH, or bind "
                               "the input to a pipeline input and give it with -i NAME=PATH");
        case PipelineBinding::Kind::kPipelineInput: {
          auto it = in_values.find(v.name);
          if (it == in_values.end()) {
            const PipelinePort* p = nullptr;
            for (const auto& q : pipeline.inputs) {
              if (q.name == v.name) p = &q;
            }
            if (p != nullptr && p->value.kind == PipelineBinding::Kind::kRemote) {
              return error_at(p->value.where, "pipeline input " + v.name + " is " +
                                   p->value.text + ", a remote path, which job " + job.name +
                                   " reads; a local run needs a local path: give one with -i " +
                                   v.name + "=PATH");
            }
            if (p != nullptr && p->optional) break;  // the job's input has no value either
            return Status::Usage("pipeline input " + v.name + " (read by job " + job.name +
                                 ") has no value; give it with -i " + v.name + "=" +
                                 (p != nullptr && !p->is_data ? "VALUE" : "PATH"));
          }
          b.inputs[port.name] = it->second;
          break;
        }
        case PipelineBinding::Kind::kPipelineOutput:
          break;  // refused by the parser
        case PipelineBinding::Kind::kJobOutput: {
          const BoundJob& from = bound[index.at(v.job)];
          const std::string& path = from.outputs.at(v.name);
          b.inputs[port.name] = path;
          b.from_jobs[port.name] = {v.job, path};
          break;
        }
      }
    }
    index[job.name] = bound.size();
    bound.push_back(std::move(b));
  }
  return bound;
}

Result<std::string> ResolveCommand(const BoundJob& b) {
  const PipelineJob& job = *b.job;
  static const std::regex kPlaceholder(R"(\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_-]+)\s*\}\})");
  // The value of one placeholder; false when it has none.
  auto value_of = [&](const std::smatch& m, std::string* out) {
    const bool input = m[1] == "inputs";
    const std::string name = m[2];
    const auto& values = input ? b.inputs : b.outputs;
    auto it = values.find(name);
    std::string value;
    if (it != values.end()) {
      value = it->second;
    } else if (input && job.input_defaults.count(name)) {
      value = job.input_defaults.at(name);
    } else {
      return false;
    }
    const PipelinePort* port = input ? job.FindInput(name) : job.FindOutput(name);
    bool is_data = !input || (port != nullptr && port->is_data);
    *out = is_data ? ShellQuote(value) : value;
    return true;
  };
  auto substitute = [&](const std::string& text, bool optional, std::string* out) -> Status {
    std::string result;
    auto begin = text.cbegin();
    std::smatch m;
    while (std::regex_search(begin, text.cend(), m, kPlaceholder)) {
      result.append(begin, m[0].first);
      std::string value;
      if (!value_of(m, &value)) {
        if (optional) return Status::JobFailed("");  // drop the group
        std::string name = m[2];
        return Status::Usage(Where(job.command_where) + "the command of job " + job.name +
                             " uses " + m.str() + ", which has no value; bind it in the job's " +
                             m[1].str() + ", or put it in an optional group $[[ … ]]");
      }
      result += value;
      begin = m[0].second;
    }
    result.append(begin, text.cend());
    *out = result;
    return Status::Ok();
  };
  std::string out;
  const std::string& text = job.command;
  size_t pos = 0;
  while (true) {
    size_t open = text.find("$[[", pos);
    std::string plain = text.substr(pos, open == std::string::npos ? std::string::npos : open - pos);
    std::string piece;
    Status s = substitute(plain, false, &piece);
    if (!s.ok()) return s;
    out += piece;
    if (open == std::string::npos) break;
    size_t close = text.find("]]", open + 3);
    if (close == std::string::npos) {
      return Status::Usage(Where(job.command_where) + "the command of job " + job.name +
                           " opens an optional group $[[ without its ]]");
    }
    s = substitute(text.substr(open + 3, close - open - 3), true, &piece);
    if (s.ok()) out += piece;
    pos = close + 2;
  }
  return out;
}

}  // namespace parallelrun
