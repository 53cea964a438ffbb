"""End to end: `parallelrun run pipeline.yml` on v2 pipeline files.

Written on the contract of the public Azure ML samples (cli/jobs/parallel/*
pipeline.yml, the many-models accelerator's cli_pipelines): an inline
parallel job over a folder of CSV files with append_row output; a command
job that partitions a CSV into one file per store, then a parallel job over
its output bound with ${{parent.jobs.partition.outputs.x}}; components
referenced by file; --set, --job, a failing command job, a sweep job and a
remote path refused; and the example under examples/pipeline. The data is
made here.
"""

import os
import pathlib
import shutil
import subprocess

import helpers
from helpers import E2ETestCase

# Scores each CSV file of a mini-batch: one row "<file name> <data rows>".
COUNT_ROWS = '''
import argparse, os

def init():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--model")
    args, _ = parser.parse_known_args()

def run(mini_batch):
    rows = []
    for path in mini_batch:
        with open(path) as f:
            count = sum(1 for _ in f) - 1
        model = open(os.path.join(args.model, "model.txt")).read().strip() if args.model else "-"
        rows.append("%s %d %s" % (os.path.basename(path), count, model))
    return rows
'''

# Writes one file per store of the sales CSV into --out.
PARTITION = '''
import argparse, csv, os, sys
parser = argparse.ArgumentParser()
parser.add_argument("--data")
parser.add_argument("--keys")
parser.add_argument("--out")
a = parser.parse_args()
print("python", sys.executable)
os.makedirs(a.out, exist_ok=True)
with open(a.data) as f:
    reader = csv.DictReader(f)
    groups = {}
    for row in reader:
        groups.setdefault(row[a.keys], []).append(row)
for key, rows in groups.items():
    with open(os.path.join(a.out, "store_%s.csv" % key), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=reader.fieldnames)
        w.writeheader()
        w.writerows(rows)
print("partitions", len(groups))
'''

# Records the files of each mini-batch into --out/<store>.txt (a "model").
TRAIN = '''
import argparse, os

def init():
    global args
    parser = argparse.ArgumentParser()
    parser.add_argument("--out")
    parser.add_argument("--target")
    args, _ = parser.parse_known_args()

def run(mini_batch):
    for path in mini_batch:
        with open(path) as f:
            rows = f.read().splitlines()[1:]
        name = os.path.splitext(os.path.basename(path))[0]
        with open(os.path.join(args.out, name + ".model"), "w") as f:
            f.write("%s rows=%d\\n" % (args.target, len(rows)))
    return mini_batch
'''

IRIS_PIPELINE = '''
$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
display_name: iris-batch-prediction-using-parallel
description: an inline parallel job
experiment_name: local
tags:
  owner: e2e
settings:
  default_compute: azureml:cpu-cluster
jobs:
  batch_prediction:
    type: parallel
    compute: azureml:cpu-cluster
    inputs:
      input_data:
        type: uri_folder
        path: ./iris
        mode: ro_mount
      score_model:
        type: uri_folder
        path: ./iris-model
        mode: download
    outputs:
      job_output_file:
        type: uri_file
        mode: rw_mount
    input_data: ${{inputs.input_data}}
    mini_batch_size: "2"
    resources:
      instance_count: 1
    max_concurrency_per_instance: 2
    mini_batch_error_threshold: 5
    retry_settings:
      max_retries: 2
      timeout: 60
    task:
      type: run_function
      code: ./script
      entry_script: score.py
      environment:
        image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04
      program_arguments: >-
        --model ${{inputs.score_model}}
      append_row_to: ${{outputs.job_output_file}}
'''

