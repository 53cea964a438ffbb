"""Tabular input end to end (issue 4; reference §1.2 mini_batch_size, §3.2, §3.3).

A tabular input (v2 `type: mltable, mode: direct`) is split into byte ranges
of mini_batch_size bytes aligned to whole records; each worker gets a
pandas.DataFrame with the file's header as column names. The entry script
here writes every row it got (as JSON) to a file of its own process; the
tests compare those rows with the source, read independently with Python's
csv/json modules: every row arrives exactly once and none is split.
"""

import csv
import glob
import json
import os
import random
import subprocess
import sys
import unittest

from helpers import PYTHON, E2ETestCase

# Writes each row it gets, with the mini-batch's id, as one JSON line to
# rows_<pid>.jsonl in $OUT_DIR; returns the frame (or fewer rows: SHORT_BY).
RECORD_ROWS = """
import json
import os

out = None


def init():
    global out
    folder = os.environ["OUT_DIR"]
    os.makedirs(folder, exist_ok=True)
    out = open(os.path.join(folder, "rows_%d.jsonl" % os.getpid()), "a")


def run(mini_batch, mini_batch_context):
    for record in mini_batch.to_dict("records"):
        record = {k: (None if v != v else v) for k, v in record.items()}  # NaN -> None
        out.write(json.dumps({"mb": mini_batch_context.minibatch_index,
                              "columns": list(map(str, mini_batch.columns)),
                              "row": record}, default=str) + "\\n")
    out.flush()
    short = int(os.environ.get("SHORT_BY", "0"))
    return mini_batch.iloc[:max(len(mini_batch) - short, 0)]
"""

TEXTS = ["plain", "with, comma", 'multi\nline "quoted"', "crlf\r\ninside", "", "  spaces  ",
         'only "quotes"', "tab\there", "ünïcödé", "a\n\nb"]


def v2_spec(input_type="mltable", mode="direct", mini_batch_size="1KB", extra=""):
    lines = ["type: parallel", "name: e2e_tabular", "version: 1", "inputs:", "  data:",
             "    type: %s" % input_type]
    if mode:
        lines.append("    mode: %s" % mode)
    lines += ["outputs:", "  result:", "    type: uri_folder",
              "input_data: ${{inputs.data}}"]
    if mini_batch_size:
        lines.append('mini_batch_size: "%s"' % mini_batch_size)
    lines += ["max_concurrency_per_instance: 2"]
    lines += [line for line in extra.splitlines() if line.strip()]
    lines += ["task:", "  type: run_function", "  code: ./src", "  entry_script: score.py"]
    return "\n".join(lines) + "\n"


class TabularCase(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.out = self.tmp / "out"

    def start(self, spec_text, script=RECORD_ROWS):
        self.write("src/score.py", script)
        return self.write("spec.yaml", spec_text)

    def write_csv(self, path, rows, header=("id", "text", "x"), delimiter=","):
        path = self.tmp / path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter=delimiter)
            if header:
                w.writerow(header)
            w.writerows(rows)
        return path

    def make_rows(self, first_id, count, seed):
        rnd = random.Random(seed)
        return [(first_id + i, rnd.choice(TEXTS), "%.3f" % rnd.random()) for i in range(count)]

    def recorded(self):
        """[(mini-batch id, columns, row dict)] over every process's file."""
        out = []
        for path in sorted(glob.glob(str(self.out / "rows_*.jsonl"))):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    j = json.loads(line)
                    out.append((j["mb"], j["columns"], j["row"]))
        return out

    def assertEveryRowOnce(self, source_rows, recorded):
        """Each source row (id, text, x) arrived once, whole."""
        by_id = {}
        for _mb, _columns, row in recorded:
            by_id.setdefault(int(row["id"]), []).append(row)
        self.assertEqual(sorted(by_id), sorted(r[0] for r in source_rows))
        for ident, text, x in source_rows:
            got = by_id[ident]
            self.assertEqual(len(got), 1, "row %d arrived %d times" % (ident, len(got)))
            # pandas reads an empty field as NaN.
            self.assertEqual(got[0]["text"] if got[0]["text"] is not None else "", text,
                             "row %d" % ident)
            self.assertAlmostEqual(float(got[0]["x"]), float(x))


