"""MLTable transformations and column types end to end (issue 10 items 5, 8).

An MLTable is read on Azure by the mltable library, and run() gets its
column types: a partition-format date column is a datetime, a 0/1 column a
bool (so a row written back says True, as Azure's outputs do). The MLTable
the official many-models partition step writes (read_delimited with the path
column, extract_columns_from_partition_format, drop_columns) runs; skip, take,
convert_column_types and filter apply to the whole table in the order
written. Where the mltable package installs in the tests' Python
(scripts/test-venv), the workers' frames are compared with
mltable.load(...).to_pandas_dataframe().
"""

import json
import os
import subprocess
import textwrap

from helpers import E2ETestCase, PYTHON

# Records each mini-batch's rows and dtypes in $OUT_DIR/mb_<pid>_<n>.json and
# returns the rows for append_row.
RECORD = """
import json
import os

count = [0]


def run(mini_batch, mini_batch_context=None):
    folder = os.environ["OUT_DIR"]
    os.makedirs(folder, exist_ok=True)
    count[0] += 1
    rows = [{k: (None if v is None or v != v else repr(v)) for k, v in r.items()}
            for r in mini_batch.to_dict("records")]
    with open(os.path.join(folder, "mb_%d_%d.json" % (os.getpid(), count[0])), "w") as f:
        json.dump({"dtypes": {c: str(t) for c, t in mini_batch.dtypes.items()},
                   "columns": list(mini_batch.columns), "rows": rows}, f)
    return mini_batch
"""

MANY_MODELS_MLTABLE = """\
paths:
- pattern: ./**/*.csv
transformations:
- read_delimited:
    delimiter: ','
    empty_as_string: false
    encoding: ascii
    header: all_files_same_headers
    include_path_column: true
- extract_columns_from_partition_format:
    partition_format: '{Store}/{Brand}/{file_name}.{extension}'
- drop_columns:
  - Path
  - file_name
  - extension
type: mltable
"""


def v2_spec(keys=None, mini_batch_size=None):
    lines = ["type: parallel", "name: e2e_mltable", "version: 1", "inputs:", "  data:",
             "    type: mltable", "    mode: direct", "outputs:", "  result:",
             "    type: uri_folder", "input_data: ${{inputs.data}}",
             "max_concurrency_per_instance: 2"]
    if keys:
        lines.append("partition_keys: %s" % keys)
    if mini_batch_size:
        lines.append('mini_batch_size: "%s"' % mini_batch_size)
    lines += ["task:", "  type: run_function", "  code: ./src", "  entry_script: score.py",
              "  append_row_to: ${{outputs.result}}"]
    return "\n".join(lines) + "\n"


def have_mltable():
    r = subprocess.run([PYTHON, "-c", "import mltable"], capture_output=True, text=True)
    return r.returncode == 0, (r.stderr.strip().splitlines() or [""])[-1]


class MLTableCase(E2ETestCase):
    def setUp(self):
        super().setUp()
        self.out = self.tmp / "out"
        self.result = self.tmp / "result"

    def many_models_table(self):
        """The partition step's output: <Store>/<Brand>/partitioned_data.csv
        without the key columns, and its MLTable. Returns the expected rows."""
        expected = []
        for store in ("1000", "1001"):
            for brand in ("dominicks", "tropicana"):
                lines = ["WeekStarting,Quantity,Advert,Price"]
                for week in range(3):
                    day = "1990-06-%02d" % (14 + 7 * week)
                    qty = int(store) + week * 10 + len(brand)
                    advert = (week + len(brand)) % 2
                    lines.append("%s,%d,%d,%.2f" % (day, qty, advert, 2.5 + week))
                    expected.append((store, brand, day, qty, bool(advert)))
                path = self.tmp / "table" / store / brand / "partitioned_data.csv"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text("\n".join(lines) + "\n")
        self.write("table/MLTable", MANY_MODELS_MLTABLE)
        return expected

    def recorded(self):
        out = []
        for name in sorted(os.listdir(self.out)) if self.out.exists() else []:
            with open(self.out / name) as f:
                out.append(json.load(f))
        return out

    def run_table(self, spec_text, *extra):
        self.write("src/score.py", RECORD)
        spec = self.write("spec.yaml", spec_text)
        return self.run_job(spec, "-i", "data=%s" % (self.tmp / "table"),
                            "-o", "result=%s" % self.result, *extra,
                            env={"OUT_DIR": str(self.out)})


