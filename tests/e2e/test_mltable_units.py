"""Unit tests of lib/node/worker_tabular.py's MLTable part: the column types
of read_delimited (infer_column_types), the steps after the read and the rows
kept by skip/take, on small files made here. Needs pandas only."""

import json
import os
import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "lib" / "node"))
import worker_tabular as wt  # noqa: E402

try:
    import pandas as pd  # noqa: F401
    HAVE_PANDAS = True
except ImportError:
    HAVE_PANDAS = False


class MLTableWorkerTest(unittest.TestCase):
    def setUp(self):
        if not HAVE_PANDAS:
            self.skipTest("SKIPPED: pandas is not installed in %s" % sys.executable)
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def table(self, text, steps=(), infer=True, **fields):
        path = os.path.join(self.dir.name, "t.csv")
        with open(path, "w") as f:
            f.write(text)
        d = wt.descriptor(path, whole_file=True, file_header=True,
                          transforms=json.dumps({"infer": infer, "steps": list(steps)}), **fields)
        return wt.load_table(d), d

    def test_columns_are_typed_as_mltable_types_them(self):
        frame, _ = self.table("ones,b,bm,i,im,f,d,dt,dmy,amb,s\n"
                              "1,True,1,1,5,1.5,2024-01-02,2024-01-02T10:20:30Z,13/01/2024,01/02/2024,x\n"
                              "1,false,,2,,2e3,2024-01-03,2024-01-03 11:00:00,01/02/2024,01/03/2024,\n")
        self.assertEqual({c: str(t) for c, t in frame.dtypes.items()},
                         {"ones": "bool", "b": "bool", "bm": "object", "i": "int64",
                          "im": "float64", "f": "float64", "d": "datetime64[ns]",
                          "dt": "datetime64[ns]", "dmy": "datetime64[ns]", "amb": "object",
                          "s": "object"})
        self.assertEqual(list(frame["bm"]), [True, None])
        self.assertEqual(list(frame["s"]), ["x", None])
        self.assertEqual(str(frame["dmy"][0]), "2024-01-13 00:00:00")
        self.assertEqual(str(frame["dt"][0]), "2024-01-02 10:20:30")

    def test_infer_column_types_false_keeps_text(self):
        frame, _ = self.table("a,b\n1,True\n,x\n", infer=False)
        self.assertEqual(list(frame["a"]), ["1", None])
        self.assertEqual(list(frame["b"]), ["True", "x"])

    def test_steps_in_order(self):
        steps = [
            {"op": "convert_column_types", "conversions": [
                {"columns": ["a"], "type": "float"},
                {"columns": ["yn"], "type": "boolean", "true_values": ["y"],
                 "false_values": ["n"], "mismatch_as": "false"},
                {"columns": ["when"], "type": "datetime", "formats": ["%d.%m.%Y"]},
                {"columns": ["n"], "type": "string"}]},
            {"op": "drop_columns", "columns": ["junk"]},
            {"op": "filter", "column": "a", "cmp": ">", "kind": "number", "value": 1},
            {"op": "keep_columns", "columns": ["yn", "a", "when"]},
        ]
        frame, _ = self.table("a,yn,when,n,junk\n1,y,01.02.2024,5,j\n2,n,02.02.2024,6,j\n"
                              "3,?,bad,7,j\n", steps)
        self.assertEqual(list(frame.columns), ["a", "yn", "when"])  # the table's order
        self.assertEqual(list(frame["a"]), [2.0, 3.0])
        self.assertEqual(list(frame["yn"]), [False, False])
        self.assertEqual(str(frame["when"][0]), "2024-02-02 00:00:00")
        self.assertTrue(pd.isna(frame["when"][1]))

    def test_a_missing_column_is_named(self):
        with self.assertRaises(KeyError) as cm:
            self.table("a\n1\n", [{"op": "drop_columns", "columns": ["b"], "line": 7}])
        self.assertIn("drop_columns (line 7): column 'b' not in the table (its columns: a)",
                      str(cm.exception))

    def test_filter_forms(self):
        text = "n,s,ok,when\n1,a,true,2024-01-01\n2,b,false,2024-02-01\n3,,true,2024-03-01\n"
        cases = [({"column": "s", "cmp": "==", "kind": "string", "value": "b"}, [2]),
                 ({"column": "ok", "cmp": "==", "kind": "bool", "value": True}, [1, 3]),
                 ({"column": "when", "cmp": ">=", "kind": "datetime", "value": [2024, 2, 1]}, [2, 3]),
                 ({"column": "n", "cmp": "!=", "kind": "number", "value": 2}, [1, 3])]
        for step, want in cases:
            step = dict(step, op="filter")
            frame, _ = self.table(text, [step])
            self.assertEqual(list(frame["n"]), want, step)

    def test_keep_rows_of_a_range(self):
        frame, d = self.table("n\n1\n2\n3\n4\n", keep_begin=1, keep_end=3)
        self.assertEqual(list(frame["n"]), [2, 3])
        self.assertEqual(wt.count_records(d), 2)


if __name__ == "__main__":
    unittest.main()
