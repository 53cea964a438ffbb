// Tests of lib/plan/pipeline.cc: parsing a v2 pipeline file (inline parallel
// and command jobs, component files), binding its ports, the run order, and
// the errors with their whole messages (file:line:col, the line, a caret).
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "plan/pipeline.h"
#include "temp_dir.h"

namespace parallelrun {
namespace {

// A pipeline at <tmp>/pipeline.yml with an entry script at <tmp>/src/score.py.
class PipelineDir {
 public:
  PipelineDir() : path_(dir_.path() + "/pipeline.yml") {
    dir_.Write("src/score.py", "def run(b):\n  return b\n");
  }
  const TempDir& dir() const { return dir_; }
  const std::string& path() const { return path_; }

  Result<Pipeline> Parse(const std::string& text,
                         const std::vector<YamlOverride>& overrides = {}) const {
    return ParsePipelineText(text, path_, overrides);
  }
  Pipeline Parsed(const std::string& text, const std::vector<YamlOverride>& overrides = {}) const {
    auto r = Parse(text, overrides);
    INFO(r.status().message());
    REQUIRE(r.ok());
    return std::move(r).value();
  }
  std::string Error(const std::string& text, const std::vector<YamlOverride>& overrides = {}) const {
    auto r = Parse(text, overrides);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().code() == Status::Code::kUsage);
    return r.status().message();
  }

 private:
  TempDir dir_{"pipeline_test"};
  std::string path_;
};

// A many-models-like pipeline: a command job that partitions, then a
// parallel job over its output. Written score first, so that the order
// comes from the bindings, not the file.
const char kTwoJobs[] = R"(type: pipeline
display_name: two jobs
inputs:
  sales:
    type: uri_file
    path: ./data/sales.csv
  min_rows: 3
outputs:
  models:
    type: uri_folder
jobs:
  score:
    type: parallel
    inputs:
      parts:
        type: uri_folder
        path: ${{parent.jobs.partition.outputs.parts}}
      min_rows: ${{parent.inputs.min_rows}}
    outputs:
      models: ${{parent.outputs.models}}
    input_data: ${{inputs.parts}}
    mini_batch_size: "1"
    task:
      code: ./src
      entry_script: score.py
      program_arguments: --min ${{inputs.min_rows}} --out ${{outputs.models}}
  partition:
    type: command
    code: ./src
    command: python split.py --in ${{inputs.data}} --out ${{outputs.parts}} $[[--opt ${{inputs.missing}}]]
    inputs:
      data: ${{parent.inputs.sales}}
      missing:
        type: string
        optional: true
    outputs:
      parts:
        type: uri_folder
        mode: rw_mount
)";

TEST_CASE("pipeline: jobs run after the jobs they read from", "[pipeline]") {
  PipelineDir d;
  Pipeline p = d.Parsed(kTwoJobs);
  CHECK(p.name == "two jobs");
  REQUIRE(p.jobs.size() == 2);
  CHECK(p.jobs[0].name == "partition");
  CHECK(p.jobs[0].kind == PipelineJob::Kind::kCommand);
  CHECK(p.jobs[0].code_dir == d.dir().path() + "/src");
  CHECK(p.jobs[1].name == "score");
  CHECK(p.jobs[1].kind == PipelineJob::Kind::kParallel);
  CHECK(p.jobs[1].upstream == std::vector<std::string>{"partition"});
  // The spec parser saw declarations: the binding is not a path of the spec.
  const Port* parts = p.jobs[1].spec.FindInput("parts");
  REQUIRE(parts != nullptr);
  CHECK(parts->type == "uri_folder");
  CHECK_FALSE(parts->default_value.has_value());
  CHECK(p.jobs[1].spec.settings.at("mini_batch_size").value == "1");
}

TEST_CASE("pipeline: binding gives every port a value", "[pipeline]") {
  PipelineDir d;
  Pipeline p = d.Parsed(kTwoJobs);
  auto bound = BindPipeline(p, {{"min_rows", "5"}}, {}, "/work/here", "/jobs/p1");
  INFO(bound.status().message());
  REQUIRE(bound.ok());
  REQUIRE(bound->size() == 2);
  const BoundJob& partition = (*bound)[0];
  CHECK(partition.dir == "/jobs/p1/partition");
  CHECK(partition.inputs.at("data") == d.dir().path() + "/data/sales.csv");
  CHECK(partition.outputs.at("parts") == "/jobs/p1/partition/outputs/parts");
  const BoundJob& score = (*bound)[1];
  CHECK(score.inputs.at("parts") == "/jobs/p1/partition/outputs/parts");
  CHECK(score.from_jobs.at("parts").first == "partition");
  CHECK(score.inputs.at("min_rows") == "5");  // -i over the file's 3
  CHECK(score.outputs.at("models") == "/jobs/p1/outputs/models");

  auto command = ResolveCommand(partition);
  REQUIRE(command.ok());
  // The optional group whose input has no value is dropped.
  CHECK(*command == "python split.py --in " + d.dir().path() +
                        "/data/sales.csv --out /jobs/p1/partition/outputs/parts ");

  auto given = BindPipeline(p, {{"sales", "in put.csv"}}, {{"models", "m"}}, "/w", "/jobs/p2");
  REQUIRE(given.ok());
  CHECK((*given)[0].inputs.at("data") == "/w/in put.csv");
  CHECK((*given)[1].outputs.at("models") == "/w/m");
  auto quoted = ResolveCommand((*given)[0]);
  REQUIRE(quoted.ok());
  CHECK(quoted->find("--in '/w/in put.csv' ") != std::string::npos);
}