class ManyModelsTest(MLTableCase):
    def test_the_partition_steps_mltable_runs_with_mltables_types(self):
        expected = self.many_models_table()
        run = self.run_table(v2_spec(keys="[Store, Brand]"))
        self.assertExit(run, 0)
        recorded = self.recorded()
        self.assertEqual(len(recorded), 4)  # one mini-batch per Store, Brand
        got = []
        for mb in recorded:
            # drop_columns took out the path column and the file name parts.
            self.assertEqual(mb["columns"], ["WeekStarting", "Quantity", "Advert", "Price",
                                             "Store", "Brand"])
            self.assertEqual(mb["dtypes"], {"WeekStarting": "datetime64[ns]", "Quantity": "int64",
                                            "Advert": "bool", "Price": "float64",
                                            "Store": "object", "Brand": "object"})
            for r in mb["rows"]:
                got.append((eval(r["Store"]), eval(r["Brand"]), r["WeekStarting"][11:21],
                            int(r["Quantity"]), r["Advert"] == "True"))
        self.assertEqual(sorted(got), sorted(expected))
        # append_row writes the bools as Azure does: True/False, never 1/0.
        written = (self.result / "parallel_run_step.txt").read_text().splitlines()
        self.assertEqual(len(written), len(expected))
        for line in written:
            fields = line.split(" ")
            self.assertIn(fields[2], ("True", "False"), line)
            self.assertRegex(fields[0], r"^1990-0[67]-\d\d$")

    def test_a_date_partition_format_gives_a_datetime_column(self):
        for week in ("2024-01-01", "2024-01-08"):
            path = self.tmp / "table" / week / "part.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("id,flag\n1,true\n2,false\n")
        self.write("table/MLTable", """\
            paths:
              - pattern: ./*/*.csv
            transformations:
              - read_delimited:
                  delimiter: ','
              - extract_columns_from_partition_format: '{WeekStarting:yyyy-MM-dd}/part.csv'
            """)
        run = self.run_table(v2_spec(keys="[WeekStarting]"))
        self.assertExit(run, 0)
        recorded = self.recorded()
        self.assertEqual(len(recorded), 2)
        for mb in recorded:
            self.assertEqual(mb["dtypes"], {"id": "int64", "flag": "bool",
                                            "WeekStarting": "datetime64[ns]"})
        weeks = sorted(mb["rows"][0]["WeekStarting"] for mb in recorded)
        self.assertEqual(weeks, ["Timestamp('2024-01-01 00:00:00')",
                                 "Timestamp('2024-01-08 00:00:00')"])


class RowStepsTest(MLTableCase):
    def write_rows(self, files=3, rows=40):
        for f in range(files):
            lines = ["id,score,kind,note"]
            for i in range(rows):
                n = f * rows + i
                lines.append("%d,%s,%s,%s" % (n, "%d.5" % (n % 7), "ab"[n % 2],
                                              '"a note\nover two lines"' if n % 9 == 0 else "x%d" % n))
            path = self.tmp / "table" / ("part%d.csv" % f)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n")
        return files * rows

    def test_skip_take_convert_and_filter_across_many_mini_batches(self):
        total = self.write_rows()
        self.write("table/MLTable", """\
            paths:
              - pattern: ./*.csv
            transformations:
              - read_delimited:
                  delimiter: ','
              - skip: 25
              - take: 70
              - convert_column_types:
                  - columns: score
                    column_type: int
                  - columns: id
                    column_type: string
              - keep_columns: [id, score, kind]
              - filter: 'col("kind") == "a"'
            """)
        # Small mini-batches: the kept rows [25, 95) cross files and batches.
        run = self.run_table(v2_spec(mini_batch_size="300"))
        self.assertExit(run, 0)
        recorded = self.recorded()
        self.assertGreater(len(recorded), 3)
        ids = []
        for mb in recorded:
            self.assertEqual(mb["columns"], ["id", "score", "kind"])
            if mb["rows"]:
                self.assertEqual(mb["dtypes"]["id"], "object")
                # mltable's int of "3.5" is 3 (checked against mltable 1.7.0).
                self.assertEqual(mb["dtypes"]["score"], "int64")
            for r in mb["rows"]:
                self.assertEqual(int(r["score"]), int(eval(r["id"])) % 7)
            ids += [int(eval(r["id"])) for r in mb["rows"]]
        self.assertEqual(sorted(ids), [n for n in range(25, 95) if n % 2 == 0])
        self.assertLess(95, total)

    def test_take_after_filter_is_refused_naming_the_line(self):
        self.write_rows(files=1, rows=3)
        self.write("table/MLTable", """\
            paths:
              - pattern: ./*.csv
            transformations:
              - read_delimited:
                  delimiter: ','
              - filter: 'col("kind") == "a"'
              - take: 2
            """)
        run = self.run_table(v2_spec())
        self.assertEqual(run.returncode, 2, run)
        self.assertIn("MLTable:7:5: transformation 'take' (line 7) comes after the filter at line 6",
                      run.stderr)