class CsvTest(TabularCase):
    def test_csv_folder_split_at_1kb_with_quoted_multiline_fields(self):
        rows = []
        for f in range(3):
            part = self.make_rows(len(rows), 120 + 40 * f, seed=f)
            self.write_csv("data/sub%d/part%d.csv" % (f % 2, f), part)
            rows += part
        spec = self.start(v2_spec())
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"),
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        recorded = self.recorded()
        self.assertEveryRowOnce(rows, recorded)
        for _mb, columns, _row in recorded:
            self.assertEqual(columns, ["id", "text", "x"])

        report = self.sorted_rows()
        files = {}
        for r in report:
            self.assertEqual(r["Status"], "RUN_DONE")
            self.assertEqual(r["Picked Count"], "1")
            self.assertEqual(r["Succeeded"], r["Total"])
            self.assertEqual(r["Failed"], "0")
            detail = json.loads(r["Mini-batch Detail"])
            (item,) = detail["items"]
            self.assertRegex(item, r"^%s/data/sub[01]/part[0-2]\.csv \(bytes \d+-\d+\)$" % self.tmp)
            files.setdefault(item.split(" ")[0], []).append(r)
        # 1KB pieces: every file is split into several mini-batches, the rows
        # each one reported are the rows it held.
        self.assertEqual(len(files), 3)
        for name, pieces in files.items():
            self.assertGreaterEqual(len(pieces), 3, name)
        self.assertEqual(sum(int(r["Total"]) for r in report), len(rows))
        per_mb = {}
        for mb, _c, _r in recorded:
            per_mb[mb] = per_mb.get(mb, 0) + 1
        self.assertEqual(per_mb, {int(r["Mini-batch Id"]): int(r["Total"]) for r in report})
        result = (self.logs() / "job_result.txt").read_text()
        self.assertIn("There are %d mini-batches with %d items. Processed %d mini-batches: %d "
                      "succeeded" % (len(report), len(rows), len(report), len(report)), result)
        self.assertIn("%d items succeeded, 0 failed" % len(rows), result)
        # summary_only stays the default: nothing is written for the rows.
        self.assertEqual(os.listdir(self.tmp / "job" / "outputs" / "result"), [])
        argv = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertIn("--output_action summary_only", argv)
        self.assertIn("--mini_batch_size 1024 ", argv)

    def test_tsv_in_a_folder_with_other_files(self):
        rows = self.make_rows(0, 50, seed=7)
        self.write_csv("data/t.tsv", rows, delimiter="\t")
        (self.tmp / "data" / "notes.txt").write_text("not a table\n")
        spec = self.start(v2_spec(mini_batch_size="300"))
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"),
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        self.assertEveryRowOnce(rows, self.recorded())
        master = (self.logs() / "sys" / "master_role.0.txt").read_text()
        self.assertIn("input data (%s): skipped 1 file that is not a table (its name does not end "
                      "in .csv, " % (self.tmp / "data"), master)

    def test_skipped_files_are_named_on_the_terminal(self):
        rows = self.make_rows(0, 20, seed=5)
        self.write_csv("data/a.csv", rows)
        self.write_csv("data/header_only.csv", [])
        (self.tmp / "data" / "empty.csv").write_text("")
        (self.tmp / "data" / "notes.txt").write_text("not a table\n")
        (self.tmp / "data" / "img.png").write_bytes(b"\x89PNG")
        spec = self.start(v2_spec())
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"),
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        self.assertEveryRowOnce(rows, self.recorded())
        data = self.tmp / "data"
        not_tables = ("input data (%s): skipped 2 files that are not tables (their names do not "
                      "end in .csv, .tsv, .tab, .jsonl, .ndjson, .json, .parquet, .parq or .pq): "
                      "img.png, notes.txt" % data)
        no_rows = ("input data (%s): skipped 2 files without rows (empty, or only a header): "
                   "empty.csv, header_only.csv" % data)
        master = (self.logs() / "sys" / "master_role.0.txt").read_text()
        for line in (not_tables, no_rows):
            self.assertIn("parallelrun: warning: %s\n" % line, run.stderr)
            self.assertIn("|WARNING|", master)
            self.assertIn(line, master)

    def test_a_record_larger_than_mini_batch_size_is_named(self):
        rows = self.make_rows(0, 10, seed=9)
        rows[4] = (4, "long " * 400, "0.5")  # 2000 bytes in one record
        path = self.write_csv("data/a.csv", rows)
        spec = self.start(v2_spec(mini_batch_size="1KB"))
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"),
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        self.assertEveryRowOnce(rows, self.recorded())
        data = path.read_bytes()
        at = data.index(b"4,long ")
        size = data.index(b"\n", at) + 1 - at
        self.assertIn("parallelrun: warning: %s: the record at byte %d is %d bytes, more than "
                      "mini_batch_size (1024 bytes); its mini-batch holds it whole\n"
                      % (path, at, size), run.stderr)

    def test_short_returns_count_rows_against_error_threshold(self):
        rows = self.make_rows(0, 100, seed=3)
        self.write_csv("data/a.csv", rows)
        spec = self.start(v2_spec(mini_batch_size="1KB", extra="error_threshold: 2"))
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"),
                           env={"OUT_DIR": str(self.out), "SHORT_BY": "1"})
        self.assertExit(run, 1)
        report = self.sorted_rows()
        self.assertGreaterEqual(len(report), 3)
        for r in report:
            self.assertEqual(r["Status"], "RUN_DONE")
            self.assertEqual(int(r["Succeeded"]), int(r["Total"]) - 1)
            self.assertEqual(r["Failed"], "1")
        result = (self.logs() / "job_result.txt").read_text()
        self.assertIn("error_threshold exceeded: 3 failed items > 2", result)

    def test_an_unreadable_range_fails_naming_the_file_and_bytes(self):
        path = self.tmp / "data" / "bad.csv"
        path.parent.mkdir(parents=True)
        path.write_text("id,text,x\n1,a,0.5\n2,b,0.25,extra,fields\n")
        spec = self.start(v2_spec(extra="retry_settings:\n  max_retries: 1"))
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"),
                           "--error_threshold", "0", env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 1)
        (row,) = self.sorted_rows()
        self.assertEqual(row["Status"], "RUN_EXCEPTION")
        self.assertEqual(row["Error Category"], "ParserError")
        self.assertEqual(row["Error Message"],
                         "ParserError: cannot read %s (bytes 10-%d): Error tokenizing data. C "
                         "error: Expected 3 fields in line 3, saw 5"
                         % (path, path.stat().st_size - 1))
        # The range holds two rows: both failed, as if run() had raised on them.
        self.assertEqual((row["Total"], row["Failed"]), ("2", "2"))

    def test_unparsable_ranges_count_every_row_against_error_threshold(self):
        data = self.tmp / "data"
        data.mkdir()
        # A ragged row (pandas raises), and a quote that never closes (the
        # count falls back to lines), among good files.
        (data / "a_ragged.csv").write_text(
            "id,text,x\n" + "".join("%d,t,0.5\n" % i for i in range(6)) + "6,t,0.5,extra\n")
        (data / "b_quote.csv").write_text("id,text,x\n10,\"open,0.5\n11,t,0.5\n12,t,0.5\n")
        self.write_csv("data/c_good.csv", self.make_rows(20, 5, seed=1))
        spec = self.start(v2_spec(mini_batch_size="10KB",
                                  extra="retry_settings:\n  max_retries: 1"))
        run = self.run_job(spec, "-i", "data=%s" % data, "--error_threshold", "9",
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 1)
        rows = {r["Mini-batch Id"]: r for r in self.sorted_rows()}
        # Mini-batch 2 (the good file) may not have run: the job stops at the threshold.
        self.assertEqual([(rows[i]["Status"], rows[i]["Total"], rows[i]["Failed"])
                          for i in ("0", "1")],
                         [("RUN_EXCEPTION", "7", "7"), ("RUN_EXCEPTION", "3", "3")])
        result = (self.logs() / "job_result.txt").read_text()
        self.assertIn("error_threshold exceeded: 10 failed items > 9", result)
        # Below the threshold the same job succeeds: the count is exact.
        run = self.run_job(spec, "-i", "data=%s" % data, "--error_threshold", "10",
                           job_dir="job2", env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)


