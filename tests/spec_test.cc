// Tests of lib/spec.cc: both spec formats, what they fill in, and every kind
// of error with its whole message (file:line:col, source line, caret).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <catch2/catch.hpp>

#include "parallelrun/spec.h"
#include "temp_dir.h"

namespace parallelrun {
namespace {

namespace fs = std::filesystem;

const std::string kSpecs = std::string(PARALLELRUN_TEST_DATA) + "/specs";

// A fresh folder under the system temp dir, removed with everything in it.

// A spec at <tmp>/spec.yaml next to an entry script <tmp>/score.py.
class SpecDir {
 public:
  SpecDir() : spec_(dir_.path() + "/spec.yaml") { dir_.Write("score.py", "def run(b):\n  return b\n"); }

  const TempDir& dir() const { return dir_; }
  const std::string& spec() const { return spec_; }

  Result<Spec> Parse(const std::string& text) const { return ParseSpecText(text, spec_); }

  Spec Parsed(const std::string& text) const {
    Result<Spec> r = Parse(text);
    INFO(r.status().message());
    REQUIRE(r.ok());
    return std::move(r).value();
  }

  // The whole message for a problem on line `line`, whose text is `source`
  // (ASCII, no tabs), at the first occurrence of `token` in it.
  std::string At(int line, const std::string& source, const std::string& token,
                 const std::string& message) const {
    size_t column = source.find(token);
    REQUIRE(column != std::string::npos);
    return spec_ + ":" + std::to_string(line) + ":" + std::to_string(column + 1) + ": " +
           message + "\n  " + source + "\n  " + std::string(column, ' ') + "^";
  }

  std::string Error(const std::string& text) const {
    Result<Spec> r = Parse(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kUsage);
    return r.status().message();
  }

