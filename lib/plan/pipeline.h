// Pipeline: an Azure ML v2 pipeline file (`type: pipeline`) read for a local
// run — its inputs and outputs, and its jobs (parallel jobs, inline or a
// component file; command jobs, inline or a component file) with what each
// job's ports are bound to, in an order where every job comes after the jobs
// whose outputs it reads. Pure: parsing reads the pipeline file and the
// component files it names, and checks that code folders and entry scripts
// exist, but creates nothing and runs nothing. Binding values to paths
// (BindPipeline) is a function of the parsed pipeline, the command line's
// -i/-o and the pipeline's job dir.
#ifndef PARALLELRUN_PLAN_PIPELINE_H_
#define PARALLELRUN_PLAN_PIPELINE_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "parallelrun/spec.h"
#include "parallelrun/status.h"
#include "plan/yaml_overrides.h"

namespace parallelrun {

// What a port of a job (or of the pipeline) is bound to.
struct PipelineBinding {
  enum class Kind {
    kNone,            // nothing: a default of the component, or no value
    kLiteral,         // a parameter's value, as written
    kPath,            // a local path (absolute) written in the file
    kRemote,          // a remote path (azureml:, https://, …), as written
    kPipelineInput,   // ${{parent.inputs.NAME}}
    kPipelineOutput,  // ${{parent.outputs.NAME}}
    kJobOutput,       // ${{parent.jobs.JOB.outputs.NAME}}
  };
  Kind kind = Kind::kNone;
  std::string text;  // kLiteral, kPath, kRemote: the value
  std::string job;   // kJobOutput
  std::string name;  // kPipelineInput, kPipelineOutput, kJobOutput
  SourceLocation where;
};

// An input or output of the pipeline, or of one of its jobs.
struct PipelinePort {
  std::string name;
  std::string type;  // uri_folder, uri_file, mltable, string, integer, …; "" unknown
  bool is_data = true;
  bool optional = false;  // a pipeline input that may have no value
  std::string mode;
  PipelineBinding value;
  SourceLocation where;
};

struct PipelineJob {
  enum class Kind { kParallel, kCommand };
  std::string name;
  Kind kind = Kind::kParallel;
  SourceLocation where;                 // the job's key in the pipeline file
  std::string component_file;           // absolute; "" for an inline job
  std::vector<PipelinePort> inputs;     // the job's bindings, in the file's order
  std::vector<PipelinePort> outputs;
  // Jobs whose outputs this one reads, in the order of first use.
  std::vector<std::string> upstream;

  // kParallel: the spec, its ports declared (values come from the bindings).
  Spec spec;
  // kParallel from a component file: run settings written on the job
  // (mini_batch_size, resources.instance_count, …), by canonical name;
  // they take precedence over the component's, as in Azure ML.
  std::map<std::string, std::string> settings;

  // kCommand: the command (with ${{inputs.x}}, ${{outputs.y}}, $[[ … ]]),
  // where it is written, its code folder (absolute) and variables.
  std::string command;
  SourceLocation command_where;
  std::string code_dir;
  std::map<std::string, std::string> environment_variables;
  // Defaults of a command component's inputs, by name.
  std::map<std::string, std::string> input_defaults;
  // One line on the environment the job names, which is not provisioned.
  std::string environment_summary;

  const PipelinePort* FindInput(const std::string& n) const;
  const PipelinePort* FindOutput(const std::string& n) const;
};

struct Pipeline {
  std::string path;  // as given
  std::string dir;   // absolute folder of the file
  std::string text;  // the file's text, for errors found after parsing
  std::string name;  // name, or display_name, or the file's stem
  std::string display_name;
  std::vector<PipelinePort> inputs;
  std::vector<PipelinePort> outputs;
  std::vector<PipelineJob> jobs;  // in run order (each after its upstream jobs)
  std::vector<std::string> notes;  // things accepted that a local run does not do

  const PipelineJob* FindJob(const std::string& n) const;
};

// True when the YAML file at `path` says `type: pipeline` at its top. A file
// that does not parse is not one (the spec parser then says what is wrong).
bool IsPipelineFile(const std::string& path);

// Parses and checks the pipeline at `path` with `overrides` (--set) applied
// to its document first. Errors are Status::Usage "file:line:col: message"
// with the line and a caret; an unknown key says "did you mean …"; a binding
// to a job or an output that does not exist names both; a cycle names its jobs.
Result<Pipeline> ParsePipelineFile(const std::string& path,
                                   const std::vector<YamlOverride>& overrides = {});
Result<Pipeline> ParsePipelineText(const std::string& text, const std::string& path,
                                   const std::vector<YamlOverride>& overrides = {});

// One job with every port bound to a value.
struct BoundJob {
  const PipelineJob* job = nullptr;
  std::string dir;  // <pipeline job dir>/<job name>
  // name → value: an absolute path for data, the text for parameters. An
  // input without a value is absent.
  std::map<std::string, std::string> inputs;
  std::map<std::string, std::string> outputs;  // name → absolute path
  // Inputs that read an upstream job's output: input name → (job, path).
  std::map<std::string, std::pair<std::string, std::string>> from_jobs;
  std::vector<std::string> notes;  // e.g. a remote output path written locally
};

// Binds every job's ports: -i/-o (`inputs`, `outputs`: pipeline port name →
// value, relative to `cwd`) over the pipeline's own `path:`s and defaults;
// a job output bound to no path gets <job_dir>/<job>/outputs/<name>.
// Errors (Usage): -i/-o naming no pipeline port (did you mean …); a remote
// path that a job reads ("needs a local path: give one with -i NAME=PATH").
Result<std::vector<BoundJob>> BindPipeline(
    const Pipeline& pipeline, const std::vector<std::pair<std::string, std::string>>& inputs,
    const std::vector<std::pair<std::string, std::string>>& outputs, const std::string& cwd,
    const std::string& job_dir);

// A command job's command with its ports' values put in: ${{inputs.x}} and
// ${{outputs.y}} (paths shell-quoted where needed, parameters as written),
// $[[ … ]] groups kept when all their placeholders have values and dropped
// otherwise. Errors: a placeholder outside a group without a value (names
// the input and how to give it).
Result<std::string> ResolveCommand(const BoundJob& job);

}  // namespace parallelrun

#endif  // PARALLELRUN_PLAN_PIPELINE_H_