class JsonLinesTest(TabularCase):
    def test_json_lines_every_row_once(self):
        rows = []
        for f in range(2):
            with open(self.tmp / ("d%d.jsonl" % f), "w", encoding="utf-8") as out:
                for i in range(150):
                    ident = f * 1000 + i
                    rows.append((ident, TEXTS[i % len(TEXTS)], "%.2f" % (i / 7)))
                    out.write(json.dumps({"id": ident, "text": TEXTS[i % len(TEXTS)],
                                          "x": float("%.2f" % (i / 7))}) + "\n")
        data = self.tmp / "data"
        data.mkdir()
        for f in range(2):
            os.rename(self.tmp / ("d%d.jsonl" % f), data / ("d%d.jsonl" % f))
        spec = self.start(v2_spec(mini_batch_size="2kb"))
        run = self.run_job(spec, "-i", "data=%s" % data, env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        self.assertEveryRowOnce(rows, self.recorded())
        report = self.sorted_rows()
        self.assertGreater(len(report), 4)
        self.assertEqual(sum(int(r["Total"]) for r in report), 300)


def have_pyarrow(python=PYTHON):
    return subprocess.run([python, "-c", "import pyarrow"], capture_output=True).returncode == 0


class ParquetTest(TabularCase):
    def setUp(self):
        super().setUp()
        if not have_pyarrow():
            self.skipTest("SKIPPED: pyarrow is not installed in %s (Parquet input needs it)"
                          % PYTHON)

    def test_parquet_row_groups(self):
        import pandas as pd  # noqa: the workers' Python has it if pyarrow is there
        import pyarrow as pa
        import pyarrow.parquet as pq
        data = self.tmp / "data"
        data.mkdir()
        rows = [(i, TEXTS[i % len(TEXTS)], "%.3f" % (i / 3)) for i in range(1000)]
        frame = pd.DataFrame({"id": [r[0] for r in rows], "text": [r[1] for r in rows],
                              "x": [float(r[2]) for r in rows]})
        pq.write_table(pa.Table.from_pandas(frame.iloc[:500]), data / "groups.parquet",
                       row_group_size=100)
        # One big row group: cut into row ranges, not one giant mini-batch
        # (reference §6 #11).
        pq.write_table(pa.Table.from_pandas(frame.iloc[500:].reset_index(drop=True)),
                       data / "one_group.parquet", row_group_size=10000)
        spec = self.start(v2_spec(mini_batch_size="1KB"))
        run = self.run_job(spec, "-i", "data=%s" % data, env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        self.assertEveryRowOnce(rows, self.recorded())
        report = self.sorted_rows()
        pieces = {}
        for r in report:
            (item,) = json.loads(r["Mini-batch Detail"])["items"]
            self.assertRegex(item, r"\.parquet \(rows \d+-\d+\)$")
            pieces[os.path.basename(item.split(" ")[0])] = pieces.get(
                os.path.basename(item.split(" ")[0]), 0) + 1
        self.assertGreater(pieces["groups.parquet"], 1)
        self.assertGreater(pieces["one_group.parquet"], 1)
        self.assertEqual(sum(int(r["Total"]) for r in report), 1000)


class NoPyarrowTest(TabularCase):
    def test_parquet_without_pyarrow_is_reported_before_any_worker_starts(self):
        # The tests' venv has pyarrow (scripts/test-venv); Debian's python3 has not.
        python = PYTHON if not have_pyarrow(PYTHON) else "/usr/bin/python3"
        if have_pyarrow(python):
            self.skipTest("SKIPPED: pyarrow is installed in %s; this checks the message when it "
                          "is not" % python)
        self.write("table/t.parquet", "not read: the check comes first\n")
        self.write("table/MLTable", """
            paths:
              - file: ./t.parquet
            transformations:
              - read_parquet:
                  include_path_column: false
        """)
        spec = self.start(v2_spec())
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "table"),
                           env={"PARALLELRUN_PYTHON": python})
        self.assertExit(run, 3)
        self.assertEqual(
            run.stderr,
            "parallelrun: error: input data reads Parquet, which needs pyarrow, but %s cannot "
            "import it; install it with: %s -m pip install pyarrow\n" % (python, python))