 private:
  TempDir dir_{"spec_test"};
  std::string spec_;
};

Spec ParsedFile(const std::string& path) {
  Result<Spec> r = ParseSpecFile(path);
  INFO(r.status().message());
  REQUIRE(r.ok());
  return std::move(r).value();
}

// ---- ParallelComponent ------------------------------------------------------

TEST_CASE("ParallelComponent: the batch_score sample", "[spec]") {
  const std::string path = kSpecs + "/valid/cs_batch_score.yaml";
  Spec spec = ParsedFile(path);
  const std::string dir = kSpecs + "/valid";
  CHECK(spec.path == path);
  CHECK(spec.dir == dir);
  CHECK(spec.format == SpecFormat::kParallelComponent);
  CHECK(spec.name == "microsoft.com.azureml.samples.parallel_batch_score");
  CHECK(spec.version == "0.0.1");
  CHECK(spec.display_name == "Parallel Batch Score");
  CHECK(spec.description == "Score images with a trained model.");

  REQUIRE(spec.inputs.size() == 2);
  CHECK(spec.inputs[0].name == "model_path");
  CHECK(spec.inputs[0].type == "path");
  CHECK(spec.inputs[0].is_data);
  CHECK_FALSE(spec.inputs[0].is_tabular);
  CHECK_FALSE(spec.inputs[0].optional);
  CHECK(spec.inputs[0].description == "The model to score with");
  CHECK(spec.inputs[0].where.file == path);
  CHECK(spec.inputs[0].where.line == 11);
  CHECK(spec.inputs[0].where.column == 3);
  CHECK(spec.inputs[1].name == "images_to_score");
  REQUIRE(spec.outputs.size() == 1);
  CHECK(spec.outputs[0].name == "scored_dataset");
  CHECK(spec.FindOutput("scored_dataset") == &spec.outputs[0]);
  CHECK(spec.FindInput("scored_dataset") == nullptr);
  CHECK(spec.FindInput("images_to_score") == &spec.inputs[1]);

  CHECK(spec.input_data == std::vector<std::string>{"images_to_score"});
  CHECK(spec.output_data == "scored_dataset");
  CHECK(spec.append_row_to.empty());
  CHECK(spec.code_dir == dir + "/src");
  CHECK(spec.entry_script == dir + "/src/batch_score.py");
  CHECK(spec.entry_where.line == 31);
  CHECK(spec.entry_where.column == 10);
  CHECK(spec.args_template ==
        "--model_path {inputs.model_path} --scored_dataset {outputs.scored_dataset}");
  CHECK(spec.args_where.line == 32);
  CHECK(spec.args_where.column == 9);
  CHECK(spec.environment_summary ==
        "docker image mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04, conda file ./conda.yaml");
  CHECK(spec.settings.empty());
}

TEST_CASE("ParallelComponent: parameters, modes and a list of input_data", "[spec]") {
  Spec spec = ParsedFile(kSpecs + "/valid/cs_all_keys.yaml");
  REQUIRE(spec.inputs.size() == 7);
  const Port& images = *spec.FindInput("images");
  CHECK(images.is_data);
  CHECK(images.mode == "mount");
  const Port& labels = *spec.FindInput("labels");
  CHECK(labels.optional);
  CHECK(labels.mode == "download");
  const Port& threshold = *spec.FindInput("threshold");
  CHECK_FALSE(threshold.is_data);
  CHECK(threshold.type == "Float");
  CHECK(threshold.default_value == std::optional<std::string>("0.5"));
  CHECK_FALSE(spec.FindInput("count")->default_value.has_value());
  CHECK(spec.FindInput("count")->optional);
  CHECK(spec.FindInput("verbose")->default_value == std::optional<std::string>("false"));
  CHECK_FALSE(spec.FindInput("color")->is_data);
  CHECK(spec.FindInput("label")->default_value == std::optional<std::string>("hello world"));
  CHECK(spec.FindOutput("scored")->mode == "upload");
  CHECK(spec.FindOutput("linked")->mode == "link");
  CHECK(spec.FindOutput("linked")->description == "A linked output");
  // `inputs.images` and the bare `labels` both name inputs.
  CHECK(spec.input_data == std::vector<std::string>{"images", "labels"});
  CHECK(spec.output_data == "scored");
  CHECK(spec.environment_variables ==
        std::map<std::string, std::string>{{"MODE", "fast"}, {"OMP_NUM_THREADS", "1"}});
  CHECK(spec.description == "A component that uses every key.\n");
  CHECK(spec.environment_summary.empty());
}

TEST_CASE("ParallelComponent: type lists, tables and lower-case parameter types", "[spec]") {
  Spec list = ParsedFile(kSpecs + "/valid/cs_type_list.yaml");
  CHECK(list.FindInput("files")->type == "AnyFile|AnyDirectory");
  CHECK(list.FindInput("files")->is_data);
  CHECK_FALSE(list.FindInput("files")->is_tabular);
  CHECK(list.FindInput("table")->is_tabular);
  CHECK(list.FindInput("table")->mode == "direct");
  CHECK(list.input_data == std::vector<std::string>{"files", "table"});
  CHECK(list.entry_script == kSpecs + "/valid/score.py");

  Spec lower = ParsedFile(kSpecs + "/valid/cs_lowercase_parameters.yaml");
  CHECK(lower.FindInput("data")->is_data);
  for (const char* name : {"name", "n", "ratio", "flag", "mode"}) {
    INFO(name);
    CHECK_FALSE(lower.FindInput(name)->is_data);
  }
  CHECK(lower.FindInput("ratio")->optional);
  CHECK(lower.FindInput("mode")->optional);
  CHECK(lower.FindOutput("out")->type == "path");
  CHECK(lower.environment_summary == "azureml:my-env:1");
}

TEST_CASE("ParallelComponent: a dotted module entry and the default code folder", "[spec]") {
  Spec module = ParsedFile(kSpecs + "/valid/cs_module_entry.yaml");
  CHECK(module.code_dir == kSpecs + "/valid/src");
  CHECK(module.entry_script == kSpecs + "/valid/src/pkg/main.py");

  Spec minimal = ParsedFile(kSpecs + "/valid/cs_minimal.yaml");
  CHECK(minimal.code_dir == kSpecs + "/valid");
  CHECK(minimal.entry_script == kSpecs + "/valid/score.py");
  CHECK(minimal.args_template.empty());
  CHECK(minimal.args_where.line == 0);
}

// ---- v2 parallel -------------------------------------------------------------

TEST_CASE("v2: the iris sample's settings, bindings and task", "[spec]") {
  const std::string path = kSpecs + "/valid/v2_iris.yaml";
  Spec spec = ParsedFile(path);
  CHECK(spec.format == SpecFormat::kV2Parallel);
  const Port& table = *spec.FindInput("input_data");
  CHECK(table.type == "mltable");
  CHECK(table.mode == "direct");
  CHECK(table.is_tabular);
  CHECK(table.default_value == std::optional<std::string>(kSpecs + "/valid/neural-iris-mltable"));
  const Port& model = *spec.FindInput("score_model");
  CHECK(model.is_data);
  CHECK_FALSE(model.is_tabular);
  CHECK(model.mode == "download");
  const Port& out = *spec.FindOutput("job_output_file");
  CHECK(out.type == "uri_file");
  CHECK(out.mode == "rw_mount");
  // Remote paths stay as written.
  CHECK(out.default_value ==
        std::optional<std::string>(
            "azureml://datastores/${{default_datastore}}/paths/${{name}}/aggregated_returns.csv"));

  CHECK(spec.input_data == std::vector<std::string>{"input_data"});
  CHECK(spec.append_row_to == "job_output_file");
  CHECK(spec.output_data == "job_output_file");

  std::map<std::string, std::string> values;
  for (const auto& [name, setting] : spec.settings) values[name] = setting.value;
  CHECK(values == std::map<std::string, std::string>{
                      {"mini_batch_size", "10kb"},
                      {"node_count", "2"},
                      {"process_count_per_node", "2"},
                      {"logging_level", "DEBUG"},
                      {"error_threshold", "5"},
                      {"allowed_failed_count", "5"},
                      {"run_max_try", "2"},
                      {"run_invocation_timeout", "60"},
                  });
  const SpecSetting& timeout = spec.settings.at("run_invocation_timeout");
  CHECK(timeout.where.file == path);
  CHECK(timeout.where.line == 21);
  CHECK(timeout.where.column == 12);
  CHECK(spec.settings.at("mini_batch_size").where.line == 12);
  CHECK(spec.settings.at("mini_batch_size").where.column == 18);

  CHECK(spec.environment_variables ==
        std::map<std::string, std::string>{{"AZUREML_PARALLEL_EXAMPLE", "2a_yaml"}});
  CHECK(spec.code_dir == kSpecs + "/valid/iris");
  CHECK(spec.entry_script == kSpecs + "/valid/iris/iris_prediction.py");
  CHECK(spec.entry_where.line == 27);
  CHECK(spec.environment_summary ==
        "docker image mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04, "
        "conda file ./environment/environment_parallel.yml");
  CHECK(spec.args_template ==
        "--model ${{inputs.score_model}} --allowed_failed_percent 30 --task_overhead_timeout 1200 "
        "--progress_update_timeout 600 --first_task_creation_timeout 600 "
        "--resource_monitor_interval 20");
  CHECK(spec.args_where.line == 31);
}

TEST_CASE("v2: partition_keys, resources and retry_settings of a component", "[spec]") {
  Spec spec = ParsedFile(kSpecs + "/valid/v2_component_all_keys.yaml");
  CHECK(spec.name == "all_keys");
  CHECK(spec.version == "1");
  CHECK(spec.settings.at("partition_keys").value == R"(["Store","Brand"])");
  CHECK(spec.settings.at("partition_keys").where.line == 46);
  CHECK(spec.settings.at("partition_keys").where.column == 3);
  CHECK(spec.settings.at("node_count").value == "1");
  CHECK(spec.settings.at("mini_batch_size").value == "1MB");
  CHECK(spec.settings.at("process_count_per_node").value == "4");
  CHECK(spec.settings.at("error_threshold").value == "-1");
  CHECK(spec.settings.at("run_max_try").value == "3");
  CHECK(spec.settings.at("run_invocation_timeout").value == "30");
  CHECK(spec.settings.at("logging_level").value == "WARNING");
  // `mltable` without `mode: direct` is a file list, not a table.
  CHECK(spec.FindInput("table")->is_tabular);
  CHECK_FALSE(spec.FindInput("model")->is_tabular);
  CHECK(spec.FindInput("limit")->default_value == std::optional<std::string>("10"));
  CHECK_FALSE(spec.FindInput("limit")->is_data);
  CHECK(spec.FindInput("scale")->optional);
  CHECK(spec.input_data == std::vector<std::string>{"table"});
  CHECK(spec.append_row_to == "rows");
  CHECK(spec.output_data == "rows");
  CHECK(spec.environment_summary == "azureml:sklearn-env@latest");
  CHECK(spec.entry_script == kSpecs + "/valid/src/batch_score.py");
}

TEST_CASE("v2: a job's literal inputs, local paths and top-level instance_count", "[spec]") {
  Spec spec = ParsedFile(kSpecs + "/valid/v2_job_literals.yaml");
  const Port& threshold = *spec.FindInput("threshold");
  CHECK_FALSE(threshold.is_data);
  CHECK(threshold.type == "string");
  CHECK(threshold.default_value == std::optional<std::string>("0.25"));
  CHECK(spec.FindInput("label")->default_value == std::optional<std::string>("cats"));
  CHECK(spec.FindInput("images")->default_value ==
        std::optional<std::string>(kSpecs + "/valid/images"));
  CHECK(spec.FindInput("deep")->default_value == std::optional<std::string>("azureml:my-data:1"));
  CHECK(spec.FindInput("deep")->mode == "eval_mount");
  CHECK(spec.FindOutput("result")->default_value ==
        std::optional<std::string>(kSpecs + "/valid/out"));
  CHECK(spec.settings.at("node_count").value == "3");
  CHECK(spec.settings.at("mini_batch_size").value == "5");
  // No append_row_to: the only output receives the result.
  CHECK(spec.append_row_to.empty());
  CHECK(spec.output_data == "result");
  CHECK(spec.code_dir == kSpecs + "/valid");
}

TEST_CASE("v2: output_data without append_row_to, module entries, environments", "[spec]") {
  SpecDir d;
  Spec two = d.Parsed(
      "type: parallel\n"
      "inputs: {data: {type: uri_folder}}\n"
      "outputs: {a: {type: uri_folder}, b: {type: uri_folder}}\n"
      "input_data: ${{inputs.data}}\n"
      "task: {entry_script: score.py}\n");
  CHECK(two.output_data.empty());
  CHECK(two.FindOutput("a")->type == "uri_folder");
  CHECK(two.code_dir == d.dir().path());

  Spec module = ParsedFile(kSpecs + "/valid/v2_module_entry.yaml");
  CHECK(module.entry_script == kSpecs + "/valid/src/pkg/main.py");
  CHECK(module.output_data == "out");
  CHECK(module.environment_summary == "docker build context ./docker-context");

  Spec flow = ParsedFile(kSpecs + "/valid/v2_flow_style.yaml");
  CHECK(flow.environment_summary == "environment my-env:3");
  CHECK(flow.settings.at("partition_keys").value == R"(["user"])");
}

TEST_CASE("every valid spec parses, every invalid one fails at a place in it", "[spec]") {
  int valid = 0;
  for (const auto& entry : fs::directory_iterator(kSpecs + "/valid")) {
    if (entry.path().extension() != ".yaml") continue;
    INFO(entry.path().string());
    ParsedFile(entry.path().string());
    ++valid;
  }
  CHECK(valid >= 12);
  int invalid = 0;
  for (const char* folder : {"/invalid", "/semantic"}) {
    for (const auto& entry : fs::directory_iterator(kSpecs + folder)) {
      if (entry.path().extension() != ".yaml") continue;
      const std::string path = entry.path().string();
      Result<Spec> r = ParseSpecFile(path);
      INFO(path);
      REQUIRE_FALSE(r.ok());
      CHECK(r.status().code() == Status::Code::kUsage);
      CHECK(r.status().message().rfind(path + ":", 0) == 0);
      ++invalid;
    }
  }
  CHECK(invalid >= 30);
}


// ---- errors: the document ---------------------------------------------------

TEST_CASE("errors: empty, not a mapping, several documents", "[spec]") {
  SpecDir d;
  const std::string empty =
      "the spec is empty; expected a mapping with 'type: ParallelComponent' or 'type: parallel'";
  CHECK(d.Error("") == d.spec() + ":1:1: " + empty + "\n  \n  ^");
  CHECK(d.Error("# only a comment\n") == d.At(1, "# only a comment", "#", empty));
  CHECK(d.Error("- type: parallel\n") ==
        d.At(1, "- type: parallel", "-",
             "the spec must be a mapping of keys to values, not a list"));
  CHECK(d.Error("parallel\n") ==
        d.At(1, "parallel", "parallel",
             "the spec must be a mapping of keys to values, not 'parallel'"));
  CHECK(d.Error("type: parallel\n---\ntype: parallel\n") ==
        d.At(3, "type: parallel", "type", "the spec holds more than one YAML document"));
}

TEST_CASE("errors: YAML syntax errors keep the format", "[spec]") {
  SpecDir d;
  CHECK(d.Error("type: parallel\ninputs: {data: [1, 2}\n") ==
        d.At(2, "inputs: {data: [1, 2}", "}", "invalid YAML: illegal flow end"));
  CHECK(d.Error("type: parallel\ntask:\n  code: .\n entry_script: x\n") ==
        d.At(4, " entry_script: x", "entry",
             "this line is indented 1 space, which matches no key above it; indent it like "
             "'code:' (2 spaces) or 'task:' (0 spaces)"));
}

TEST_CASE("errors: the type key", "[spec]") {
  SpecDir d;
  CHECK(d.Error("name: x\nversion: 1\n") ==
        d.At(1, "name: x", "name",
             "missing required key 'type' in the spec; allowed values: ParallelComponent, "
             "parallel"));
  CHECK(d.Error("name: x\ntpye: parallel\n") ==
        d.At(2, "tpye: parallel", "tpye", "unknown key 'tpye' in the spec; did you mean 'type'?"));
  CHECK(d.Error("type: CommandComponent\n") ==
        d.At(1, "type: CommandComponent", "Command",
             "type: unknown value 'CommandComponent'; allowed values: ParallelComponent, parallel"));
  CHECK(d.Error("type: Parallel\n") ==
        d.At(1, "type: Parallel", "Parallel",
             "type: unknown value 'Parallel'; did you mean 'parallel'?"));
  CHECK(d.Error("type: [parallel]\n") ==
        d.At(1, "type: [parallel]", "[", "type must be a scalar, not a list"));
}

// ---- errors: keys -----------------------------------------------------------

TEST_CASE("errors: unknown keys at every level, with and without a suggestion", "[spec]") {
  SpecDir d;
  CHECK(d.Error("type: parallel\nmini_batch_sise: 10\n") ==
        d.At(2, "mini_batch_sise: 10", "mini",
             "unknown key 'mini_batch_sise' in the spec; did you mean 'mini_batch_size'?"));
  CHECK(d.Error("type: parallel\ntask:\n  entry_scirpt: score.py\n") ==
        d.At(3, "  entry_scirpt: score.py", "entry",
             "unknown key 'entry_scirpt' in task; did you mean 'entry_script'?"));
  CHECK(d.Error("type: parallel\nretry_settings:\n  time_out: 5\n") ==
        d.At(3, "  time_out: 5", "time",
             "unknown key 'time_out' in retry_settings; did you mean 'timeout'?"));
  // A prefix of a key is suggested even when it is more than two edits away.
  CHECK(d.Error("type: parallel\nmax_concurrency: 2\n") ==
        d.At(2, "max_concurrency: 2", "max",
             "unknown key 'max_concurrency' in the spec; did you mean "
             "'max_concurrency_per_instance'?"));
  CHECK(d.Error("type: parallel\nresources: {gpus: 2}\n") ==
        d.At(2, "resources: {gpus: 2}", "gpus",
             "unknown key 'gpus' in resources; allowed keys: instance_count, instance_type, "
             "shm_size, docker_args, properties"));
  CHECK(d.Error("type: parallel\ninputs:\n  data: {type: uri_folder, optinal: true}\n") ==
        d.At(3, "  data: {type: uri_folder, optinal: true}", "optinal",
             "unknown key 'optinal' in inputs.data; did you mean 'optional'?"));
  CHECK(d.Error("type: parallel\noutputs:\n  out: {type: uri_folder, datastore_mode: upload}\n") ==
        d.At(3, "  out: {type: uri_folder, datastore_mode: upload}", "datastore",
             "unknown key 'datastore_mode' in outputs.out; allowed keys: type, mode, path, "
             "description"));
  CHECK(d.Error("type: ParallelComponent\nenviroment: azureml:env:1\n") ==
        d.At(2, "enviroment: azureml:env:1", "enviroment",
             "unknown key 'enviroment' in the spec; did you mean 'environment'?"));
  CHECK(d.Error("type: ParallelComponent\ncommand: python score.py\n") ==
        d.At(2, "command: python score.py", "command",
             "unknown key 'command' in the spec; allowed keys: $schema, name, version, "
             "display_name, type, description, tags, is_deterministic, successful_return_code, "
             "inputs, outputs, code, environment, environment_variables, parallel"));
  CHECK(d.Error("type: ParallelComponent\nparallel:\n  node_count: 2\n") ==
        d.At(3, "  node_count: 2", "node",
             "unknown key 'node_count' in parallel; allowed keys: input_data, output_data, "
             "entry, args"));
  // v2 keys are not ParallelComponent keys, and the other way round.
  CHECK(d.Error("type: ParallelComponent\nmini_batch_size: 10\n") ==
        d.At(2, "mini_batch_size: 10", "mini",
             "unknown key 'mini_batch_size' in the spec; allowed keys: $schema, name, version, "
             "display_name, type, description, tags, is_deterministic, successful_return_code, "
             "inputs, outputs, code, environment, environment_variables, parallel"));
  CHECK(d.Error("type: parallel\nparallel: {}\n") ==
        d.At(2, "parallel: {}", "parallel",
             "unknown key 'parallel' in the spec; allowed keys: $schema, type, name, version, "
             "display_name, description, tags, is_deterministic, inputs, outputs, compute, "
             "input_data, mini_batch_size, partition_keys, resources, instance_count, "
             "max_concurrency_per_instance, error_threshold, mini_batch_error_threshold, "
             "logging_level, retry_settings, environment_variables, identity, task"));
}

TEST_CASE("errors: duplicate keys and keys that are not names", "[spec]") {
  SpecDir d;
  CHECK(d.Error("type: parallel\nname: a\nname: b\n") ==
        d.At(3, "name: b", "name", "duplicate key 'name' in the spec (first given at line 2)"));
  CHECK(d.Error("type: parallel\ntask:\n  code: .\n  code: src\n") ==
        d.At(4, "  code: src", "code", "duplicate key 'code' in task (first given at line 3)"));
  CHECK(d.Error("type: parallel\n? [x]\n: y\n") ==
        d.At(2, "? [x]", "[", "keys in the spec must be names, not a list"));
}

TEST_CASE("errors: missing required keys point at the enclosing mapping", "[spec]") {
  SpecDir d;
  const std::string task = "task: {entry_script: score.py}\n";
  CHECK(d.Error("type: parallel\ninputs: {data: {type: uri_folder}}\ninput_data: ${{inputs.data}}\n") ==
        d.At(1, "type: parallel", "type", "missing required key 'task' in the spec"));
  CHECK(d.Error("type: parallel\n" + task) ==
        d.At(1, "type: parallel", "type", "missing required key 'input_data' in the spec"));
  CHECK(d.Error("type: parallel\ntask:\n  code: .\n") ==
        d.At(3, "  code: .", "code", "missing required key 'entry_script' in task"));
  CHECK(d.Error("type: ParallelComponent\nversion: 1\nparallel: {}\n") ==
        d.At(3, "parallel: {}", "{", "missing required key 'input_data' in parallel"));
  CHECK(d.Error("type: ParallelComponent\nversion: 1\n") ==
        d.At(1, "type: ParallelComponent", "type", "missing required key 'name' in the spec"));
  CHECK(d.Error("type: ParallelComponent\nname: x\nversion: 1\n") ==
        d.At(1, "type: ParallelComponent", "type",
             "missing required key 'parallel' in the spec"));
  CHECK(d.Error("type: ParallelComponent\ninputs: {images: {type: path}}\n"
                "outputs: {scores: {type: path}}\n"
                "parallel: {input_data: images, output_data: scores}\n") ==
        d.At(4, "parallel: {input_data: images, output_data: scores}", "{",
             "missing required key 'entry' in parallel"));
  CHECK(d.Error("type: parallel\ninputs:\n  data:\n    mode: direct\n") ==
        d.At(4, "    mode: direct", "mode", "missing required key 'type' in inputs.data"));
  CHECK(d.Error("type: ParallelComponent\ninputs:\n  colour: {type: Enum}\n") ==
        d.At(3, "  colour: {type: Enum}", "{", "missing required key 'enum' in inputs.colour"));
}

// ---- errors: kinds and values -------------------------------------------------

TEST_CASE("errors: wrong kinds name the key and the expected kind", "[spec]") {
  SpecDir d;
  const std::string v2 = "type: parallel\n";
  CHECK(d.Error(v2 + "retry_settings: 3\n") ==
        d.At(2, "retry_settings: 3", "3", "retry_settings must be a mapping, not '3'"));
  CHECK(d.Error(v2 + "partition_keys: Store\n") ==
        d.At(2, "partition_keys: Store", "Store",
             "partition_keys must be a list of scalars, not 'Store'"));
  CHECK(d.Error(v2 + "partition_keys: [a, [b]]\n") ==
        d.At(2, "partition_keys: [a, [b]]", "[b]",
             "partition_keys[1] must be a scalar, not a list"));
  CHECK(d.Error(v2 + "partition_keys: []\n") ==
        d.At(2, "partition_keys: []", "[",
             "partition_keys must be a non-empty list of keys, not an empty list"));
  CHECK(d.Error(v2 + "mini_batch_size: {size: 10}\n") ==
        d.At(2, "mini_batch_size: {size: 10}", "{",
             "mini_batch_size must be a scalar, not a mapping"));
  // An empty value is reported at its key.
  CHECK(d.Error(v2 + "logging_level:\n") ==
        d.At(2, "logging_level:", "logging", "logging_level must be a scalar, not empty"));
  CHECK(d.Error(v2 + "environment_variables:\n  A: [1]\n") ==
        d.At(3, "  A: [1]", "[", "environment_variables.A must be a scalar, not a list"));
  CHECK(d.Error(v2 + "environment_variables: [A=1]\n") ==
        d.At(2, "environment_variables: [A=1]", "[",
             "environment_variables must be a mapping, not a list"));
  CHECK(d.Error(v2 + "tags: [a]\n") ==
        d.At(2, "tags: [a]", "[", "tags must be a mapping, not a list"));
  CHECK(d.Error(v2 + "description: {a: b}\n") ==
        d.At(2, "description: {a: b}", "{", "description must be a scalar, not a mapping"));
  CHECK(d.Error(v2 + "inputs: [data]\n") ==
        d.At(2, "inputs: [data]", "[", "inputs must be a mapping, not a list"));
  CHECK(d.Error(v2 + "inputs:\n  data: [uri_folder]\n") ==
        d.At(3, "  data: [uri_folder]", "[",
             "inputs.data must be a mapping or a literal value, not a list"));
  CHECK(d.Error(v2 + "outputs:\n  out:\n") ==
        d.At(3, "  out:", "out", "outputs.out must be a mapping, not empty"));
  CHECK(d.Error(v2 + "task:\n  entry_script: [a.py]\n") ==
        d.At(3, "  entry_script: [a.py]", "[", "task.entry_script must be a scalar, not a list"));
  CHECK(d.Error("type: ParallelComponent\nparallel:\n  args:\n    - --model\n") ==
        d.At(4, "    - --model", "-", "parallel.args must be a scalar, not a list"));
}

TEST_CASE("errors: booleans, numbers and fixed choices", "[spec]") {
  SpecDir d;
  CHECK(d.Error("type: parallel\ninputs:\n  n: {type: integer, optional: maybe}\n") ==
        d.At(3, "  n: {type: integer, optional: maybe}", "maybe",
             "inputs.n.optional must be true or false, not 'maybe'"));
  CHECK(d.Error("type: parallel\ninputs:\n  n: {type: integer, optional: \"true\"}\n") ==
        d.At(3, "  n: {type: integer, optional: \"true\"}", "\"true\"",
             "inputs.n.optional must be true or false, not 'true' (quoted, so text; remove "
             "the quotes)"));
  CHECK(d.Error("type: parallel\ninputs:\n  n: {type: integer, min: low}\n") ==
        d.At(3, "  n: {type: integer, min: low}", "low", "inputs.n.min must be a number, not 'low'"));
  CHECK(d.Error("type: parallel\ninputs:\n  n: {type: integer, max: 1e3}\n") ==
        d.At(3, "  n: {type: integer, max: 1e3}", "1e3", "inputs.n.max must be a number, not '1e3'"));
  CHECK(d.Error("type: parallel\nis_deterministic: 1\n") ==
        d.At(2, "is_deterministic: 1", "1", "is_deterministic must be true or false, not '1'"));
  CHECK(d.Error("type: parallel\ninputs:\n  data: {type: uri_fodler}\n") ==
        d.At(3, "  data: {type: uri_fodler}", "uri",
             "inputs.data.type: unknown value 'uri_fodler'; did you mean 'uri_folder'?"));
  CHECK(d.Error("type: parallel\noutputs:\n  out: {mode: mount}\n") ==
        d.At(3, "  out: {mode: mount}", "mount",
             "outputs.out.mode: unknown value 'mount'; allowed values: rw_mount, upload, direct"));
  CHECK(d.Error("type: parallel\ntask: {type: command}\n") ==
        d.At(2, "task: {type: command}", "command",
             "task.type: unknown value 'command'; allowed values: run_function, model, function"));
  CHECK(d.Error("type: ParallelComponent\nsuccessful_return_code: zero\n") ==
        d.At(2, "successful_return_code: zero", "zero",
             "successful_return_code: unknown value 'zero'; did you mean 'Zero'?"));
  CHECK(d.Error("type: ParallelComponent\ninputs:\n  d: {type: path, datastore_mode: upload}\n") ==
        d.At(3, "  d: {type: path, datastore_mode: upload}", "upload",
             "inputs.d.datastore_mode: unknown value 'upload'; allowed values: mount, download, "
             "direct"));
}

TEST_CASE("errors: names of the spec and of its ports", "[spec]") {
  SpecDir d;
  CHECK(d.Error("type: parallel\nname: my job\n") ==
        d.At(2, "name: my job", "my", "name 'my job' may hold only letters, digits, '-', '.' and '_'"));
  CHECK(d.Error("type: parallel\ninputs:\n  2data: {type: uri_folder}\n") ==
        d.At(3, "  2data: {type: uri_folder}", "2data",
             "input name '2data' may hold only letters, digits, '_' and '-', and must start "
             "with a letter or '_'"));
  CHECK(d.Error("type: parallel\noutputs:\n  my out: {}\n") ==
        d.At(3, "  my out: {}", "my",
             "output name 'my out' may hold only letters, digits, '_' and '-', and must start "
             "with a letter or '_'"));
  CHECK(d.Error("type: parallel\ninputs: {data: {type: uri_folder}}\n"
                "outputs:\n  data: {type: uri_folder}\n") ==
        d.At(4, "  data: {type: uri_folder}", "data",
             "output data has the name of an input; values are given by name (-i/-o data=…), "
             "so names must differ"));
  CHECK(d.Error("type: ParallelComponent\ninputs:\n  d: {type: [AnyFile, Integer]}\n") ==
        d.At(3, "  d: {type: [AnyFile, Integer]}", "[",
             "inputs.d.type lists Integer, a parameter type; only data types can be combined"));
}

TEST_CASE("errors: carets under tabs and UTF-8 characters", "[spec]") {
  SpecDir d;
  // The column counts bytes (é is two); the caret counts characters and keeps tabs.
  CHECK(d.Error("type: parallel\ninputs: {x:\t{description: \"é\", type: uri_fodler}}\n") ==
        d.spec() + ":2:39: inputs.x.type: unknown value 'uri_fodler'; did you mean "
                   "'uri_folder'?\n"
                   "  inputs: {x:\t{description: \"é\", type: uri_fodler}}\n"
                   "             \t                         ^");
}

// ---- errors: settings and bindings -------------------------------------------

TEST_CASE("errors: bindings of settings and instance_count given twice", "[spec]") {
  SpecDir d;
  CHECK(d.Error("type: parallel\nmini_batch_size: ${{parent.inputs.size}}\n") ==
        d.At(2, "mini_batch_size: ${{parent.inputs.size}}", "$",
             "mini_batch_size is bound to ${{parent.inputs.size}}, but bindings of settings are "
             "not supported by a local run; pass --mini_batch_size instead"));
  CHECK(d.Error("type: parallel\nretry_settings:\n  max_retries: ${{parent.inputs.n}}\n") ==
        d.At(3, "  max_retries: ${{parent.inputs.n}}", "$",
             "retry_settings.max_retries is bound to ${{parent.inputs.n}}, but bindings of "
             "settings are not supported by a local run; pass --run_max_try instead"));
  CHECK(d.Error("type: parallel\nmax_concurrency_per_instance: \"${{parent.inputs.n}}\"\n") ==
        d.At(2, "max_concurrency_per_instance: \"${{parent.inputs.n}}\"", "\"",
             "max_concurrency_per_instance is bound to ${{parent.inputs.n}}, but bindings of "
             "settings are not supported by a local run; pass --process_count_per_node instead"));
  CHECK(d.Error("type: parallel\nresources: {instance_count: \"${{parent.inputs.n}}\"}\n") ==
        d.At(2, "resources: {instance_count: \"${{parent.inputs.n}}\"}", "\"",
             "resources.instance_count is bound to ${{parent.inputs.n}}, but bindings of "
             "settings are not supported by a local run; pass --node_count instead"));
  CHECK(d.Error("type: parallel\ninstance_count: 2\nresources:\n  instance_count: 3\n") ==
        d.At(4, "  instance_count: 3", "instance",
             "resources.instance_count and instance_count (line 2) are both given; keep one"));
}

TEST_CASE("errors: input_data, output_data and append_row_to must name ports", "[spec]") {
  SpecDir d;
  CHECK(d.Error("type: parallel\ninputs: {images: {type: uri_folder}}\n"
                "input_data: ${{inputs.imgaes}}\n") ==
        d.At(3, "input_data: ${{inputs.imgaes}}", "$",
             "input_data refers to ${{inputs.imgaes}}, which is not an input; did you mean "
             "${{inputs.images}}?"));
  CHECK(d.Error("type: parallel\ninput_data: ${{inputs.images}}\n") ==
        d.At(2, "input_data: ${{inputs.images}}", "$",
             "input_data refers to ${{inputs.images}}, which is not an input; the spec declares "
             "no inputs"));
  CHECK(d.Error("type: parallel\ninputs: {images: {type: uri_folder}}\ninput_data: images\n") ==
        d.At(3, "input_data: images", "images",
             "input_data must be ${{inputs.NAME}}, not 'images'"));
  const std::string v2 =
      "type: parallel\ninputs: {data: {type: uri_folder}}\ninput_data: ${{inputs.data}}\n"
      "outputs: {a: {}, b: {}}\n";  // the next line is line 5
  CHECK(d.Error(v2 + "task:\n  entry_script: score.py\n  append_row_to: ${{outputs.c}}\n") ==
        d.At(7, "  append_row_to: ${{outputs.c}}", "$",
             "task.append_row_to refers to ${{outputs.c}}, which is not an output; outputs are: "
             "a, b"));
  CHECK(d.Error(v2 + "task:\n  entry_script: score.py\n  append_row_to: ${{inputs.data}}\n") ==
        d.At(7, "  append_row_to: ${{inputs.data}}", "$",
             "task.append_row_to must be ${{outputs.NAME}}, not '${{inputs.data}}'"));

  const std::string component =
      "type: ParallelComponent\ninputs: {images: {type: path}, n: {type: Integer}}\n"
      "outputs: {scores: {type: path}}\n";  // the next line is line 4
  CHECK(d.Error(component + "parallel: {input_data: inputs.imags}\n") ==
        d.At(4, "parallel: {input_data: inputs.imags}", "inputs",
             "parallel.input_data names 'imags', which is not an input; did you mean 'images'?"));
  CHECK(d.Error(component + "parallel:\n  input_data: [images, n]\n") ==
        d.At(5, "  input_data: [images, n]", "n]",
             "parallel.input_data[1] names 'n', which is a parameter (Integer), not a data input"));
  CHECK(d.Error(component + "parallel:\n  input_data: []\n") ==
        d.At(5, "  input_data: []", "[",
             "parallel.input_data must be an input or a non-empty list of inputs, not an empty "
             "list"));
  CHECK(d.Error(component + "parallel:\n  output_data: outputs.score\n") ==
        d.At(5, "  output_data: outputs.score", "outputs",
             "parallel.output_data names 'score', which is not an output; did you mean 'scores'?"));
  CHECK(d.Error(component + "parallel:\n  output_data: images\n") ==
        d.At(5, "  output_data: images", "images",
             "parallel.output_data names 'images', which is not an output; outputs are: scores"));
}

// ---- errors: files -----------------------------------------------------------

TEST_CASE("errors: code folders and entry scripts must exist", "[spec]") {
  SpecDir d;
  const std::string& dir = d.dir().path();
  d.dir().Write("src/pkg/main.py", "");
  CHECK(d.Error("type: ParallelComponent\nparallel:\n  entry: ./scor.py\n") ==
        d.At(3, "  entry: ./scor.py", ".",
             "entry script ./scor.py not found (looked for " + dir + "/scor.py)"));
  CHECK(d.Error("type: ParallelComponent\ncode: src\nparallel:\n  entry: pkg.mian\n") ==
        d.At(4, "  entry: pkg.mian", "pkg",
             "entry script pkg.mian not found (looked for " + dir + "/src/pkg/mian.py)"));
  CHECK(d.Error("type: ParallelComponent\ncode: ./sources\n") ==
        d.At(2, "code: ./sources", ".",
             "code folder ./sources not found (looked for " + dir + "/sources)"));
  CHECK(d.Error("type: ParallelComponent\ncode: score.py\n") ==
        d.At(2, "code: score.py", "score", "code score.py is not a folder (" + dir + "/score.py)"));
  CHECK(d.Error("type: parallel\ntask:\n  entry_script: ./src\n") ==
        d.At(3, "  entry_script: ./src", ".",
             "entry script ./src is not a regular file (" + dir + "/src)"));
  CHECK(d.Error("type: parallel\ntask:\n  code: src\n  entry_script: score.py\n") ==
        d.At(4, "  entry_script: score.py", "score",
             "entry script score.py not found (looked for " + dir + "/src/score.py)"));
  CHECK(d.Error("type: parallel\ntask:\n  entry_script: \"\"\n") ==
        d.At(3, "  entry_script: \"\"", "\"",
             "task.entry_script must be a script path, not ''"));

  Spec ok = d.Parsed(
      "type: parallel\ninputs: {data: {type: uri_folder}}\ninput_data: ${{inputs.data}}\n"
      "task:\n  code: ./src/\n  entry_script: pkg/main.py\n");
  CHECK(ok.code_dir == dir + "/src");
  CHECK(ok.entry_script == dir + "/src/pkg/main.py");
  CHECK(ok.entry_where.file == d.spec());
  CHECK(ok.entry_where.line == 6);
  CHECK(ok.entry_where.column == 17);
}

TEST_CASE("errors: reading the spec file", "[spec]") {
  TempDir dir("spec_test");
  const std::string missing = dir.path() + "/missing.yaml";
  Result<Spec> r = ParseSpecFile(missing);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Status::Code::kUsage);
  CHECK(r.status().message() == "spec " + missing + ": No such file or directory");
  r = ParseSpecFile(dir.path());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "spec " + dir.path() + ": Is a directory");
}

