"""Batch endpoint model deployments end to end (issue 10 items 2 and 3).

The scoring scripts here are written as the public batch deployment samples
write theirs (Azure/azureml-examples cli/endpoints/batch/deploy-models):
init() finds the model under os.environ["AZUREML_MODEL_DIR"] — one folder
down, by glob("*/…") or os.path.join(…, "model") — and run(mini_batch)
returns a list or a pandas DataFrame, which append_row writes to the
deployment's output_file_name. The data and the model are made here.
"""

import os
import unittest

from helpers import E2ETestCase

# mnist-classifier style: the model file found with a glob one level down;
# a DataFrame per mini-batch.
DATAFRAME_SCRIPT = """
import glob
import os

import pandas as pd


def init():
    global factor
    model_path = os.environ["AZUREML_MODEL_DIR"]
    model_file = glob.glob(f"{model_path}/*/*.txt")[-1]
    with open(model_file) as f:
        factor = int(f.read())


def run(mini_batch):
    results = []
    for path in mini_batch:
        with open(path) as f:
            value = int(f.read())
        results.append({"file": os.path.basename(path), "score": value * factor})
    return pd.DataFrame(results)
"""

# imagenet-classifier style: os.path.join(AZUREML_MODEL_DIR, "model"); a list.
LIST_SCRIPT = """
import os


def init():
    global factor
    model_path = os.path.join(os.environ["AZUREML_MODEL_DIR"], "model")
    with open(os.path.join(model_path, "factor.txt")) as f:
        factor = int(f.read())


def run(mini_batch):
    return ["%s,%d" % (os.path.basename(p), int(open(p).read()) * factor) for p in mini_batch]
"""

SETTINGS_LAYOUT = """
$schema: https://azuremlschemas.azureedge.net/latest/modelBatchDeployment.schema.json
name: scorer-dpl
description: scores numbers
endpoint_name: scorer-batch
type: model
model:
  name: scorer
  path: model
code_configuration:
  code: code
  scoring_script: batch_driver.py
environment:
  name: scorer-env
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest
  conda_file: environment/conda.yaml
compute: azureml:batch-cluster
resources:
  instance_count: 1
settings:
  max_concurrency_per_instance: 2
  mini_batch_size: 3
  output_action: append_row
  output_file_name: scores.csv
  retry_settings:
    max_retries: 3
    timeout: 30
  error_threshold: -1
  logging_level: info
"""

TOP_LEVEL_LAYOUT = """
$schema: https://azuremlschemas.azureedge.net/latest/batchDeployment.schema.json
name: scorer-dpl
endpoint_name: scorer-batch
model: azureml:scorer@latest
code_configuration:
  code: code
  scoring_script: batch_driver.py
compute: cpu-cluster
resources:
  instance_count: 1
error_threshold: 0
logging_level: info
max_concurrency_per_instance: 2
mini_batch_size: 2
retry_settings:
  max_retries: 3
  timeout: 300
"""

MINIMAL = """
type: model
model: azureml:scorer:1
code_configuration:
  code: code
  scoring_script: batch_driver.py
"""