MANY_MODELS_PIPELINE = '''
type: pipeline
display_name: Many Model Training
settings:
  default_compute: azureml:mm-cpu-cluster
inputs:
  sales:
    type: uri_file
    path: ./data/sales.csv
outputs:
  models:
    type: uri_folder
    mode: rw_mount
jobs:
  partition:
    type: command
    code: ./src
    command: >-
      python partition.py --data ${{inputs.data_source}} --keys ${{inputs.partition_keys}}
      --out ${{outputs.tabular_output_data}}
    inputs:
      data_source: ${{parent.inputs.sales}}
      partition_keys: Store
    outputs:
      tabular_output_data:
        type: uri_folder
        mode: rw_mount
    environment:
      image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04
  train:
    type: parallel
    inputs:
      data_source:
        path: ${{parent.jobs.partition.outputs.tabular_output_data}}
        type: uri_folder
        mode: ro_mount
      target_col: "Revenue"
    outputs:
      model_folder: ${{parent.outputs.models}}
    input_data: ${{inputs.data_source}}
    mini_batch_size: "1"
    max_concurrency_per_instance: 2
    error_threshold: -1
    task:
      type: run_function
      code: ./src
      entry_script: train.py
      program_arguments: >-
        --target ${{inputs.target_col}}
        --out ${{outputs.model_folder}}
'''

STORES = ["1", "2", "5", "7"]