class MLTableTest(TabularCase):
    def test_read_delimited_with_delimiter_header_and_path_column(self):
        rows_a = self.make_rows(0, 60, seed=11)
        rows_b = self.make_rows(60, 60, seed=12)
        a = self.write_csv("table/files/a.csv", rows_a, delimiter=";")
        b = self.write_csv("table/files/b.csv", rows_b, delimiter=";")
        self.write_csv("table/files/ignored.txt", rows_b, delimiter=";")
        self.write("table/MLTable", """
            type: mltable
            paths:
              - pattern: ./files/*.csv
            transformations:
              - read_delimited:
                  delimiter: ';'
                  header: all_files_same_headers
                  encoding: utf8
                  include_path_column: true
        """)
        spec = self.start(v2_spec(mini_batch_size="1KB"))
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "table"),
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        recorded = self.recorded()
        self.assertEveryRowOnce(rows_a + rows_b, recorded)
        for _mb, columns, row in recorded:
            self.assertEqual(columns, ["id", "text", "x", "Path"])
            self.assertEqual(row["Path"], str(a if int(row["id"]) < 60 else b))

    def test_read_delimited_without_header_names_columns(self):
        rows = self.make_rows(0, 40, seed=5)
        self.write_csv("table/a.csv", rows, header=None)
        self.write("table/MLTable", """
            paths:
              - file: ./a.csv
            transformations:
              - read_delimited:
                  header: no_header
        """)
        script = RECORD_ROWS.replace('record = {k:', 'record = dict(id=record["Column1"], '
                                     'text=record["Column2"], x=record["Column3"], **record)\n'
                                     '        record = {k:')
        spec = self.start(v2_spec(mini_batch_size="500"), script=script)
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "table"),
                           env={"OUT_DIR": str(self.out)})
        self.assertExit(run, 0)
        recorded = self.recorded()
        self.assertEveryRowOnce(rows, recorded)
        self.assertEqual({tuple(c) for _mb, c, _r in recorded}, {("Column1", "Column2", "Column3")})

    def test_an_mltable_error_is_a_usage_error_at_its_place(self):
        self.write("table/MLTable", """
            paths:
              - file: ./a.csv
            transformations:
              - filter: "col('x') > 1"
        """)
        self.write_csv("table/a.csv", self.make_rows(0, 3, seed=1))
        spec = self.start(v2_spec())
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "table"))
        self.assertExit(run, 2)
        self.assertTrue(run.stderr.startswith("parallelrun: error: input data: %s:4:5: "
                                              % (self.tmp / "table" / "MLTable")), run.stderr)
        self.assertFalse((self.tmp / "job").exists())


