"""append_row output end to end (issue 4; reference §1.2 output_action,
append_row_file_name, §3.4).

Every entry script here also writes, for each mini-batch, the bytes the
original's driver would have appended for its return value — str(x) + "\\n"
per list element, df.to_csv(path, header=None, index=None, sep=" ",
mode="a") for a DataFrame — to expect/<minibatch_index>.txt. The final file
must be those files concatenated in mini-batch id order, byte for byte: each
mini-batch's rows once, even after a retry, and never a half-written file.
"""

import glob
import json
import os
import signal
import subprocess
import time
import unittest

from helpers import PYTHON, E2ETestCase

# List results. KILL_FIRST / HANG_FIRST: comma-separated mini-batch indexes
# whose first attempt dies (SIGKILL) or hangs while its rows are being
# written (the Bomb element's str() does it, after some rows were written).
LIST_SCRIPT = """
import os
import signal
import time

STATE = os.environ["STATE_DIR"]
EXPECT = os.environ["EXPECT_DIR"]


class Bomb:
    def __init__(self, text, action):
        self.text, self.action = text, action

    def __str__(self):
        if self.action == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.action == "hang":
            time.sleep(60)
        return self.text


def first_attempt(index):
    marker = os.path.join(STATE, "tried_%d" % index)
    if os.path.exists(marker):
        return False
    open(marker, "w").close()
    return True


def run(mini_batch, mini_batch_context):
    index = mini_batch_context.minibatch_index
    if index == 0:
        time.sleep(float(os.environ.get("FIRST_SLEEP", "0")))  # finish after later ones
    rows = []
    for path in mini_batch:
        name = os.path.basename(path)
        rows += [name, "%s: %d" % (name, len(path)), {"file": name, "n": index},
                 ("tuple", index), 3.25, None, "caf\\u00e9 \\u2603 with  spaces"]
    big = int(os.environ.get("BIG_ROWS", "0"))
    rows += ["%06d %s" % (i, "x" * 300) for i in range(big)]
    action = None
    if str(index) in os.environ.get("KILL_FIRST", "").split(","):
        action = "kill"
    if str(index) in os.environ.get("HANG_FIRST", "").split(","):
        action = "hang"
    with open(os.path.join(EXPECT, "%d.txt" % index), "w", encoding="utf-8") as f:
        for x in rows:
            f.write(str(x) + "\\n")
    if action and first_attempt(index):
        rows.append(Bomb("never", action))
    short = os.environ.get("SHORT_INDEX")
    if short is not None and int(short) == index:
        return rows[:0]
    return rows
"""

# DataFrame results from a tabular input: the frame with a computed column.
FRAME_SCRIPT = """
import os
import signal

STATE = os.environ["STATE_DIR"]
EXPECT = os.environ["EXPECT_DIR"]


class Bomb:
    def __str__(self):
        os.kill(os.getpid(), signal.SIGKILL)


def run(mini_batch, mini_batch_context):
    index = mini_batch_context.minibatch_index
    out = mini_batch.copy()
    out["score"] = out["x"] * 2
    out["label"] = ["has space %d" % i if i % 3 == 0 else 'q"uote' for i in out["id"]]
    path = os.path.join(EXPECT, "%d.txt" % index)
    if os.path.exists(path):
        os.remove(path)
    out.to_csv(path, header=None, index=None, sep=" ", mode="a")  # the original's encoding
    marker = os.path.join(STATE, "tried_%d" % index)
    if str(index) in os.environ.get("KILL_FIRST", "").split(",") and not os.path.exists(marker):
        open(marker, "w").close()
        out = out.astype({"label": object})
        out.loc[len(out) - 1, "label"] = Bomb()  # str() of it kills mid-to_csv
    return out
"""


def v2_spec(input_type="uri_folder", mode=None, output_type="uri_folder", mini_batch_size="2",
            extra=""):
    lines = ["type: parallel", "name: e2e_append_row", "version: 1", "inputs:", "  data:",
             "    type: %s" % input_type]
    if mode:
        lines.append("    mode: %s" % mode)
    lines += ["outputs:", "  result:", "    type: %s" % output_type,
              "input_data: ${{inputs.data}}", 'mini_batch_size: "%s"' % mini_batch_size,
              "max_concurrency_per_instance: 3"]
    lines += [line for line in extra.splitlines() if line.strip()]
    lines += ["task:", "  type: run_function", "  code: ./src", "  entry_script: score.py",
              "  append_row_to: ${{outputs.result}}"]
    return "\n".join(lines) + "\n"