class PipelineTest(E2ETestCase):

    def run_pipeline(self, pipeline, *args, job_dir="pjob", **kwargs):
        self.job_dir = self.tmp / job_dir
        return self.run_parallelrun("run", pipeline, "--job-dir", self.job_dir,
                                    "--progress", "none", *args, **kwargs)

    def iris(self):
        for i in range(5):
            rows = "\n".join("%d.1,3.5,1.4,0.2" % j for j in range(i + 1))
            self.write("iris/part%d.csv" % i, "a,b,c,d\n" + rows + "\n")
        self.write("iris-model/model.txt", "m1\n")
        self.write("script/score.py", COUNT_ROWS)
        return self.write("pipeline.yml", IRIS_PIPELINE)

    def many_models(self):
        lines = ["Store,Week,Revenue"]
        for week in range(3):
            for store in STORES:
                lines.append("%s,%d,%d" % (store, week, 100 * week + int(store)))
        self.write("data/sales.csv", "\n".join(lines) + "\n")
        self.write("src/partition.py", PARTITION)
        self.write("src/train.py", TRAIN)
        return self.write("pipeline.yml", MANY_MODELS_PIPELINE)

    def check_models(self, folder):
        self.assertEqual(sorted(os.listdir(folder)),
                         ["store_%s.model" % s for s in STORES])
        for s in STORES:
            self.assertEqual((folder / ("store_%s.model" % s)).read_text(), "Revenue rows=3\n")

    # ---- running ------------------------------------------------------------

    def test_inline_parallel_job_over_csv_folder(self):
        pipeline = self.iris()
        run = self.run_pipeline(pipeline)
        self.assertExit(run, 0)
        job = self.job_dir / "batch_prediction"
        out = job / "outputs" / "job_output_file"
        rows = sorted(out.read_text().splitlines())
        self.assertEqual(rows, ["part%d.csv %d m1" % (i, i + 1) for i in range(5)])
        # The parallel job is a job dir of its own, with the usual reports.
        self.assertEqual(len(self.mini_batch_rows(job)), 3)
        self.assertIn("parallelrun: pipeline iris-batch-prediction-using-parallel: 1 job "
                      "(batch_prediction); job dir %s\n" % self.job_dir, run.stderr)
        self.assertIn("environment (docker image mcr.microsoft.com/azureml/openmpi4.1.0-"
                      "ubuntu22.04) is not provisioned", run.stderr)
        self.assertTrue(run.stderr.endswith(
            "parallelrun: pipeline iris-batch-prediction-using-parallel:\n"
            "  batch_prediction  parallel  succeeded\n"
            "  job dir %s\n" % self.job_dir), run.stderr)

    def test_command_job_partitions_then_parallel_job_trains(self):
        pipeline = self.many_models()
        run = self.run_pipeline(pipeline, "-o", "models=./models")
        self.assertExit(run, 0)
        parts = self.job_dir / "partition" / "outputs" / "tabular_output_data"
        self.assertEqual(sorted(os.listdir(parts)), ["store_%s.csv" % s for s in STORES])
        self.check_models(self.tmp / "models")
        log = (self.job_dir / "partition" / "command.log").read_text()
        self.assertIn("partitions 4\n", log)
        # `python` in the command is the workers' interpreter.
        self.assertIn("python %s\n" % helpers.PYTHON, log)
        self.assertIn("(partition → train)", run.stderr)
        self.assertIn("  partition  command   succeeded\n  train      parallel  succeeded\n",
                      run.stderr)

    def test_components_referenced_by_file(self):
        self.many_models()
        self.write("src/partition.yml", '''
            $schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
            type: command
            name: partition_data
            version: 1
            inputs:
              data_source:
                type: uri_file
              partition_keys:
                type: string
            outputs:
              tabular_output_data:
                type: uri_folder
            code: ./
            command: >-
              python partition.py --data ${{inputs.data_source}}
              --keys ${{inputs.partition_keys}} --out ${{outputs.tabular_output_data}}
            ''')
        self.write("src/train.yml", '''
            type: parallel
            name: train
            inputs:
              data_source:
                type: uri_folder
              target_col:
                type: string
                default: Revenue
            outputs:
              model_folder:
                type: uri_folder
            input_data: ${{inputs.data_source}}
            mini_batch_size: "3"
            task:
              code: ./
              entry_script: train.py
              program_arguments: --target ${{inputs.target_col}} --out ${{outputs.model_folder}}
            ''')
        pipeline = self.write("pipeline.yml", '''
            type: pipeline
            jobs:
              partition:
                type: command
                component: ./src/partition.yml
                inputs:
                  data_source:
                    type: uri_file
                    path: ./data/sales.csv
                  partition_keys: Store
              train:
                type: parallel
                component: file:./src/train.yml
                mini_batch_size: 1
                inputs:
                  data_source: ${{parent.jobs.partition.outputs.tabular_output_data}}
            ''')
        run = self.run_pipeline(pipeline)
        self.assertExit(run, 0)
        self.check_models(self.job_dir / "train" / "outputs" / "model_folder")
        # The job's mini_batch_size (1) wins over the component's (3): 4 mini-batches.
        self.assertEqual(len(self.mini_batch_rows(self.job_dir / "train")), 4)

    def test_set_overrides_a_job_setting(self):
        pipeline = self.iris()
        run = self.run_pipeline(pipeline, "--set", "jobs.batch_prediction.mini_batch_size=5")
        self.assertExit(run, 0)
        self.assertEqual(len(self.mini_batch_rows(self.job_dir / "batch_prediction")), 1)

    def test_job_runs_one_job_after_its_upstream(self):
        pipeline = self.many_models()
        run = self.run_pipeline(pipeline, "--job", "train")
        self.assertUsageError(
            run, "job train reads an output of job partition (input data_source: %s), which "
                 "does not exist yet: run job partition first (parallelrun run %s --job partition "
                 "--job-dir %s), or the whole pipeline"
            % (self.job_dir / "partition" / "outputs" / "tabular_output_data", pipeline,
               self.job_dir))
        run = self.run_pipeline(pipeline, "--job", "partition")
        self.assertExit(run, 0)
        self.assertFalse((self.job_dir / "train").exists())
        self.assertIn("  partition  command   succeeded\n", run.stderr)
        run = self.run_pipeline(pipeline, "--job", "train")
        self.assertExit(run, 0)
        self.check_models(self.job_dir / "outputs" / "models")
        run = self.run_pipeline(pipeline, "--job", "trian")
        self.assertUsageError(run, "--job trian: the pipeline has no job 'trian'; did you mean "
                                   "'train'?")

    def test_failing_command_job_stops_the_pipeline(self):
        pipeline = self.many_models()
        self.write("src/partition.py", "import sys\nprint('reading the data', flush=True)\n"
                                       "sys.exit('no column Store')\n")
        run = self.run_pipeline(pipeline)
        self.assertExit(run, 1)
        log = self.job_dir / "partition" / "command.log"
        self.assertIn("parallelrun: error: job partition failed: its command exited with code 1; "
                      "its log: %s; the last lines:\n  reading the data\n  no column Store\n"
                      % log, run.stderr)
        self.assertIn("  partition  command   failed\n  train      parallel  not run\n",
                      run.stderr)
        self.assertFalse((self.job_dir / "train").exists())

    def test_dry_run_prints_each_job_in_order(self):
        pipeline = self.many_models()
        run = self.run_pipeline(pipeline, "--dry-run")
        self.assertExit(run, 0)
        self.assertIn("job partition: in %s, /bin/sh -c 'python partition.py --data %s --keys "
                      "Store --out %s'\n" % (self.tmp / "src", self.tmp / "data" / "sales.csv",
                                              self.job_dir / "partition" / "outputs" /
                                              "tabular_output_data"), run.stdout)
        self.assertIn("job train: its plan is made when the jobs before it have run (it reads "
                      "data_source ← job partition)\n", run.stdout)
        self.assertFalse(self.job_dir.exists())
        # With its input present, a parallel job's plan is the usual one.
        iris = self.iris()
        run = self.run_pipeline(iris, "--dry-run", job_dir="iris-job")
        self.assertExit(run, 0)
        self.assertIn("mini-batch", run.stdout)
        self.assertFalse((self.tmp / "iris-job").exists())

    def test_validate_checks_every_job(self):
        pipeline = self.many_models()
        run = self.run_parallelrun("validate", pipeline)
        self.assertExit(run, 0)
        self.assertIn("valid pipeline 'Many Model Training' of 2 jobs\n", run.stdout)
        self.assertIn("  job train (parallel) after partition\n", run.stdout)
        self.write("src/train.py", "def run(mini_batch)\n    return []\n")
        run = self.run_parallelrun("validate", pipeline)
        self.assertExit(run, 2)
        self.assertIn("train.py:1:", run.stderr)

    # ---- refused ------------------------------------------------------------

    def test_sweep_job_is_refused(self):
        pipeline = self.write("pipeline.yml", '''
            type: pipeline
            jobs:
              tune:
                type: sweep
                trial: ./train.yml
            ''')
        run = self.run_pipeline(pipeline)
        self.assertUsageError(
            run, "%s:4:11: job tune is a sweep job; parallelrun runs the parallel and command "
                 "jobs of a pipeline, not sweep jobs\n      type: sweep\n            ^" % pipeline)

    def test_remote_input_path_asks_for_a_local_one(self):
        pipeline = self.many_models()
        text = pipeline.read_text().replace("path: ./data/sales.csv",
                                            "path: azureml:sales:1")
        pipeline.write_text(text)
        run = self.run_pipeline(pipeline)
        self.assertUsageError(
            run, "%s:8:11: pipeline input sales is azureml:sales:1, a remote path, which job "
                 "partition reads; a local run needs a local path: give one with -i sales=PATH\n"
                 "      path: azureml:sales:1\n"
                 "            ^" % pipeline)
        self.assertFalse(self.job_dir.exists())
        run = self.run_pipeline(pipeline, "-i", "sales=data/sales.csv", "-o", "models=m")
        self.assertExit(run, 0)
        self.check_models(self.tmp / "m")

    def test_unknown_job_binding_names_job_and_output(self):
        pipeline = self.many_models()
        pipeline.write_text(pipeline.read_text().replace(
            "jobs.partition.outputs.tabular_output_data", "jobs.partition.outputs.tabular_data"))
        run = self.run_pipeline(pipeline)
        self.assertExit(run, 2)
        self.assertIn("job train reads ${{parent.jobs.partition.outputs.tabular_data}}, but job "
                      "partition has no output 'tabular_data'; its outputs are: "
                      "tabular_output_data", run.stderr)


class PipelineExampleTest(E2ETestCase):
    """examples/pipeline/run.sh runs, twice, and leaves the source tree clean."""

    def test_example_runs_and_reruns(self):
        example = helpers.SOURCE_DIR / "examples" / "pipeline"
        env = dict(os.environ, PARALLELRUN=self.parallelrun, PIPELINE_EXAMPLE_DIR=str(self.tmp / "w"),
                   PARALLELRUN_PYTHON=helpers.PYTHON)
        before = sorted(str(p) for p in example.rglob("*"))
        for _ in range(2):
            proc = subprocess.run(["bash", str(example / "run.sh"), "--progress", "none"],
                                  env=env, capture_output=True, text=True,
                                  timeout=helpers.RUN_TIMEOUT)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("models: 3 in", proc.stdout)
        self.assertEqual(sorted(str(p) for p in example.rglob("*")), before)