TEST_CASE("pipeline: -i and -o name pipeline ports", "[pipeline]") {
  PipelineDir d;
  Pipeline p = d.Parsed(kTwoJobs);
  auto r = BindPipeline(p, {{"sale", "x"}}, {}, "/w", "/j");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "-i sale: the pipeline has no input 'sale'; did you mean 'sales'?");
  r = BindPipeline(p, {}, {{"zzz", "x"}}, "/w", "/j");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() == "-o zzz: the pipeline has no output 'zzz'; its outputs are: models");
}

TEST_CASE("pipeline: a remote input path says how to give a local one", "[pipeline]") {
  PipelineDir d;
  std::string text = kTwoJobs;
  text.replace(text.find("./data/sales.csv"), 16, "azureml:sales:1");
  Pipeline p = d.Parsed(text);
  auto r = BindPipeline(p, {}, {}, "/w", "/j");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() ==
        d.path() + ":6:11: pipeline input sales is azureml:sales:1, a remote path, which job "
                   "partition reads; a local run needs a local path: give one with -i sales=PATH\n"
                   "      path: azureml:sales:1\n"
                   "            ^");
  // Given on the command line, it binds.
  CHECK(BindPipeline(p, {{"sales", "local.csv"}}, {}, "/w", "/j").ok());
}

TEST_CASE("pipeline: a binding to an unknown job or output names both", "[pipeline]") {
  PipelineDir d;
  std::string text = kTwoJobs;
  text.replace(text.find("jobs.partition.outputs.parts"), 28, "jobs.partion.outputs.parts");
  CHECK(d.Error(text) ==
        d.path() + ":17:15: job score reads ${{parent.jobs.partion.outputs.parts}}, but the "
                   "pipeline has no job 'partion'; did you mean 'partition'?\n"
                   "          path: ${{parent.jobs.partion.outputs.parts}}\n"
                   "                ^");
  text = kTwoJobs;
  text.replace(text.find("jobs.partition.outputs.parts"), 28, "jobs.partition.outputs.prts");
  CHECK(d.Error(text).rfind(d.path() + ":17:15: job score reads "
                                       "${{parent.jobs.partition.outputs.prts}}, but job partition "
                                       "has no output 'prts'; did you mean 'parts'?\n",
                            0) == 0);
}

TEST_CASE("pipeline: a cycle names its jobs", "[pipeline]") {
  PipelineDir d;
  std::string text = R"(type: pipeline
jobs:
  a:
    type: command
    command: echo ${{inputs.x}}
    inputs:
      x: ${{parent.jobs.b.outputs.y}}
    outputs:
      y:
        type: uri_folder
  b:
    type: command
    command: echo ${{inputs.x}}
    inputs:
      x: ${{parent.jobs.a.outputs.y}}
    outputs:
      y:
        type: uri_folder
)";
  std::string e = d.Error(text);
  CHECK(e.rfind(d.path() + ":11:3: the jobs b → a → b read each other's outputs in a cycle", 0) == 0);
}

TEST_CASE("pipeline: other job types are refused by name", "[pipeline]") {
  PipelineDir d;
  CHECK(d.Error("type: pipeline\njobs:\n  tune:\n    type: sweep\n    trial: ./x.yml\n") ==
        d.path() + ":4:11: job tune is a sweep job; parallelrun runs the parallel and command "
                   "jobs of a pipeline, not sweep jobs\n"
                   "      type: sweep\n"
                   "            ^");
  CHECK(d.Error("type: pipeline\njobs:\n  x:\n    type: comand\n    command: ls\n")
            .rfind(d.path() + ":4:11: jobs.x.type: unknown value 'comand'; did you mean 'command'?", 0) == 0);
}

TEST_CASE("pipeline: unknown keys say did you mean", "[pipeline]") {
  PipelineDir d;
  CHECK(d.Error("type: pipeline\nsetings: {}\njobs: {}\n")
            .rfind(d.path() + ":2:1: unknown key 'setings' in the pipeline; did you mean 'settings'?", 0) == 0);
  CHECK(d.Error("type: pipeline\njobs:\n  x:\n    type: command\n    comand: ls\n")
            .rfind(d.path() + ":5:5: unknown key 'comand' in jobs.x; did you mean 'command'?", 0) == 0);
  // An inline parallel job is checked by the spec parser, at its own lines here.
  std::string text = kTwoJobs;
  text.replace(text.find("mini_batch_size"), 15, "mini_bach_size");
  CHECK(d.Error(text).rfind(d.path() + ":22:5: unknown key 'mini_bach_size' in job score; did "
                                       "you mean 'mini_batch_size'?", 0) == 0);
}

