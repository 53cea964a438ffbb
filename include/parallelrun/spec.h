// The component spec: what a ParallelComponent YAML (`type: ParallelComponent`)
// or a v2 parallel YAML (`type: parallel`) declares, parsed and checked, with
// every value's place in the file kept so that later errors can point at it.
// Parsing never reads the command line or the environment; binding values to
// ports happens in JobPlan.
#ifndef PARALLELRUN_SPEC_H_
#define PARALLELRUN_SPEC_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "parallelrun/status.h"

namespace parallelrun {

// A place in a file; line and column are 1-based (0 = unknown).
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
};

enum class SpecFormat {
  kParallelComponent,  // componentsdk `type: ParallelComponent`, `parallel:` block
  kV2Parallel,         // v2 `type: parallel`, `task:` block
  // A batch endpoint's model deployment (`type: model`, batchDeployment /
  // modelBatchDeployment schema): code_configuration.scoring_script over one
  // input `data`, append_row into output `output` by default.
  kBatchDeployment,
};

// The name of `format` for people: "ParallelComponent", "v2 parallel",
// "batch deployment".
const char* SpecFormatName(SpecFormat format);

// One input or output of the spec.
struct Port {
  std::string name;
  std::string type;  // as written: "path", "AnyDirectory", "uri_folder", "mltable", "integer", …
  // Data ports carry files or tables (path, uri_folder, uri_file, mltable,
  // AnyDirectory, …); the others are parameters (string, integer, number,
  // boolean, enum, …) whose value is substituted as text.
  bool is_data = true;
  // True for an input whose data is a table (v2 `mltable` with `mode: direct`,
  // componentsdk `DataFrameDirectory`/`AzureMLDataset` tabular).
  bool is_tabular = false;
  bool optional = false;
  // Scalar default, as text. For a v2 job input's `path` (a local path), made
  // absolute against the spec's folder; remote paths (azureml:, https://) stay
  // as written.
  std::optional<std::string> default_value;
  std::string description;
  std::string mode;  // ro_mount, download, direct, rw_mount, upload, … ("" if unset)
  SourceLocation where;  // the port's key in the file
};

// A run setting given in the spec (v2 top-level keys such as
// mini_batch_size, retry_settings.timeout, resources.instance_count), keyed
// in Spec::settings by the setting's canonical name (see run_settings.h).
// The value is the scalar as written; RunSettings validates it and reports
// errors at `where`.
struct SpecSetting {
  std::string value;
  SourceLocation where;
};

struct Spec {
  std::string path;  // the spec file as given
  std::string dir;   // absolute folder of the spec file
  SpecFormat format = SpecFormat::kParallelComponent;

  std::string name;
  std::string version;
  std::string display_name;
  std::string description;

  std::vector<Port> inputs;   // in the order of the file
  std::vector<Port> outputs;  // in the order of the file

  // Inputs that are split into mini-batches, in order (ParallelComponent
  // `parallel.input_data`, one or a list; v2 `input_data: ${{inputs.x}}`).
  std::vector<std::string> input_data;
  // The output that receives the result (ParallelComponent
  // `parallel.output_data`); "" when the spec names none.
  std::string output_data;
  // v2 `task.append_row_to: ${{outputs.y}}` → "y"; "" if absent.
  std::string append_row_to;

  // Absolute path of the entry script: ParallelComponent `parallel.entry`
  // relative to `code` (default the spec's folder); v2 `task.entry_script`
  // relative to `task.code`. Existence is checked by the parser.
  std::string entry_script;
  std::string code_dir;  // absolute
  SourceLocation entry_where;

  // `parallel.args` / `task.program_arguments`, unresolved, and where it is.
  std::string args_template;
  SourceLocation args_where;
  // Mistakes that are not errors, each "file:line:col: warning: …": a v1
  // `{inputs.x}` in a v2 template, which reaches the script as literal text;
  // and "file:line:col: note: …" for keys accepted with no local meaning (a
  // batch deployment's compute, endpoint_name, environment).
  std::vector<std::string> warnings;

  std::map<std::string, std::string> environment_variables;
  // One line describing the `environment` block (docker image, conda file),
  // which parallelrun does not provision; "" if the spec has none.
  std::string environment_summary;

  // Settings written in the spec, by canonical setting name.
  std::map<std::string, SpecSetting> settings;
  // The format's own defaults where they differ from parallelrun's (a batch
  // deployment: process_count_per_node 1, run_invocation_timeout 30,
  // output_action append_row, …), by canonical name; settings and flags win.
  std::map<std::string, std::string> setting_defaults;

  // A batch deployment's `model`: a local folder or file (absolute; from an
  // inline `path:`), and/or the registered model it names ("azureml:x@latest",
  // "x:1"). A registered model has no local copy: `--model PATH` must give one.
  std::string model_path;
  std::string model_reference;
  SourceLocation model_where;

  const Port* FindInput(const std::string& name) const;
  const Port* FindOutput(const std::string& name) const;
};

// Parses and checks the spec file at `path`. Errors are Status::Usage with
// messages "file:line:col: message\n<the line>\n<caret>"; unknown keys say
// "did you mean …" when a known key is close. `overrides` are `--set
// PATH=VALUE` pairs put into the document before it is read
// (plan/yaml_overrides.h), so they are checked as the file is.
Result<Spec> ParseSpecFile(const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& overrides = {});

// Same, from text; `path` names the file in messages and anchors relative paths.
Result<Spec> ParseSpecText(const std::string& text, const std::string& path,
                           const std::vector<std::pair<std::string, std::string>>& overrides = {});

// Resolves `spec.args_template` with the port values in `values` (input and
// output name → value; a name absent from `values` has no value) into argv
// words. ParallelComponent uses `{inputs.x}`/`{outputs.y}` placeholders and
// `[ … ]` optional groups (`[[ ]]`, `{{ }}` are literal brackets); v2 uses
// `${{inputs.x}}` and `$[[ … ]]`. The template is split with shell rules
// *before* substitution, so a value with spaces or newlines stays one word.
// An optional group whose placeholders lack values disappears; a placeholder
// outside a group without a value is an error naming the port.
// Errors: syntax errors say where (`file:line:col: ` from args_where, when
// known); a missing value reads "args use {inputs.model}, which has no value;
// give it with -i model=PATH".
Result<std::vector<std::string>> ResolveArgs(
    const Spec& spec, const std::map<std::string, std::string>& values);

// One placeholder of an args template, as ScanArgsTemplate finds it.
struct ArgsPlaceholder {
  bool is_output = false;   // {outputs.y} rather than {inputs.x}
  std::string name;         // "x"
  std::string written;      // as in the template: "{inputs.x}", "${{ inputs.x }}"
  bool in_optional_group = false;
};

// Checks the syntax of an args template in `format` without binding values
// (quotes, optional groups, placeholder forms; a group must not start and end
// in different quoting) and lists its placeholders in order. Errors are
// Status::Usage naming `what` ("args", "program_arguments") with no location:
// ParseSpecText reports them at args_where and also checks the names.
Result<std::vector<ArgsPlaceholder>> ScanArgsTemplate(const std::string& text,
                                                      SpecFormat format,
                                                      const std::string& what);

// The v1 placeholders (`{inputs.x}`, `{outputs.y}`, not part of `${{…}}`) in
// a v2 template, as written, in order: v2 passes them on as literal text.
std::vector<std::string> V1PlaceholdersInV2(const std::string& text);

}  // namespace parallelrun

#endif  // PARALLELRUN_SPEC_H_