class AppendRowCase(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.state = self.tmp / "state"
        self.expect = self.tmp / "expect"
        self.state.mkdir()
        self.expect.mkdir()
        self.env = {"STATE_DIR": str(self.state), "EXPECT_DIR": str(self.expect)}

    def start(self, spec_text, script=LIST_SCRIPT):
        self.write("src/score.py", script)
        return self.write("spec.yaml", spec_text)

    def make_inputs(self, count):
        return self.make_files(self.tmp / "data", ["f%02d.txt" % i for i in range(count)])

    def expected(self):
        """expect/<id>.txt concatenated in id order."""
        paths = sorted(glob.glob(str(self.expect / "*.txt")),
                       key=lambda p: int(os.path.basename(p).split(".")[0]))
        data = b""
        for p in paths:
            with open(p, "rb") as f:
                data += f.read()
        return data, len(paths)

    def assertNoLeftovers(self, out_dir):
        self.assertFalse((self.job_dir / "append_row").exists(),
                         sorted(os.listdir(self.job_dir / "append_row"))
                         if (self.job_dir / "append_row").exists() else "")
        self.assertEqual([n for n in os.listdir(out_dir) if n.startswith(".")], [])


class ListResultTest(AppendRowCase):
    def test_list_results_into_a_folder_in_mini_batch_order(self):
        self.make_inputs(11)
        spec = self.start(v2_spec())
        out = self.tmp / "out"
        # Mini-batch 0 finishes last; the file is still in id order.
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"), "-o", "result=%s" % out,
                           env=dict(self.env, FIRST_SLEEP="0.5"))
        self.assertExit(run, 0)
        expected, count = self.expected()
        self.assertEqual(count, 6)
        with open(out / "parallel_run_step.txt", "rb") as f:
            self.assertEqual(f.read(), expected)
        self.assertEqual(sorted(os.listdir(out)), ["parallel_run_step.txt"])
        self.assertNoLeftovers(out)
        finished = [int(r["Mini-batch Id"]) for r in self.mini_batch_rows()]
        self.assertNotEqual(finished[0], 0, "mini-batch 0 was meant to finish late")
        master = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertIn("Concatenating the rows of 6 mini-batches (0.00 MB) into %s."
                      % (out / "parallel_run_step.txt"), master)
        argv = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertIn("--output_action append_row --logging_level INFO", argv)
        self.assertIn("--append_row_file_name parallel_run_step.txt", argv)

    def test_append_row_file_name_and_the_output_action_flag(self):
        self.make_inputs(3)
        spec_text = v2_spec().replace("  append_row_to: ${{outputs.result}}\n", "")
        spec = self.start(spec_text)
        out = self.tmp / "out"
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"), "-o", "result=%s" % out,
                           "--output_action", "append_row", "--append_row_file_name",
                           "scores.txt", env=self.env)
        self.assertExit(run, 0)
        expected, count = self.expected()
        self.assertEqual(count, 2)
        self.assertEqual((out / "scores.txt").read_bytes(), expected)

    def test_summary_only_is_the_default(self):
        self.make_inputs(3)
        spec_text = v2_spec().replace("  append_row_to: ${{outputs.result}}\n", "")
        spec = self.start(spec_text)
        out = self.tmp / "out"
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"), "-o", "result=%s" % out,
                           env=self.env)
        self.assertExit(run, 0)
        self.assertEqual(os.listdir(out), [])
        self.assertFalse((self.job_dir / "append_row").exists())

    def test_a_retried_mini_batch_contributes_its_rows_once(self):
        self.make_inputs(10)
        spec = self.start(v2_spec(extra="retry_settings:\n  max_retries: 3\n  timeout: 3"))
        out = self.tmp / "out"
        # Mini-batches 1 and 3 die while their 1 MB of rows is being written,
        # mini-batch 2 hangs there until run_invocation_timeout stops it.
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"), "-o", "result=%s" % out,
                           env=dict(self.env, KILL_FIRST="1,3", HANG_FIRST="2", BIG_ROWS="4500"))
        self.assertExit(run, 0)
        expected, count = self.expected()
        self.assertEqual(count, 5)
        final = (out / "parallel_run_step.txt").read_bytes()
        self.assertEqual(len(final), len(expected))
        self.assertEqual(final, expected)
        by_id = {}
        for r in self.sorted_rows():
            by_id.setdefault(int(r["Mini-batch Id"]), []).append(r["Status"])
        self.assertEqual(by_id, {0: ["RUN_DONE"], 1: ["PROCESS_DIED", "RUN_DONE"],
                                 2: ["RUN_TIMEOUT", "RUN_DONE"], 3: ["PROCESS_DIED", "RUN_DONE"],
                                 4: ["RUN_DONE"]})
        self.assertNoLeftovers(out)

    def test_a_failed_job_does_not_write_the_output(self):
        self.make_inputs(6)
        out = self.tmp / "out"
        out.mkdir()
        (out / "parallel_run_step.txt").write_text("OLD\n")
        spec = self.start(v2_spec(extra="error_threshold: 0"))
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"), "-o", "result=%s" % out,
                           env=dict(self.env, SHORT_INDEX="1"))
        self.assertExit(run, 1)
        self.assertEqual((out / "parallel_run_step.txt").read_text(), "OLD\n")
        self.assertEqual(sorted(os.listdir(out)), ["parallel_run_step.txt"])
        master = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertIn("The append_row output %s was not written because the job did not succeed; "
                      "the rows of its successful mini-batches are in %s."
                      % (out / "parallel_run_step.txt", self.job_dir / "append_row"), master)

    def test_a_job_killed_mid_run_leaves_no_half_written_file(self):
        self.make_inputs(8)
        out = self.tmp / "out"
        out.mkdir()
        (out / "parallel_run_step.txt").write_text("OLD\n")
        spec = self.start(v2_spec(extra="retry_settings:\n  timeout: 60"))
        env = dict(os.environ, PARALLELRUN_PYTHON=PYTHON, **self.env)
        env.update(HANG_FIRST="3", BIG_ROWS="4500")
        self.job_dir = self.tmp / "job"
        proc = subprocess.Popen(
            [self.parallelrun, "run", str(spec), "--job-dir", str(self.job_dir), "--progress",
             "none", "-i", "data=%s" % (self.tmp / "data"), "-o", "result=%s" % out],
            cwd=str(self.tmp), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        # Wait until mini-batch 3 is stuck writing its rows and another
        # mini-batch's rows are complete.
        parts = self.job_dir / "append_row"
        def ready():
            done = [n for n in os.listdir(parts) if n.endswith(".rows")] if parts.exists() else []
            return (self.state / "tried_3").exists() and bool(done)
        self.wait_until(ready, "state to kill the job in", alive=[proc])
        proc.kill()
        proc.wait(timeout=30)
        self.assertEqual((out / "parallel_run_step.txt").read_text(), "OLD\n")
        self.assertEqual(sorted(os.listdir(out)), ["parallel_run_step.txt"])


class FrameResultTest(AppendRowCase):
    def write_table(self, rows=300):
        data = self.tmp / "data"
        data.mkdir()
        with open(data / "t.csv", "w") as f:
            f.write("id,x,text\n")
            for i in range(rows):
                f.write('%d,%s,"%s"\n' % (i, "" if i % 17 == 0 else "%.4f" % (i / 7),
                                         "line\nbreak" if i % 5 == 0 else "t %d" % i))
        return data

    def test_dataframe_results_into_a_uri_file_byte_for_byte(self):
        data = self.write_table()
        spec = self.start(v2_spec(input_type="mltable", mode="direct", output_type="uri_file",
                                  mini_batch_size="1KB"), script=FRAME_SCRIPT)
        target = self.tmp / "results" / "scores.csv"
        run = self.run_job(spec, "-i", "data=%s" % data, "-o", "result=%s" % target,
                           env=self.env)
        self.assertExit(run, 0)
        expected, count = self.expected()
        self.assertGreater(count, 3)
        self.assertEqual(target.read_bytes(), expected)
        self.assertEqual(os.listdir(target.parent), ["scores.csv"])
        self.assertIn(b'"line\nbreak"', expected)
        self.assertIn(b'"has space 0"', expected)

    def test_a_worker_killed_inside_to_csv_is_retried_without_duplicates(self):
        data = self.write_table()
        spec = self.start(v2_spec(input_type="mltable", mode="direct", output_type="uri_file",
                                  mini_batch_size="1KB"), script=FRAME_SCRIPT)
        target = self.tmp / "results" / "scores.csv"
        run = self.run_job(spec, "-i", "data=%s" % data, "-o", "result=%s" % target,
                           env=dict(self.env, KILL_FIRST="0,2"))
        self.assertExit(run, 0)
        expected, _count = self.expected()
        self.assertEqual(target.read_bytes(), expected)
        statuses = {}
        for r in self.sorted_rows():
            statuses.setdefault(int(r["Mini-batch Id"]), []).append(r["Status"])
        self.assertEqual(statuses[0], ["PROCESS_DIED", "RUN_DONE"])
        self.assertEqual(statuses[2], ["PROCESS_DIED", "RUN_DONE"])
        self.assertNoLeftovers(target.parent)


if __name__ == "__main__":
    unittest.main()