class AgainstMltableTest(MLTableCase):
    """What the workers get, compared with the mltable library's own frame."""

    def test_frames_match_mltable_to_pandas_dataframe(self):
        ok, why = have_mltable()
        if not ok:
            self.skipTest("SKIPPED: the mltable package is not installed in %s (%s); "
                          "scripts/test-venv installs it where it installs" % (PYTHON, why))
        path = self.tmp / "table" / "2024-03-04" / "d.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent("""\
            i,ie,f,b01,tf,be,d1,d2,dmy,s,yn,when,q,w,gone
            1,1,1.5,1,True,True,2024-01-02,2024-01-02 10:20:30,13/01/2024,foo,yes,2024-01-02T10:20:30Z,3.5,02.01.2024,x
            2,,2.5,0,false,,2024-01-03,2024-01-03 11:00:00,01/02/2024,,no,2024-01-03T10:20:30Z,4,bad,y
            3,3,,1,TRUE,False,2024-01-04,2024-01-04 00:00:00,02/03/2024,bar,yes,2024-01-04T10:20:30Z,x,05.01.2024,z
            """))
        self.write("table/MLTable", """\
            paths:
              - pattern: ./**/*.csv
            transformations:
              - read_delimited:
                  delimiter: ','
                  include_path_column: true
              - extract_columns_from_partition_format:
                  partition_format: '{Day:yyyy-MM-dd}/{file_name}.csv'
              - drop_columns: [Path, file_name]
              - convert_column_types:
                  - columns: f
                    column_type: string
                  - columns: yn
                    column_type:
                      boolean:
                        true_values: ["yes"]
                        false_values: ["no"]
                  - columns: [q]
                    column_type: int
                  - columns: w
                    column_type:
                      datetime:
                        formats: ["%d.%m.%Y"]
                  - columns: b01
                    column_type: string
              - keep_columns: [when, Day, i, ie, f, b01, tf, be, d1, d2, dmy, s, yn, q, w]
              - filter: 'col("i") >= 2'
            """)
        run = self.run_table(v2_spec())
        self.assertExit(run, 0)
        recorded = self.recorded()
        self.assertEqual(len(recorded), 1)
        ours = recorded[0]
        script = textwrap.dedent("""\
            import json, sys
            import mltable
            df = mltable.load(sys.argv[1]).to_pandas_dataframe()
            rows = [{k: (None if v is None or v != v else repr(v)) for k, v in r.items()}
                    for r in df.to_dict("records")]
            print(json.dumps({"dtypes": {c: str(t) for c, t in df.dtypes.items()},
                              "columns": list(df.columns), "rows": rows}))
            """)
        r = subprocess.run([PYTHON, "-c", script, str(self.tmp / "table")], capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        theirs = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(ours["columns"], theirs["columns"])
        self.assertEqual(ours["dtypes"], theirs["dtypes"])
        self.assertEqual(ours["rows"], theirs["rows"])


if __name__ == "__main__":
    import unittest
    unittest.main()