// ---- errors: args templates --------------------------------------------------

TEST_CASE("errors: args placeholders must name declared ports", "[spec]") {
  SpecDir d;
  const std::string component =
      "type: ParallelComponent\n"
      "inputs: {images: {type: path}, model: {type: path}}\n"
      "outputs: {scores: {type: path}}\n"
      "parallel:\n";  // the next line is line 5
  CHECK(d.Error(component + "  args: --model {inputs.modle}\n") ==
        d.At(5, "  args: --model {inputs.modle}", "--",
             "args refers to {inputs.modle}, which is not an input; did you mean {inputs.model}?"));
  CHECK(d.Error(component + "  args: --out {inputs.scores}\n") ==
        d.At(5, "  args: --out {inputs.scores}", "--",
             "args refers to {inputs.scores}, which is not an input; scores is an output: write "
             "{outputs.scores}"));
  CHECK(d.Error(component + "  args: --out {outputs.result}\n") ==
        d.At(5, "  args: --out {outputs.result}", "--",
             "args refers to {outputs.result}, which is not an output; outputs are: scores"));
  CHECK(d.Error(component + "  args: --model {input.model}\n") ==
        d.At(5, "  args: --model {input.model}", "--",
             "args has {input.model}, which is not a placeholder {inputs.NAME} or "
             "{outputs.NAME}; write {{ and }} for literal braces"));
  CHECK(d.Error(component + "  args: \"[--model {inputs.model}\"\n") ==
        d.At(5, "  args: \"[--model {inputs.model}\"", "\"",
             "args has an optional group [ that is never closed; write [[ for a literal ["));
  CHECK(d.Error(component + "  args: --model {inputs.model}]\n") ==
        d.At(5, "  args: --model {inputs.model}]", "--",
             "args has ']' without a matching '['; write ]] for a literal ]"));
  CHECK(d.Error(component + "  args: >-\n    --model '{inputs.model}\n") ==
        d.At(5, "  args: >-", ">", "args has an unterminated ' quote"));

  const std::string v2 =
      "type: parallel\ninputs: {data: {type: uri_folder}, model: {type: uri_folder}}\n"
      "task:\n";  // the next line is line 4
  CHECK(d.Error(v2 + "  program_arguments: --model ${{inputs.mdoel}}\n") ==
        d.At(4, "  program_arguments: --model ${{inputs.mdoel}}", "--",
             "program_arguments refers to ${{inputs.mdoel}}, which is not an input; did you "
             "mean ${{inputs.model}}?"));
  CHECK(d.Error(v2 + "  program_arguments: --out ${{outputs.out}}\n") ==
        d.At(4, "  program_arguments: --out ${{outputs.out}}", "--",
             "program_arguments refers to ${{outputs.out}}, which is not an output; the spec "
             "declares no outputs"));
  CHECK(d.Error(v2 + "  program_arguments: --run ${{name}}\n") ==
        d.At(4, "  program_arguments: --run ${{name}}", "--",
             "program_arguments has ${{name}}, which is not ${{inputs.NAME}} or "
             "${{outputs.NAME}}"));
  CHECK(d.Error(v2 + "  program_arguments: $[[--model ${{inputs.model}}\n") ==
        d.At(4, "  program_arguments: $[[--model ${{inputs.model}}", "$",
             "program_arguments has an optional group $[[ that is never closed"));
}

}  // namespace
}  // namespace parallelrun
