"""End to end: `parallelrun run` over folders of files with real Python workers.

Each test builds its data and spec in a temp folder, runs the binary and checks
the exit code, what the entry script saw (it records it in the output folder)
and the reports of the job dir (processed_mini-batches.csv row by row, the
summaries, job_result.txt).
"""

import json
import os
import re
import shutil
import subprocess
import unittest

import helpers
from helpers import E2ETestCase, argv_options


def disk_files(folder):
    """Every regular file under `folder`, as byte paths (what the lister must find)."""
    found = []
    for root, _, files in os.walk(os.fsencode(str(folder))):
        found += [os.path.join(root, f) for f in files]
    return found


def detail(row):
    return json.loads(row["Mini-batch Detail"])


class RunFilesTest(E2ETestCase):

    def check_rows(self, rows, file_count, batch_size, processes):
        """One RUN_DONE row per mini-batch, ids 0..N-1, counts right, last short."""
        batches = -(-file_count // batch_size)
        self.assertEqual(len(rows), batches, rows)
        # Rows are written as mini-batches finish, so in any order.
        rows = sorted(rows, key=lambda r: int(r["Mini-batch Id"]))
        self.assertEqual([int(r["Mini-batch Id"]) for r in rows], list(range(batches)))
        for i, row in enumerate(rows):
            with self.subTest(mini_batch=i):
                total = batch_size if i < batches - 1 else file_count - batch_size * (batches - 1)
                self.assertEqual(row["Picked Count"], "1")
                self.assertEqual(row["Total"], str(total))
                self.assertEqual(row["Succeeded"], str(total))
                self.assertEqual(row["Failed"], "0")
                self.assertEqual(row["Status"], "RUN_DONE")
                self.assertEqual(row["Error Category"], "")
                self.assertEqual(row["Error Message"], "")
                self.assertEqual(row["Node"], "0")
                self.assertRegex(row["Process"], r"^process\d{3}$")
                self.assertIn(row["Process"], processes)
                self.assertRegex(row["Start Time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
                for column in ("Elapsed Seconds", "Process Seconds", "Run Method Seconds"):
                    self.assertGreaterEqual(float(row[column]), 0.0)
                self.assertEqual(detail(row)["mini_batch_id"], i)
                self.assertEqual(len(detail(row)["items"]), total)

    def check_summaries(self, rows, file_count):
        procs = self.summary_rows("process_summary.csv")
        per_process = {}
        for row in rows:
            per_process.setdefault(row["Process"], []).append(row)
        with_work = [p for p in procs if int(p["Attempts"]) > 0]
        self.assertEqual(sorted(p["Process"] for p in with_work), sorted(per_process))
        for p in procs:
            mine = per_process.get(p["Process"], [])
            self.assertEqual(p["Node"], "0")
            self.assertEqual(int(p["Attempts"]), len(mine))
            self.assertEqual(int(p["Succeeded Mini-batches"]), len(mine))
            self.assertEqual(int(p["Failed Attempts"]), 0)
            self.assertEqual(int(p["Total Items"]), sum(int(r["Total"]) for r in mine))
            self.assertEqual(int(p["Succeeded Items"]), sum(int(r["Succeeded"]) for r in mine))
            self.assertEqual(int(p["Failed Items"]), 0)
        self.assertEqual(sum(int(p["Total Items"]) for p in procs), file_count)
        nodes = self.summary_rows("node_summary.csv")
        self.assertEqual(len(nodes), 1, nodes)
        node = nodes[0]
        self.assertEqual(node["Node"], "0")
        self.assertEqual(int(node["Processes"]), len(procs))
        self.assertEqual(int(node["Attempts"]), len(rows))
        self.assertEqual(int(node["Succeeded Mini-batches"]), len(rows))
        self.assertEqual(int(node["Failed Attempts"]), 0)
        self.assertEqual(int(node["Total Items"]), file_count)
        self.assertEqual(int(node["Succeeded Items"]), file_count)
        self.assertEqual(int(node["Failed Items"]), 0)

    def check_each_file_once(self, out_dir, data_dir):
        recorded = self.recorded_paths(out_dir)
        seen = [p for paths in recorded.values() for p in paths]
        self.assertEqual(len(seen), len(set(seen)), "a file was processed twice")
        self.assertEqual(sorted(seen), sorted(disk_files(data_dir)))
        return recorded

    # ---- 1 -------------------------------------------------------------------

    def test_parallel_component_nested_folder(self):
        data = self.tmp / "data"
        files = self.nested_files(data, 50)
        self.assertEqual(len(files), 50)
        self.copy_script("record_paths.py")
        spec = self.component_spec()
        out = self.tmp / "out"
        run = self.run_job(spec, "-i", "data=data", "-o", "out=out",
                           "--mini_batch_size", "7", "--process-count-per-node", "2",
                           env={"WAIT_FOR_WORKERS": "2"})
        self.assertExit(run, 0)
        self.assertEqual(run.stdout, "")
        recorded = self.check_each_file_once(out, data)
        self.assertEqual(len(recorded), 2, "two workers, one paths file each: %s" % recorded)
        rows = self.mini_batch_rows()
        self.check_rows(rows, 50, 7, {"process000", "process001"})
        # The CSV's items are the paths the script got, batch by batch.
        rows.sort(key=lambda r: int(r["Mini-batch Id"]))
        from_csv = [os.fsencode(item) for row in rows for item in detail(row)["items"]]
        self.assertEqual(sorted(from_csv), sorted(files))
        self.assertTrue(all(detail(r)["input"] == "data" for r in rows))
        self.check_summaries(rows, 50)
        self.assertSucceededReport()
        result = (self.logs() / "job_result.txt").read_text()
        self.assertIn("There are 8 mini-batches with 50 items. Processed 8 mini-batches: "
                      "8 succeeded, 0 failed after all tries (8 attempts; 0 mini-batches retried, 0 retries). "
                      "50 items succeeded, 0 failed.", result)
        self.assertTrue((self.logs() / "sys" / "master_role.0.txt").is_file())
        self.assertTrue((self.logs() / "sys" / "node" / "0" / "_main.txt").is_file())
        # sys/node/0/processNNN.txt: one line per mini-batch the process completed.
        done = {}
        for row in rows:
            log = self.logs() / "sys" / "node" / "0" / ("%s.txt" % row["Process"])
            done.setdefault(log, []).append(
                "|mini-batch %s attempt 1|RUN_DONE|total %s succeeded %s "
                % (row["Mini-batch Id"], row["Total"], row["Total"]))
        for log, expected in done.items():
            lines = log.read_text().splitlines()
            self.assertEqual(len(lines), len(expected), lines)
            for text in expected:
                self.assertEqual(sum(text in line for line in lines), 1, (text, lines))

    # ---- 2 -------------------------------------------------------------------

    V2_SPEC = """
        $schema: https://azuremlschemas.azureedge.net/latest/parallelComponent.schema.json
        type: parallel
        name: e2e_v2
        version: 1
        inputs:
          data:
            type: uri_folder
          opt:
            type: string
            optional: true
          label:
            type: string
            default: hello world
        outputs:
          result:
            type: uri_folder
        input_data: ${{inputs.data}}
        mini_batch_size: "4"
        max_concurrency_per_instance: 3
        logging_level: DEBUG
        retry_settings:
          max_retries: 2
          timeout: 45
        task:
          type: run_function
          code: ./src
          entry_script: record_paths.py
          program_arguments: >-
            --data ${{inputs.data}} --out ${{outputs.result}}
            --label ${{inputs.label}} $[[--opt ${{inputs.opt}}]]
        """

    def v2_job(self, *extra, files=20, env=None, spec_text=V2_SPEC):
        data = self.tmp / "data"
        self.nested_files(data, files)
        self.copy_script("record_paths.py", self.tmp / "src")
        spec = self.write("spec/v2.yaml", spec_text)
        # Spec paths are relative to the spec's folder: the code is in spec/src.
        shutil.move(str(self.tmp / "src"), str(self.tmp / "spec" / "src"))
        out = self.tmp / "result"
        run = self.run_job(spec, "-i", "data=%s" % data, "-o", "result=%s" % out, *extra,
                           env=env)
        return run, data, out

    def test_v2_spec_settings_and_optional_group_absent(self):
        run, data, out = self.v2_job()
        self.assertExit(run, 0)
        self.check_each_file_once(out, data)
        seen = self.recorded_argv(out)
        procs = self.summary_rows("process_summary.csv")
        # max_concurrency_per_instance: 3 workers were asked for; one that
        # was not forked yet when the work ran out (they are forked one after
        # the other) is not started, and the node log says so.
        started, not_started = self.workers_of_node()
        self.assertEqual(sorted(started + not_started), ["process000", "process001", "process002"])
        self.assertEqual(sorted(p["Process"] for p in procs), started)
        self.assertGreaterEqual(len(seen), 1)
        for s in seen:
            argv = s["argv"]
            self.assertEqual(argv[0], str(self.tmp / "spec" / "src" / "record_paths.py"))
            opts = argv_options(argv[1:])
            self.assertEqual(opts["--data"], [str(data)])
            self.assertEqual(opts["--out"], [str(out)])
            # A default with a space stays one word.
            self.assertEqual(argv[argv.index("--label") + 1], "hello world")
            self.assertNotIn("--opt", argv)
            self.assertEqual(opts["--mini_batch_size"], ["4"])
            self.assertEqual(opts["--process_count_per_node"], ["3"])
            self.assertEqual(opts["--run_max_try"], ["2"])
            self.assertEqual(opts["--run_invocation_timeout"], ["45"])
            self.assertEqual(opts["--logging_level"], ["DEBUG"])
            self.assertEqual(opts["--input_fds_0"], [str(data)])
        rows = self.mini_batch_rows()
        self.check_rows(rows, 20, 4, {p["Process"] for p in procs})

    def test_v2_optional_group_present_and_flag_overrides_spec(self):
        run, data, out = self.v2_job("-i", "opt=yes please", "--mini-batch-size", "6",
                                     "--run_max_try", "5")
        self.assertExit(run, 0)
        self.check_each_file_once(out, data)
        seen = self.recorded_argv(out)
        self.assertGreaterEqual(len(seen), 1)
        for s in seen:
            argv = s["argv"]
            self.assertEqual(argv[argv.index("--opt") + 1], "yes please")
            opts = argv_options(argv[1:])
            self.assertEqual(opts["--mini_batch_size"], ["6"])
            self.assertEqual(opts["--run_max_try"], ["5"])
            self.assertEqual(opts["--run_invocation_timeout"], ["45"])
        self.check_rows(self.mini_batch_rows(), 20, 6,
                        {"process000", "process001", "process002"})

    def test_v2_retry_settings_limit_attempts(self):
        # retry_settings.max_retries: 2 → a mini-batch that always fails is
        # tried exactly twice; the job's thresholds are unlimited (-1).
        run, data, out = self.v2_job(files=8, env={"FAIL_ITEM_SUFFIX": "f005.txt"})
        rows = self.sorted_rows()
        failing = [r for r in rows if any(i.endswith("f005.txt") for i in detail(r)["items"])]
        self.assertEqual([r["Picked Count"] for r in failing], ["1", "2"], rows)
        for r in failing:
            self.assertEqual(r["Status"], "RUN_EXCEPTION")
            self.assertEqual(r["Error Category"], "ValueError")
            self.assertEqual(r["Error Message"], "ValueError: planned failure for f005.txt")
            self.assertEqual(r["Succeeded"], "0")
            self.assertEqual(r["Failed"], r["Total"])
        others = [r for r in rows if r not in failing]
        self.assertEqual(len(others), 1)
        self.assertTrue(all(r["Status"] == "RUN_DONE" for r in others))
        self.assertExit(run, 0)

    def test_v2_retry_settings_timeout(self):
        # retry_settings.timeout: 1 → a run() that hangs is stopped after about
        # a second, twice (max_retries: 2), and the other mini-batch is done.
        # One worker: with more, a lease can go to the worker being killed
        # (see test_timeout_does_not_fail_the_mini_batch_queued_behind).
        spec_text = self.V2_SPEC.replace("timeout: 45", "timeout: 1")
        run, data, out = self.v2_job("--process_count_per_node", "1", files=8,
                                     env={"HANG_ITEM_SUFFIX": "f005.txt"}, spec_text=spec_text)
        rows = self.sorted_rows()
        hung = [r for r in rows if any(i.endswith("f005.txt") for i in detail(r)["items"])]
        self.assertEqual([r["Picked Count"] for r in hung], ["1", "2"], rows)
        for r in hung:
            self.assertEqual(r["Status"], "RUN_TIMEOUT")
            self.assertEqual(r["Succeeded"], "0")
            self.assertLess(float(r["Elapsed Seconds"]), 10.0)
        others = [r for r in rows if r not in hung]
        self.assertEqual([r["Status"] for r in others], ["RUN_DONE"])
        for record in self.recorded_argv(out):
            self.assertEqual(argv_options(record["argv"])["--run_invocation_timeout"], ["1"])
        self.assertExit(run, 0)

    def test_timeout_does_not_fail_the_mini_batch_queued_behind(self):
        # process000 holds mini-batch 0 (hangs) and mini-batch 1 (prefetched);
        # process001 is idle. When mini-batch 0 times out, mini-batch 1 must be
        # handed back and run elsewhere — not given to the worker being killed,
        # where it "fails" (PROCESS_DIED) without having run, using up its try.
        state = self.tmp / "state"
        state.mkdir()
        self.make_files(self.tmp / "data", ["a_hang.txt", "b.txt"])
        self.copy_script("hang_first.py")
        spec = self.component_spec(entry="hang_first.py")
        run = self.run_job(spec, "-i", "data=data", "-o", "out=out", "--mini_batch_size", "1",
                           "--process_count_per_node", "2", "--run_invocation_timeout", "1",
                           "--run_max_try", "1", env={"E2E_STATE_DIR": str(state)})
        rows = self.sorted_rows()
        self.assertEqual([(r["Process"], r["Status"]) for r in rows if r["Mini-batch Id"] == "0"],
                         [("process000", "RUN_TIMEOUT")], rows)
        innocent = [(r["Picked Count"], r["Status"], r["Error Message"])
                    for r in rows if r["Mini-batch Id"] == "1"]
        self.assertEqual(innocent, [("1", "RUN_DONE", "")])
        self.assertExit(run, 0)

    # ---- 3 -------------------------------------------------------------------

    def test_pass_through_arguments(self):
        self.nested_files(self.tmp / "data", 3)
        self.copy_script("record_paths.py")
        spec = self.component_spec(args="--fixed {inputs.data}")
        out = self.tmp / "out"
        run = self.run_job(spec, "-i", "data=data", "-o", "out=out", "--process_count_per_node",
                           "1", "--my_flag", "5", "--other=x", "--mini_batch_sise", "3")
        self.assertExit(run, 0)
        self.assertIn("parallelrun: warning: --mini_batch_sise is not a parallelrun setting "
                      "(did you mean --mini_batch_size?); it is passed to the entry script "
                      "unchanged\n", run.stderr)
        seen = self.recorded_argv(out)
        self.assertEqual(len(seen), 1)
        argv = seen[0]["argv"]
        words = argv[1:]
        self.assertEqual(words[:2], ["--fixed", str(self.tmp / "data")])
        self.assertEqual(words[words.index("--my_flag") + 1], "5")
        self.assertIn("--other=x", words)
        self.assertEqual(words[words.index("--mini_batch_sise") + 1], "3")
        opts = argv_options(words)
        for flag in helpers.PREDEFINED_ARGS:
            self.assertIn(flag, opts, argv)
        self.assertEqual(opts["--output"], [str(out)])
        self.assertEqual(opts["--input_fds_0"], [str(self.tmp / "data")])
        self.assertEqual(opts["--mini_batch_size"], ["10"])  # the misspelt one is not a setting
        self.assertEqual(opts["--process_count_per_node"], ["1"])
        self.assertEqual(opts["--output_action"], ["summary_only"])
        self.assertEqual(opts["--logging_level"], ["INFO"])

    # ---- 4 -------------------------------------------------------------------

    def test_entry_script_helper_api(self):
        self.nested_files(self.tmp / "data", 6)
        self.copy_script("entry_script_api.py")
        spec = self.component_spec(entry="entry_script_api.py")
        out = self.tmp / "out"
        run = self.run_job(spec, "-i", "data=data", "-o", "out=out", "--process_count_per_node",
                           "2", "--mini_batch_size", "1", "--greeting", "hi")
        self.assertExit(run, 0)
        logs = self.logs()
        api_files = sorted(out.glob("api_*.json"))
        self.assertGreaterEqual(len(api_files), 1)
        for path in api_files:
            seen = json.loads(path.read_text())
            name = seen["agent_name"]
            self.assertRegex(name, r"^process\d{3}$")
            self.assertEqual(path.name, "api_%s.json" % name)
            self.assertEqual(seen["output_dir"], str(out))
            self.assertEqual(seen["AZUREML_BI_OUTPUT_PATH"], str(out))
            self.assertEqual(seen["args_output"], str(out))
            self.assertEqual(seen["mini_batch_size"], 1)
            self.assertEqual(seen["greeting"], "hi")
            self.assertTrue(seen["same_instance"])
            self.assertEqual(seen["argv0"], str(self.tmp / "entry_script_api.py"))
            self.assertEqual(seen["log_dir"], str(logs / "user" / "entry_script_log" / "0"))
            log = logs / "user" / "entry_script_log" / "0" / ("%s.log.txt" % name)
            text = log.read_text()
            self.assertRegex(text, r"\|INFO\|\d+\|\d+\|init of %s, greeting hi\n" % name)
            self.assertNotIn("a DEBUG line", text)
        lines = []
        for log in (logs / "user" / "entry_script_log" / "0").glob("process*.log.txt"):
            lines += [l for l in log.read_text().splitlines() if "run() got" in l]
        self.assertEqual(len(lines), 6)
        self.assertTrue(all(l.endswith("run() got 1 items") for l in lines))

    # ---- 5 -------------------------------------------------------------------

    def test_awkward_file_names_arrive_exactly(self):
        names = [b"caf\xe9 \n x.txt", b"with space.txt", b"line\nbreak", b"\xff\xfe.bin",
                 b"sub dir/na\xefve\ttab.txt", b"quote\"comma,.csv", b"back\\slash",
                 "utf8 \u00e9\u4e2d.txt".encode()]
        # The input folder's own name is awkward too.
        data = os.path.join(os.fsencode(str(self.tmp)), b"in put \xe9")
        made = self.make_files(os.fsdecode(data), names)
        self.copy_script("record_paths.py")
        spec = self.component_spec()
        out = self.tmp / "out"
        run = self.run_job(spec, b"-i", b"data=in put \xe9", "-o", "out=out",
                           "--mini_batch_size", "3", "--process_count_per_node", "2")
        self.assertExit(run, 0)
        seen = [p for paths in self.recorded_paths(out).values() for p in paths]
        self.assertEqual(sorted(seen), sorted(made))
        self.assertEqual(sorted(seen), sorted(disk_files(os.fsdecode(data))))
        for record in self.recorded_argv(out):
            argv = record["argv"]
            self.assertEqual(os.fsencode(argv[argv.index("--input_fds_0") + 1]), data)
        rows = self.mini_batch_rows()
        self.assertEqual(sum(int(r["Total"]) for r in rows), len(names))
        self.assertTrue(all(r["Status"] == "RUN_DONE" for r in rows))

    # ---- 6 -------------------------------------------------------------------

    def test_lots_of_output_goes_to_the_logs(self):
        data = self.tmp / "data"
        self.make_files(data, ["a.txt", "b.txt", "c.txt", "d.txt"])
        self.copy_script("noisy.py")
        spec = self.component_spec(entry="noisy.py")
        run = self.run_job(spec, "-i", "data=data", "-o", "out=out", "--mini_batch_size", "1",
                           "--process_count_per_node", "2")
        self.assertExit(run, 0)
        self.assertEqual(run.stdout, "")
        self.assertNotIn("OOOO", run.stderr)
        self.assertNotIn("EEEE", run.stderr)
        rows = self.mini_batch_rows()
        self.assertEqual(len(rows), 4)
        self.assertTrue(all(r["Status"] == "RUN_DONE" and r["Succeeded"] == "1" for r in rows))
        logs = self.logs() / "user"
        out_files = sorted((logs / "stdout" / "0").glob("process*.stdout.txt"))
        err_files = sorted((logs / "stderr" / "0").glob("process*.stderr.txt"))
        self.assertTrue({r["Process"] for r in rows} <= {p.name.split(".")[0] for p in out_files},
                        out_files)
        stdout = b"".join(p.read_bytes() for p in out_files)
        stderr = b"".join(p.read_bytes() for p in err_files)
        self.assertEqual(stdout.count(b"O" * 1023 + b"\n"), 4 * 5120)
        self.assertEqual(stderr.count(b"E" * 1023 + b"\n"), 4 * 1280)
        self.assertGreaterEqual(len(stdout), 20 << 20)
        self.assertGreaterEqual(len(stderr), 5 << 20)
        for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
            for kind in ("PY", "CHILD", "SYSTEM", "C"):
                with self.subTest(name=name, kind=kind):
                    self.assertEqual(stdout.count(("%s-OUT %s\n" % (kind, name)).encode()), 1)
                    self.assertEqual(stderr.count(("%s-ERR %s\n" % (kind, name)).encode()), 1)
                    self.assertNotIn(("%s-ERR %s" % (kind, name)).encode(), stdout)
                    self.assertNotIn(("%s-OUT %s" % (kind, name)).encode(), stderr)
        # Each process's lines are in its own files.
        for row in rows:
            name = os.path.basename(detail(row)["items"][0])
            own = (logs / "stdout" / "0" / ("%s.stdout.txt" % row["Process"])).read_bytes()
            self.assertIn(("C-OUT %s\n" % name).encode(), own)

    # ---- 7 -------------------------------------------------------------------

    def test_single_file_input(self):
        one = self.make_files(self.tmp, ["only one.txt"])[0]
        self.copy_script("record_paths.py")
        spec = self.component_spec()
        out = self.tmp / "out"
        run = self.run_job(spec, "-i", "data=only one.txt", "-o", "out=out")
        self.assertExit(run, 0)
        seen = [p for paths in self.recorded_paths(out).values() for p in paths]
        self.assertEqual(seen, [one])
        rows = self.mini_batch_rows()
        self.assertEqual(len(rows), 1)
        self.assertEqual((rows[0]["Mini-batch Id"], rows[0]["Total"], rows[0]["Succeeded"],
                          rows[0]["Status"]), ("0", "1", "1", "RUN_DONE"))
        self.assertEqual(detail(rows[0])["items"], [os.fsdecode(one)])
        self.assertSucceededReport()

    def test_empty_folder(self):
        (self.tmp / "empty").mkdir()
        self.copy_script("record_paths.py")
        spec = self.component_spec()
        run = self.run_job(spec, "-i", "data=empty", "-o", "out=out")
        self.assertExit(run, 0)
        self.assertIn("parallelrun: the input has no files: 0 mini-batches, nothing to do\n",
                      run.stderr)
        self.assertEqual(self.mini_batch_rows(), [])
        recorded = self.recorded_paths(self.tmp / "out")
        self.assertEqual([p for paths in recorded.values() for p in paths], [])
        result = (self.logs() / "job_result.txt").read_text()
        self.assertTrue(result.startswith("Job succeeded.\nThere are 0 mini-batches with 0 "
                                          "items."), result)
        master = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertRegex(master, r"\|WARNING\|\d+\|Input data \(%s\) has no files\.\n"
                         % re.escape(str(self.tmp / "empty")))

    def test_two_inputs_in_order(self):
        self.nested_files(self.tmp / "a", 9)
        self.make_files(self.tmp / "b", ["x%02d" % i for i in range(11)])
        self.copy_script("record_paths.py")
        spec = self.component_spec(inputs={"a": "path", "b": "path"},
                                   input_data="[inputs.a, inputs.b]")
        out = self.tmp / "out"
        run = self.run_job(spec, "-i", "a=a", "-i", "b=b", "-o", "out=out",
                           "--mini_batch_size", "4", "--process_count_per_node", "2")
        self.assertExit(run, 0)
        rows = self.sorted_rows()
        self.assertEqual([int(r["Mini-batch Id"]) for r in rows], list(range(len(rows))))
        inputs = [detail(r)["input"] for r in rows]
        # a: 9 files → 3 mini-batches (4, 4, 1); b: 11 → 3 (4, 4, 3); never mixed.
        self.assertEqual(inputs, ["a"] * 3 + ["b"] * 3)
        self.assertEqual([r["Total"] for r in rows], ["4", "4", "1", "4", "4", "3"])
        for r in rows:
            folder = str(self.tmp / detail(r)["input"]) + "/"
            self.assertTrue(all(i.startswith(folder) for i in detail(r)["items"]), r)
        seen = [p for paths in self.recorded_paths(out).values() for p in paths]
        self.assertEqual(sorted(seen), sorted(disk_files(self.tmp / "a") +
                                              disk_files(self.tmp / "b")))
        argv = self.recorded_argv(out)[0]["argv"]
        opts = argv_options(argv[1:])
        self.assertEqual(opts["--input_fds_0"], [str(self.tmp / "a")])
        self.assertEqual(opts["--input_fds_1"], [str(self.tmp / "b")])

    # ---- 8 -------------------------------------------------------------------

    def test_default_job_dir(self):
        self.nested_files(self.tmp / "data", 3)
        self.copy_script("record_paths.py")
        spec = self.component_spec()
        run = self.run_parallelrun("run", spec, "-i", "data=data", "-o", "out=out",
                                   "--progress", "none")
        self.assertExit(run, 0)
        jobs = sorted((self.tmp / "parallelrun-jobs").iterdir())
        self.assertEqual(len(jobs), 1, jobs)
        job = jobs[0]
        self.assertRegex(job.name, r"^e2e_component-\d{8}-\d{6}$")
        lines = run.stderr.splitlines()
        self.assertTrue(lines[0].startswith("parallelrun: running "), lines)
        self.assertTrue(lines[0].endswith("; job dir %s" % job), lines)
        self.assertEqual(lines[-1], "parallelrun: job succeeded; job dir %s" % job)
        self.assertSucceededReport(job)
        self.assertEqual(len(self.mini_batch_rows(job)), 1)
        # A second run gets a new folder.
        again = self.run_parallelrun("run", spec, "-i", "data=data", "-o", "out=out2",
                                     "--progress", "none")
        self.assertExit(again, 0)
        self.assertEqual(len(list((self.tmp / "parallelrun-jobs").iterdir())), 2)

    # ---- 11 ------------------------------------------------------------------

    def test_batch_score_example(self):
        source = helpers.SOURCE_DIR / "examples" / "batch_score"
        example = self.tmp / "batch_score"
        shutil.copytree(source, example, ignore=shutil.ignore_patterns(
            "images", "model", "out", "parallelrun-jobs", "jobs", "__pycache__"))
        made = subprocess.run([helpers.PYTHON, str(example / "make_data.py"), "200", str(example)],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(made.returncode, 0, made.stderr)
        images = sorted(p.name for p in (example / "images").rglob("*.pgm"))
        self.assertEqual(len(images), 200)
        run = self.run_parallelrun("run", "component.yaml", "-i", "images_to_score=./images",
                                   "-i", "trained_model=./model", "-o", "scored_dataset=./out",
                                   cwd=example)
        self.assertExit(run, 0)
        lines = []
        for path in sorted((example / "out").glob("scores_*.csv")):
            self.assertRegex(path.name, r"^scores_process\d{3}\.csv$")
            lines += path.read_text().splitlines()
        self.assertEqual(len(lines), 200)
        scored = sorted(line.split(",")[0] for line in lines)
        self.assertEqual(scored, images)
        for line in lines:
            self.assertRegex(line, r"^img\d{5}\.pgm,\d\.\d{4},(bright|dark)$")
        jobs = list((example / "parallelrun-jobs").iterdir())
        self.assertEqual(len(jobs), 1)
        rows = self.mini_batch_rows(jobs[0])
        self.assertEqual(sum(int(r["Succeeded"]) for r in rows), 200)
        self.assertTrue(all(r["Status"] == "RUN_DONE" for r in rows))
        # The source tree stays clean.
        self.assertFalse((source / "parallelrun-jobs").exists())

    def test_batch_score_run_sh_is_rerunnable_and_leaves_the_source_tree_alone(self):
        source = helpers.SOURCE_DIR / "examples" / "batch_score"

        def tree():
            return sorted(os.path.join(d, n) for d, _, names in os.walk(source) for n in names)

        before = tree()
        work = self.tmp / "work"
        env = dict(os.environ, PARALLELRUN=self.parallelrun, PARALLELRUN_PYTHON=helpers.PYTHON,
                   BATCH_SCORE_DIR=str(work), BATCH_SCORE_IMAGES="120")
        scores = []
        for attempt in range(2):
            done = subprocess.run(["/bin/bash", str(source / "run.sh"), "--progress", "none",
                                   "--process_count_per_node", "2"],
                                  cwd=str(self.tmp), env=env, capture_output=True, text=True,
                                  timeout=helpers.RUN_TIMEOUT)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual(done.stdout.splitlines()[-1],
                             "scores: 120 lines in %s/out" % work, done.stdout)
            lines = []
            for path in sorted((work / "out").glob("scores_*.csv")):
                lines += path.read_text().splitlines()
            scores.append(sorted(lines))
        self.assertEqual(len(scores[0]), 120)
        self.assertEqual(scores[1], scores[0])
        self.assertEqual(len(list((work / "parallelrun-jobs").iterdir())), 2)
        self.assertEqual(tree(), before)


if __name__ == "__main__":
    unittest.main()