class PreflightTest(TabularCase):
    def test_missing_pandas_is_reported_before_any_worker_starts(self):
        venv = self.tmp / "venv"
        made = subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", str(venv)],
                              capture_output=True, text=True)
        if made.returncode != 0:
            self.skipTest("SKIPPED: cannot make a venv with /usr/bin/python3 -m venv: %s"
                          % made.stderr.strip())
        python = venv / "bin" / "python3"
        self.write_csv("data/a.csv", self.make_rows(0, 5, seed=1))
        spec = self.start(v2_spec())
        run = self.run_job(spec, "-i", "data=%s" % (self.tmp / "data"), "--python", python)
        self.assertExit(run, 3)
        self.assertEqual(
            run.stderr,
            "parallelrun: error: pandas is needed for tabular input, but %s cannot import it "
            "(ModuleNotFoundError: No module named 'pandas'); install it with: %s -m pip "
            "install pandas\n" % (python, python))
        self.assertFalse((self.tmp / "job").exists(), "the job dir was made")

    def test_mixed_tabular_and_file_inputs_are_a_usage_error(self):
        self.write_csv("data/a.csv", self.make_rows(0, 5, seed=1))
        self.write("src/score.py", RECORD_ROWS)
        # A ParallelComponent can name several inputs; one tabular, one not.
        spec = self.write("component.yaml", """
            $schema: https://componentsdk.azureedge.net/jsonschema/ParallelComponent.json
            name: mixed
            version: 0.0.1
            type: ParallelComponent
            inputs:
              table:
                type: DataFrameDirectory
              files:
                type: path
            outputs:
              out:
                type: path
            parallel:
              input_data: [inputs.table, inputs.files]
              output_data: outputs.out
              entry: src/score.py
        """)
        run = self.run_job(spec, "-i", "table=%s" % (self.tmp / "data"),
                           "-i", "files=%s" % (self.tmp / "data"))
        self.assertUsageError(
            run, "input_data mixes tabular inputs (table) and file inputs (files); "
                 "mini_batch_size cannot count bytes and files at once: run them as two jobs")


if __name__ == "__main__":
    unittest.main()