class DeploymentTest(E2ETestCase):

    def make_deployment(self, yaml_text, script, model_files):
        self.write("code/batch_driver.py", script)
        for name, text in model_files.items():
            self.write(name, text)
        for i in range(7):
            self.write("data/n%d.txt" % i, "%d\n" % i)
        return self.write("deployment.yml", yaml_text)

    def test_settings_layout_dataframe_into_output_file_name(self):
        spec = self.make_deployment(SETTINGS_LAYOUT, DATAFRAME_SCRIPT, {"model/weights.txt": "3\n"})
        run = self.run_job(spec, "-i", "data=data", "-o", "output=out")
        self.assertExit(run, 0)
        # compute, endpoint_name and environment: accepted, and said once.
        self.assertIn("note: endpoint_name, compute, environment are not used locally", run.stderr)
        self.assertEqual(run.stderr.count("not used locally"), 1)
        self.assertEqual(sorted(os.listdir(self.tmp / "out")), ["scores.csv"])
        rows = (self.tmp / "out" / "scores.csv").read_text().splitlines()
        self.assertEqual(sorted(rows), ["n%d.txt %d" % (i, 3 * i) for i in range(7)])
        rows = self.sorted_rows()
        self.assertEqual(len(rows), 3)  # 7 files, mini_batch_size 3
        started, not_started = self.workers_of_node()
        self.assertEqual(len(started) + len(not_started), 2)
        self.assertEqual(len(self.summary_rows("process_summary.csv")), len(started))

    def test_top_level_layout_list_with_model_flag(self):
        spec = self.make_deployment(TOP_LEVEL_LAYOUT, LIST_SCRIPT,
                                    {"copy/model/factor.txt": "5\n"})
        # Any one name binds the one input (invoke(inputs={NAME: …})).
        run = self.run_job(spec, "-i", "heart_dataset=data", "-o", "score=out",
                           "--model", "copy/model")
        self.assertExit(run, 0)
        # output_file_name not given: the deployment's default.
        rows = (self.tmp / "out" / "predictions.csv").read_text().splitlines()
        self.assertEqual(sorted(rows), ["n%d.txt,%d" % (i, 5 * i) for i in range(7)])
        self.assertEqual(len(self.sorted_rows()), 4)  # mini_batch_size 2

    def test_registered_model_without_model_flag_is_refused(self):
        spec = self.make_deployment(TOP_LEVEL_LAYOUT, LIST_SCRIPT, {})
        run = self.run_job(spec, "-i", "data=data")
        self.assertUsageError(
            run, "%s:4:8: model azureml:scorer@latest is a registered Azure ML model, which "
                 "parallelrun cannot download; give a local copy of it with --model PATH (the "
                 "folder or file that was registered)" % spec)
        self.assertFalse(self.job_dir.exists())

    def test_dry_run_shows_the_deployment_defaults(self):
        spec = self.make_deployment(MINIMAL, LIST_SCRIPT, {"model/factor.txt": "1\n"})
        run = self.run_job(spec, "-i", "data=data", "--model", "model", "--dry-run")
        self.assertExit(run, 0)
        lines = run.stdout.splitlines()
        self.assertEqual(lines[1], "spec: %s (batch deployment '')" % spec)
        self.assertIn(
            "settings: mini_batch_size 10 (default), process_count_per_node 1 (default), "
            "error_threshold -1 (default), run_max_try 3 (default), run_invocation_timeout 30 "
            "(default), output_action append_row (default), append_row_file_name "
            "predictions.csv (default), logging_level INFO (default)", lines)
        self.assertIn("model: %s (AZUREML_MODEL_DIR=%s)"
                      % (self.tmp / "model", self.job_dir / "model"), lines)
        self.assertIn("append_row: %s/predictions.csv" % (self.job_dir / "outputs" / "output"),
                      lines)
        self.assertFalse(self.job_dir.exists())

    def test_parallel_run_config_set_as_flags(self):
        # A notebook's ParallelRunConfig, its fields given as flags.
        spec = self.make_deployment(MINIMAL, LIST_SCRIPT, {"model/factor.txt": "2\n"})
        flags = ["--mini_batch_size", "5", "--error_threshold", "10",
                 "--process_count_per_node", "2", "--run_invocation_timeout", "60",
                 "--output_action", "append_row", "--append_row_file_name", "out.txt"]
        run = self.run_job(spec, "-i", "data=data", "-o", "output=out", "--model", "model",
                           *flags, "--dry-run", job_dir="dry")
        self.assertExit(run, 0)
        self.assertIn(
            "settings: mini_batch_size 5, process_count_per_node 2, error_threshold 10, "
            "run_max_try 3 (default), run_invocation_timeout 60, output_action append_row, "
            "append_row_file_name out.txt, logging_level INFO (default)",
            run.stdout.splitlines())
        run = self.run_job(spec, "-i", "data=data", "-o", "output=out", "--model", "model", *flags)
        self.assertExit(run, 0)
        rows = (self.tmp / "out" / "out.txt").read_text().splitlines()
        self.assertEqual(sorted(rows), ["n%d.txt,%d" % (i, 2 * i) for i in range(7)])
        self.assertEqual(len(self.sorted_rows()), 2)

    def test_v2_and_deployment_names_as_flags(self):
        spec = self.make_deployment(MINIMAL, LIST_SCRIPT, {"model/factor.txt": "2\n"})
        run = self.run_job(spec, "-i", "data=data", "--model", "model",
                           "--max_concurrency_per_instance", "3", "--timeout", "45",
                           "--max-retries", "2", "--output_file_name", "x.csv",
                           "--mini_batch_error_threshold", "1", "--dry-run")
        self.assertExit(run, 0)
        self.assertIn(
            "settings: mini_batch_size 10 (default), process_count_per_node 3, error_threshold "
            "-1 (default), run_max_try 2, run_invocation_timeout 45, output_action append_row "
            "(default), append_row_file_name x.csv, logging_level INFO (default)",
            run.stdout.splitlines())
        # Not passed on to the script as words it would have to ignore.
        entry = [l for l in run.stdout.splitlines() if l.startswith("entry script: ")][0]
        self.assertNotIn("--timeout", entry)
        self.assertIn("--allowed_failed_count 1", entry)

    def test_endpoint_yaml_is_refused(self):
        spec = self.write("endpoint.yml", """
            $schema: https://azuremlschemas.azureedge.net/latest/batchEndpoint.schema.json
            name: scorer-batch
            auth_mode: aad_token
            """)
        run = self.run_job(spec, "-i", "data=data")
        self.assertUsageError(
            run, "%s:1:10: this is a batch endpoint, which only names its deployments; run a "
                 "deployment's YAML instead: parallelrun run deployment.yml -i data=DIR --model "
                 "PATH\n  $schema: https://azuremlschemas.azureedge.net/latest/batchEndpoint."
                 "schema.json\n           ^" % spec)

    def test_misspelt_setting_in_program_arguments_is_warned(self):
        self.write("score.py", "def run(mini_batch):\n    return mini_batch\n")
        self.write("data/a.txt", "1\n")
        spec = self.write("job.yaml", """
            type: parallel
            inputs:
              data:
                type: uri_folder
            input_data: ${{inputs.data}}
            task:
              entry_script: score.py
              program_arguments: --resource_monitor_interva 20
            """)
        run = self.run_job(spec, "-i", "data=data", "--dry-run")
        self.assertExit(run, 0)
        self.assertIn("%s:8:22: warning: program_arguments has --resource_monitor_interva, which "
                      "is not a setting (did you mean --resource_monitor_interval?); it is passed "
                      "to the entry script unchanged" % spec, run.stderr)


if __name__ == "__main__":
    unittest.main()
