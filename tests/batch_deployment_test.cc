// Tests of the batch deployment format (lib/plan/spec.cc ParseDeployment and
// its binding in lib/plan/job_plan.cc): a model deployment YAML in both
// layouts (older top-level keys, newer `settings:`) becomes a Spec with the
// deployment's defaults, its model, and one input and one output; endpoint
// and pipeline deployment YAMLs are refused with what to run instead.
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "base/job_dir.h"
#include "parallelrun/run.h"
#include "parallelrun/run_settings.h"
#include "parallelrun/spec.h"
#include "plan/job_plan.h"
#include "temp_dir.h"

namespace parallelrun {
namespace {

// A deployment folder as the samples lay one out: code/ with the scoring
// script, model/ with the model's files, data/ with two files to score.
struct Deployment {
  TempDir dir{"batch_deployment_test"};
  Deployment() {
    dir.Write("code/batch_driver.py", "def init():\n    pass\n\ndef run(mini_batch):\n    return mini_batch\n");
    dir.Write("model/model.txt", "2\n");
    dir.Write("data/a.txt", "1\n");
    dir.Write("data/b.txt", "2\n");
  }
  std::string Spec(const std::string& text) const { return dir.Write("deployment.yml", text); }
};

const char kSettingsLayout[] =
    "$schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json\n"
    "name: scorer\n"
    "endpoint_name: scoring-endpoint\n"
    "type: model\n"
    "model:\n"
    "  name: scorer-model\n"
    "  path: model\n"
    "code_configuration:\n"
    "  code: code\n"
    "  scoring_script: batch_driver.py\n"
    "environment:\n"
    "  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest\n"
    "compute: azureml:batch-cluster\n"
    "resources:\n"
    "  instance_count: 1\n"
    "settings:\n"
    "  max_concurrency_per_instance: 2\n"
    "  mini_batch_size: 5\n"
    "  output_action: append_row\n"
    "  output_file_name: scores.csv\n"
    "  retry_settings:\n"
    "    max_retries: 4\n"
    "    timeout: 45\n"
    "  error_threshold: 7\n"
    "  logging_level: debug\n"
    "  environment_variables:\n"
    "    SCORER_MODE: fast\n";

const char kTopLevelLayout[] =
    "$schema: https://azuremlschemas.azureedge.net/latest/batchDeployment.schema.json\n"
    "name: scorer\n"
    "endpoint_name: scoring-endpoint\n"
    "model: azureml:scorer-model@latest\n"
    "code_configuration:\n"
    "  code: code\n"
    "  scoring_script: batch_driver.py\n"
    "compute: azureml:batch-cluster\n"
    "resources:\n"
    "  instance_count: 1\n"
    "max_concurrency_per_instance: 2\n"
    "mini_batch_size: 5\n"
    "output_action: append_row\n"
    "output_file_name: scores.csv\n"
    "retry_settings:\n"
    "  max_retries: 4\n"
    "  timeout: 45\n"
    "error_threshold: 7\n"
    "logging_level: debug\n"
    "environment_variables:\n"
    "  SCORER_MODE: fast\n";

// canonical setting → value, as both layouts above write them.
const std::map<std::string, std::string> kWritten = {
    {"process_count_per_node", "2"}, {"mini_batch_size", "5"},     {"output_action", "append_row"},
    {"append_row_file_name", "scores.csv"}, {"run_max_try", "4"},  {"run_invocation_timeout", "45"},
    {"error_threshold", "7"},        {"logging_level", "debug"},   {"node_count", "1"}};

TEST_CASE("Deployment: both layouts give the same settings, at their places", "[deployment]") {
  Deployment d;
  for (const char* text : {kSettingsLayout, kTopLevelLayout}) {
    INFO(text);
    auto spec = ParseSpecFile(d.Spec(text));
    REQUIRE(spec.ok());
    CHECK(spec->format == SpecFormat::kBatchDeployment);
    CHECK(spec->entry_script == d.dir.path() + "/code/batch_driver.py");
    CHECK(spec->code_dir == d.dir.path() + "/code");
    REQUIRE(spec->settings.size() == kWritten.size());
    for (const auto& [name, value] : kWritten) {
      INFO(name);
      REQUIRE(spec->settings.count(name));
      CHECK(spec->settings.at(name).value == value);
      CHECK(spec->settings.at(name).where.line > 0);
    }
    CHECK(spec->environment_variables.at("SCORER_MODE") == "fast");
    REQUIRE(spec->inputs.size() == 1);
    CHECK(spec->inputs[0].name == "data");
    CHECK(spec->input_data == std::vector<std::string>{"data"});
    REQUIRE(spec->outputs.size() == 1);
    CHECK(spec->output_data == "output");

    auto rs = ResolveRunSettings(*spec, {}, 8, false);
    REQUIRE(rs.ok());
    CHECK(rs->process_count_per_node == 2);
    CHECK(rs->mini_batch_size == 5);
    CHECK(rs->output_action == OutputAction::kAppendRow);
    CHECK(rs->append_row_file_name == "scores.csv");
    CHECK(rs->run_max_try == 4);
    CHECK(rs->run_invocation_timeout == 45);
    CHECK(rs->error_threshold == 7);
    CHECK(rs->logging_level == "DEBUG");
  }
}

TEST_CASE("Deployment: the deployment's defaults, below the YAML and the flags", "[deployment]") {
  Deployment d;
  auto spec = ParseSpecFile(d.Spec(
      "type: model\n"
      "model: azureml:scorer-model:1\n"
      "code_configuration:\n"
      "  code: code\n"
      "  scoring_script: batch_driver.py\n"));
  REQUIRE(spec.ok());
  CHECK(spec->settings.empty());
  auto rs = ResolveRunSettings(*spec, {}, 8, false);
  REQUIRE(rs.ok());
  CHECK(rs->mini_batch_size == 10);
  CHECK(rs->process_count_per_node == 1);  // not the 8 cores
  CHECK(rs->error_threshold == -1);
  CHECK(rs->run_max_try == 3);
  CHECK(rs->run_invocation_timeout == 30);
  CHECK(rs->output_action == OutputAction::kAppendRow);
  CHECK(rs->append_row_file_name == "predictions.csv");
  CHECK(rs->logging_level == "INFO");
  CHECK(rs->given.empty());  // defaults are not the user's

  rs = ResolveRunSettings(*spec, {{"timeout", "90"}, {"output_action", "summary_only"}}, 8, false);
  REQUIRE(rs.ok());
  CHECK(rs->run_invocation_timeout == 90);
  CHECK(rs->output_action == OutputAction::kSummaryOnly);
  CHECK(rs->given.size() == 2);
}

TEST_CASE("Deployment: model forms", "[deployment]") {
  Deployment d;
  const std::string head =
      "type: model\n"
      "code_configuration:\n"
      "  code: code\n"
      "  scoring_script: batch_driver.py\n";
  auto spec = ParseSpecFile(d.Spec(head + "model: azureml:scorer@latest\n"));
  REQUIRE(spec.ok());
  CHECK(spec->model_reference == "azureml:scorer@latest");
  CHECK(spec->model_path.empty());
  CHECK(spec->model_where.line == 5);

  spec = ParseSpecFile(d.Spec(head + "model:\n  path: ./model/\n"));
  REQUIRE(spec.ok());
  CHECK(spec->model_path == d.dir.path() + "/model");

  spec = ParseSpecFile(d.Spec(head + "model:\n  name: scorer\n  version: \"3\"\n"));
  REQUIRE(spec.ok());
  CHECK(spec->model_reference == "azureml:scorer:3");

  spec = ParseSpecFile(d.Spec(head + "model:\n  path: missing\n"));
  REQUIRE_FALSE(spec.ok());
  CHECK(spec.status().message().find("deployment.yml:6:9: model path missing not found (looked for " +
                                     d.dir.path() + "/missing)") != std::string::npos);

  spec = ParseSpecFile(d.Spec(head + "model: scorer.pkl\n"));
  REQUIRE_FALSE(spec.ok());
  CHECK(spec.status().message().find("is not a registered model") != std::string::npos);
}

TEST_CASE("Deployment: refused documents say what to run instead", "[deployment]") {
  Deployment d;
  struct Case {
    std::string text, message;
  };
  std::vector<Case> cases = {
      {"$schema: https://azuremlschemas.azureedge.net/latest/batchEndpoint.schema.json\n"
       "name: scoring-endpoint\nauth_mode: aad_token\n",
       "deployment.yml:1:10: this is a batch endpoint, which only names its deployments; run a "
       "deployment's YAML instead: parallelrun run deployment.yml -i data=DIR --model PATH"},
      {"name: scoring-endpoint\nauth_mode: aad_token\n",
       "deployment.yml:2:12: this is a batch endpoint"},
      {"$schema: https://azuremlschemas.azureedge.net/latest/pipelineComponentBatchDeployment.schema.json\n"
       "name: d\nendpoint_name: e\ntype: pipeline\ncomponent: azureml:c@latest\n",
       "deployment.yml:4:7: a pipeline component deployment (type: pipeline) runs a whole "
       "pipeline, which parallelrun does not"},
      {"type: model\nmodel: azureml:m@latest\n",
       "deployment.yml:1:1: the deployment has no code_configuration: it is an MLflow no-code "
       "deployment"},
      {"type: model\nmodel: azureml:m@latest\ncode_configuration:\n  code: code\n"
       "  scoring_script: batch_driver.py\nsettings:\n  mini_batch_sise: 3\n",
       "deployment.yml:7:3: unknown key 'mini_batch_sise' in settings; did you mean "
       "'mini_batch_size'?"},
      {"type: model\nmodel: azureml:m@latest\ncode_configuration:\n  code: code\n"
       "  scoring_script: batch_driver.py\nmini_batch_size: 3\nsettings:\n  mini_batch_size: 4\n",
       "deployment.yml:8:3: settings.mini_batch_size and mini_batch_size (line 6) are both given; "
       "keep one"},
      {"type: model\nmodel: azureml:m@latest\ncode_configuration:\n  code: code\n"
       "  scoring_script: batch_driver.py\nresources:\n  instance_count: 2\nsettings:\n"
       "  instance_count: 3\n",
       "are both given; keep one"},
      {"type: model\nmodel: azureml:m@latest\ncode_configuration:\n  code: code\n"
       "  scoring_script: missing.py\n",
       "deployment.yml:5:19: entry script missing.py not found"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    auto spec = ParseSpecFile(d.Spec(c.text));
    REQUIRE_FALSE(spec.ok());
    CHECK(spec.status().code() == Status::Code::kUsage);
    CHECK_THAT(spec.status().message(), Catch::Contains(c.message));
  }
}

TEST_CASE("Deployment: keys with no local meaning get one note", "[deployment]") {
  Deployment d;
  auto spec = ParseSpecFile(d.Spec(kSettingsLayout));
  REQUIRE(spec.ok());
  REQUIRE(spec->warnings.size() == 1);
  CHECK(spec->warnings[0] ==
        d.dir.path() + "/deployment.yml:3:1: note: endpoint_name, compute, environment are not "
                       "used locally (the deployment runs on this machine, in the current Python)");
}

RunRequest Request(const Deployment& d, const std::string& spec) {
  RunRequest req;
  req.spec_path = spec;
  req.cwd = d.dir.path();
  req.job_dir = d.dir.path() + "/job";
  req.cores = 4;
  return req;
}

TEST_CASE("Deployment plan: a registered model needs --model", "[deployment]") {
  Deployment d;
  RunRequest req = Request(d, d.Spec(kTopLevelLayout));
  req.inputs = {{"data", "data"}};
  auto plan = MakeJobPlan(req);
  REQUIRE_FALSE(plan.ok());
  CHECK(plan.status().message() ==
        d.dir.path() + "/deployment.yml:4:8: model azureml:scorer-model@latest is a registered "
                       "Azure ML model, which parallelrun cannot download; give a local copy of "
                       "it with --model PATH (the folder or file that was registered)");

  req.model = "nowhere";
  plan = MakeJobPlan(req);
  REQUIRE_FALSE(plan.ok());
  CHECK(plan.status().message() == "--model nowhere: No such file or directory");

  req.model = "model";
  plan = MakeJobPlan(req);
  REQUIRE(plan.ok());
  CHECK(plan->model_path == d.dir.path() + "/model");
  CHECK(plan->model_dir == ModelDir(req.job_dir));
  CHECK(plan->spec.environment_variables.at("AZUREML_MODEL_DIR") == ModelDir(req.job_dir));
  REQUIRE(plan->append_row);
  CHECK(plan->append_row->file_name == "scores.csv");

  // The job's folders: AZUREML_MODEL_DIR holds the model under its own name.
  REQUIRE(CreateJobFolders(*plan).ok());
  struct stat st;
  REQUIRE(lstat((plan->model_dir + "/model").c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  CHECK(access((plan->model_dir + "/model/model.txt").c_str(), R_OK) == 0);
  // Again (a resume): the link is remade, not an error.
  CHECK(CreateJobFolders(*plan).ok());
}

TEST_CASE("Deployment plan: the one input and output go by any name", "[deployment]") {
  Deployment d;
  RunRequest req = Request(d, d.Spec(kSettingsLayout));
  req.inputs = {{"heart_dataset", "data"}};
  req.outputs = {{"score", "out"}};
  auto plan = MakeJobPlan(req);
  REQUIRE(plan.ok());
  CHECK(plan->input_names == std::vector<std::string>{"heart_dataset"});
  CHECK(plan->output_dir == d.dir.path() + "/out");
  CHECK(plan->model_path == d.dir.path() + "/model");  // the inline path
  CHECK(plan->settings.process_count_per_node == 2);

  // --model is only for deployments.
  std::string v2 = d.dir.Write("code/v2.yaml",
                               "type: parallel\ninputs:\n  data:\n    type: uri_folder\n"
                               "input_data: ${{inputs.data}}\ntask:\n  entry_script: batch_driver.py\n");
  RunRequest other = Request(d, v2);
  other.inputs = {{"data", "data"}};
  other.model = "model";
  auto refused = MakeJobPlan(other);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.status().message(),
             Catch::StartsWith("--model is for batch deployment YAMLs; "));
}

}  // namespace
}  // namespace parallelrun