TEST_CASE("pipeline: a command placeholder names a port of its job", "[pipeline]") {
  PipelineDir d;
  CHECK(d.Error("type: pipeline\njobs:\n  x:\n    type: command\n    command: cat ${{inputs.dta}}\n"
                "    inputs:\n      data: ${{parent.inputs.d}}\n")
            .rfind(d.path() + ":5:14: command uses ${{inputs.dta}}, which is not an input of job x; "
                              "did you mean ${{inputs.data}}?", 0) == 0);
}

TEST_CASE("pipeline: --set overrides reach a job's inline definition", "[pipeline]") {
  PipelineDir d;
  Pipeline p = d.Parsed(kTwoJobs, {{"jobs.score.mini_batch_size", "20"},
                                   {"jobs.partition.command", "echo hi"}});
  CHECK(p.FindJob("score")->spec.settings.at("mini_batch_size").value == "20");
  CHECK(p.FindJob("partition")->command == "echo hi");
  CHECK(d.Error(kTwoJobs, {{"jobs.score.mini_batch_sise", "20"}})
            .rfind(d.path() + ": unknown key 'mini_batch_sise' in job score; did you mean "
                              "'mini_batch_size'? (a value given with --set)", 0) == 0);
}

TEST_CASE("pipeline: components by file", "[pipeline]") {
  PipelineDir d;
  d.dir().Write("comp/partition.yml", R"(type: command
name: partition
inputs:
  data_source:
    type: uri_file
  keys:
    type: string
    default: Store
outputs:
  out:
    type: uri_folder
code: ./
command: python p.py ${{inputs.data_source}} ${{inputs.keys}} ${{outputs.out}}
)");
  d.dir().Write("comp/score.yml", R"(type: parallel
name: score
inputs:
  data:
    type: uri_folder
outputs:
  result:
    type: uri_folder
input_data: ${{inputs.data}}
mini_batch_size: "3"
task:
  code: ../src
  entry_script: score.py
)");
  Pipeline p = d.Parsed(R"(type: pipeline
jobs:
  partition:
    type: command
    component: file:./comp/partition.yml
    inputs:
      data_source:
        type: uri_file
        path: ./sales.csv
  score:
    type: parallel
    component: ./comp/score.yml
    mini_batch_size: 5
    inputs:
      data: ${{parent.jobs.partition.outputs.out}}
)");
  const PipelineJob* partition = p.FindJob("partition");
  CHECK(partition->code_dir == d.dir().path() + "/comp");
  CHECK(partition->FindOutput("out") != nullptr);
  const PipelineJob* score = p.FindJob("score");
  CHECK(score->spec.entry_script == d.dir().path() + "/src/score.py");
  CHECK(score->settings.at("mini_batch_size") == "5");
  CHECK(score->FindOutput("result") != nullptr);
  auto bound = BindPipeline(p, {}, {}, "/w", "/j");
  REQUIRE(bound.ok());
  auto command = ResolveCommand((*bound)[0]);
  REQUIRE(command.ok());
  CHECK(*command == "python p.py " + d.dir().path() + "/sales.csv Store /j/partition/outputs/out");
  CHECK((*bound)[1].inputs.at("data") == "/j/partition/outputs/out");
  CHECK((*bound)[1].outputs.at("result") == "/j/score/outputs/result");
}

TEST_CASE("pipeline: remote paths of jobs", "[pipeline]") {
  PipelineDir d;
  Pipeline p = d.Parsed(R"(type: pipeline
jobs:
  c:
    type: command
    command: cp ${{inputs.data}} ${{outputs.x}}
    inputs:
      data:
        type: uri_file
        path: https://example.com/data.csv
    outputs:
      x:
        type: uri_file
        path: azureml://datastores/${{default_datastore}}/paths/${{name}}/x.csv
)");
  auto r = BindPipeline(p, {}, {}, "/w", "/j");
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message() ==
        d.path() + ":9:15: input data of job c is https://example.com/data.csv, a remote path; a "
                   "local run needs a local path: give one with --set jobs.c.inputs.data.path=PATH, "
                   "or bind the input to a pipeline input and give it with -i NAME=PATH\n"
                   "          path: https://example.com/data.csv\n"
                   "                ^");
  p = d.Parsed(R"(type: pipeline
jobs:
  c:
    type: command
    command: echo > ${{outputs.x}}
    outputs:
      x:
        type: uri_file
        path: azureml://datastores/${{default_datastore}}/paths/${{name}}/x.csv
)");
  r = BindPipeline(p, {}, {}, "/w", "/j");
  REQUIRE(r.ok());
  CHECK((*r)[0].outputs.at("x") == "/j/c/outputs/x");
  REQUIRE((*r)[0].notes.size() == 1);
  CHECK((*r)[0].notes[0] == "output x of job c is azureml://datastores/${{default_datastore}}/"
                            "paths/${{name}}/x.csv, which is remote; writing it to /j/c/outputs/x");
}

}  // namespace
}  // namespace parallelrun
