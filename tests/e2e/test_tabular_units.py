"""Python-level tests of the worker's tabular code: lib/node/worker_tabular.py
(reading table ranges into DataFrames, partitions by column) and the parts of
lib/node/worker_driver.py that use it or stand beside it: the append_row
part files that Worker.run writes (byte for byte what the original wrote)
and the `check-tabular` pre-flight.

Run with Debian's /usr/bin/python3 (pandas installed). Parquet tests need
pyarrow and say SKIPPED with the reason when it is missing.
"""
import importlib.util
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import types
import unittest

SOURCE_DIR = os.environ.get("PARALLELRUN_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MODULE_PATH = os.path.join(SOURCE_DIR, "lib", "node", "worker_tabular.py")
DRIVER_PATH = os.path.join(SOURCE_DIR, "lib", "node", "worker_driver.py")


def _load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wt = _load_module("worker_tabular", MODULE_PATH)
wd = _load_module("worker_driver", DRIVER_PATH)

try:
    import pandas as pd
except ImportError:  # the module's tests below then skip with the reason
    pd = None

try:
    import pyarrow  # noqa: F401
    import pyarrow.parquet as pq
    HAVE_PYARROW = True
except ImportError:
    HAVE_PYARROW = False

NEED_PANDAS = unittest.skipIf(pd is None, "SKIPPED: pandas is not installed in %s" % sys.executable)
NEED_PYARROW = unittest.skipIf(not HAVE_PYARROW,
                               "SKIPPED: pyarrow is not installed in %s" % sys.executable)

# The bytes lib/data/table_range.cc EncodeTableRange writes for one range; the
# C++ test "table_source: the descriptor encoding is pinned" checks the same
# hex, so the two sides cannot drift apart.
GOLDEN_HEX = (
    "01000e0000002f642f636166c3a920ff2e637376020100000000000001000100000000000100000002000000"
    "030000000000000004000000000000000500000000000000090107000000613b2262206322010000003b0600"
    "00006c6174696e31050000006572726f720300000073726301000000030000006461790a000000323032342f"
    "30312f30320800000025592f256d2f2564")


class TempDirTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="tabular_units.")
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
        return path


class DescriptorTest(unittest.TestCase):
    def test_golden_encoding(self):
        d = wt.decode_descriptor(bytes.fromhex(GOLDEN_HEX))
        self.assertEqual(d["format"], wt.DELIMITED)
        self.assertEqual(d["path_bytes"], b"/d/caf\xc3\xa9 \xff.csv")
        self.assertEqual(d["path"], os.fsdecode(b"/d/caf\xc3\xa9 \xff.csv"))
        self.assertEqual((d["offset"], d["length"]), (258, 65537))
        self.assertEqual((d["group_begin"], d["group_end"], d["group_first_row"],
                          d["row_begin"], d["row_end"]), (1, 2, 3, 4, 5))
        self.assertTrue(d["has_header"])
        self.assertFalse(d["whole_file"])
        self.assertFalse(d["file_header"])
        self.assertTrue(d["include_path_column"])
        self.assertFalse(d["empty_as_string"])
        self.assertEqual(d["header_mode"], "from_first_file")
        self.assertEqual(d["header"], b'a;"b c"')
        self.assertEqual(d["delimiter"], ";")
        self.assertEqual(d["encoding"], "latin1")
        self.assertEqual(d["invalid_lines"], "error")
        self.assertEqual(d["path_column"], "src")
        self.assertEqual(d["path_columns"], [("day", "2024/01/02", "%Y/%m/%d")])

    def test_version_2_adds_transforms_and_kept_rows(self):
        # table_range_test.cc pins the same bytes: version 1's fields, then
        # transforms "{}", keep_begin 6, keep_end 7.
        data = (bytes.fromhex("02" + GOLDEN_HEX[2:]) + bytes.fromhex("020000007b7d")
                + (6).to_bytes(8, "little") + (7).to_bytes(8, "little"))
        d = wt.decode_descriptor(data)
        self.assertEqual((d["transforms"], d["keep_begin"], d["keep_end"]), ("{}", 6, 7))
        self.assertEqual(d["path_columns"], [("day", "2024/01/02", "%Y/%m/%d")])
        v1 = wt.decode_descriptor(bytes.fromhex(GOLDEN_HEX))
        self.assertEqual((v1["transforms"], v1["keep_begin"], v1["keep_end"]), ("", 0, wt.ALL_ROWS))

    def test_malformed_descriptors_are_refused(self):
        data = bytes.fromhex(GOLDEN_HEX)
        with self.assertRaises(ValueError) as cm:
            wt.decode_descriptor(data + b"x")
        self.assertEqual(str(cm.exception), "table range descriptor: 1 bytes left over")
        with self.assertRaises(ValueError) as cm:
            wt.decode_descriptor(b"\x03" + data[1:])
        self.assertEqual(str(cm.exception), "table range descriptor version 3; this worker reads 2")
        for n in range(1, len(data), 7):
            with self.assertRaises((ValueError, Exception)):
                wt.decode_descriptor(data[:n])


def awkward_csv(rows, eol="\n"):
    """A CSV with quoted multi-line fields, delimiters and doubled quotes in
    fields; returns the text and the offsets (bytes) where records end."""
    header = "id,text,score" + eol
    parts, ends = [header], [len(header.encode())]
    for i in range(rows):
        text = ['"multi%sline, with comma"' % eol, '"say ""hi"""', "plain text", '""',
                '"caf\u00e9 \u2603"'][i % 5]
        parts.append("%d,%s,%s%s" % (i, text, "" if i % 7 == 3 else str(i * 0.5), eol))
        ends.append(ends[-1] + len(parts[-1].encode()))
    return "".join(parts), ends


@NEED_PANDAS
class LoadDelimitedTest(TempDirTest):
    def ranges(self, path, ends, every, **fields):
        """Descriptors of ranges of `every` records each, header excluded."""
        out = []
        for i in range(1, len(ends), every):
            j = min(i + every - 1, len(ends) - 1)
            out.append(wt.descriptor(path, offset=ends[i - 1], length=ends[j] - ends[i - 1], **fields))
        return out

    def test_ranges_with_the_header_read_as_the_whole_file(self):
        for eol in ("\n", "\r\n"):
            text, ends = awkward_csv(103, eol)
            path = self.write("a.csv", text)
            whole = pd.read_csv(path)
            descs = self.ranges(path, ends, 10, has_header=True, header=b"id,text,score")
            frames = [wt.load_table(d) for d in descs]
            self.assertEqual(len(frames), 11)
            self.assertEqual(sum(len(f) for f in frames), 103)
            for f in frames:
                self.assertEqual(list(f.columns), ["id", "text", "score"])
                self.assertEqual(list(f.index), list(range(len(f))))
            joined = pd.concat(frames, ignore_index=True)
            pd.testing.assert_frame_equal(joined, whole)
            self.assertEqual(joined.loc[0, "text"], "multi%sline, with comma" % eol)
            self.assertEqual(joined.loc[1, "text"], 'say "hi"')

    def test_a_quoted_header_and_duplicate_names(self):
        path = self.write("h.csv", '"first\nname",b,b\n1,2,3\n')
        d = wt.descriptor(path, offset=17, length=6, has_header=True, header=b'"first\nname",b,b')
        frame = wt.load_table(d)
        self.assertEqual(list(frame.columns), ["first\nname", "b", "b.1"])
        self.assertEqual(frame.values.tolist(), [[1, 2, 3]])

    def test_no_header_names_columns_like_mltable(self):
        path = self.write("n.csv", "\ufeff1,x\n2,y\n")
        frame = wt.load_table(wt.descriptor(path, offset=0, length=11))
        self.assertEqual(list(frame.columns), ["Column1", "Column2"])
        self.assertEqual(frame.values.tolist(), [[1, "x"], [2, "y"]])  # no BOM in the first cell

    def test_from_first_file_names_a_later_file(self):
        path = self.write("later.csv", "3,4\n5,6\n")
        frame = wt.load_table(wt.descriptor(path, whole_file=True, has_header=True, header=b"a,b",
                                            header_mode="from_first_file"))
        self.assertEqual(frame.to_dict("list"), {"a": [3, 5], "b": [4, 6]})

    def test_whole_file_with_its_own_header(self):
        path = self.write("w.tsv", "a\tb\n1\t2\n")
        frame = wt.load_table(wt.descriptor(path, whole_file=True, file_header=True, delimiter="\t"))
        self.assertEqual(frame.to_dict("list"), {"a": [1], "b": [2]})

    def test_encodings(self):
        path = self.write("l.csv", "name\ncaf\xe9\n".encode("latin-1"))
        frame = wt.load_table(wt.descriptor(path, offset=5, length=5, has_header=True,
                                            header=b"name", encoding="latin1"))
        self.assertEqual(frame["name"].tolist(), ["caf\u00e9"])
        path = self.write("u16.csv", "a,b\n\u2603,2\n".encode("utf-16"))
        frame = wt.load_table(wt.descriptor(path, whole_file=True, file_header=True, encoding="utf16"))
        self.assertEqual(frame.to_dict("list"), {"a": ["\u2603"], "b": [2]})
        path = self.write("bom.csv", b"\xef\xbb\xbfa\n1\n")
        frame = wt.load_table(wt.descriptor(path, whole_file=True, file_header=True, encoding="utf8bom"))
        self.assertEqual(list(frame.columns), ["a"])

    def test_empty_as_string(self):
        path = self.write("e.csv", "a,b\n,NA\nx,\n")
        d = wt.descriptor(path, offset=4, length=7, has_header=True, header=b"a,b")
        frame = wt.load_table(d)
        self.assertTrue(frame["a"].isna()[0])
        d["empty_as_string"] = True
        frame = wt.load_table(d)
        self.assertEqual(frame["a"].tolist(), ["", "x"])
        self.assertTrue(frame["b"].isna()[0])  # "NA" is still missing
        self.assertEqual(frame["b"][1], "")

    def test_path_columns(self):
        path = self.write("p.csv", "v\n1\n2\n")
        frame = wt.load_table(wt.descriptor(
            path, offset=2, length=4, has_header=True, header=b"v", include_path_column=True,
            path_columns=[("day", "2024/01/02", "%Y/%m/%d"), ("shop", "x", "")]))
        self.assertEqual(list(frame.columns), ["v", "Path", "day", "shop"])
        self.assertEqual(frame["Path"].tolist(), [path, path])
        self.assertEqual(str(frame["day"][0]), "2024-01-02 00:00:00")
        self.assertEqual(frame["shop"].tolist(), ["x", "x"])

    def test_a_changed_file_is_an_error(self):
        path = self.write("c.csv", "a\n1\n")
        with self.assertRaises(IOError) as cm:
            wt.load_table(wt.descriptor(path, offset=2, length=10, has_header=True, header=b"a"))
        self.assertEqual(str(cm.exception),
                         "%s: expected 10 bytes at offset 2, read 2 (the file changed?)" % path)

    def test_several_ranges_concatenate(self):
        a = self.write("1.csv", "x\n1\n")
        b = self.write("2.csv", "x\n2\n3\n")
        frame = wt.load_tables([wt.descriptor(a, whole_file=True, file_header=True),
                                wt.descriptor(b, whole_file=True, file_header=True)])
        self.assertEqual(frame["x"].tolist(), [1, 2, 3])
        self.assertEqual(list(frame.index), [0, 1, 2])


@NEED_PANDAS
class LoadJsonLinesTest(TempDirTest):
    def test_ranges(self):
        lines = ['{"id": %d, "s": "a \\"q\\" \\n t"}\n' % i for i in range(10)]
        path = self.write("j.jsonl", "".join(lines) + "\n")
        first = len("".join(lines[:4]).encode())
        frames = [wt.load_table(wt.descriptor(path, wt.JSON_LINES, offset=0, length=first)),
                  wt.load_table(wt.descriptor(path, wt.JSON_LINES, offset=first,
                                              length=os.path.getsize(path) - first))]
        self.assertEqual([len(f) for f in frames], [4, 6])
        self.assertEqual(frames[1]["id"].tolist(), list(range(4, 10)))
        self.assertEqual(frames[0]["s"][0], 'a "q" \n t')

    def test_invalid_lines(self):
        path = self.write("bad.jsonl", '{"a": 1}\nnot json\n{"a": 2}\n')
        size = os.path.getsize(path)
        frame = wt.load_table(wt.descriptor(path, wt.JSON_LINES, offset=0, length=size,
                                            invalid_lines="drop"))
        self.assertEqual(frame["a"].tolist(), [1, 2])
        with self.assertRaises(ValueError):
            wt.load_table(wt.descriptor(path, wt.JSON_LINES, offset=0, length=size))


class CountRecordsTest(TempDirTest):
    """count_records: the rows of a range that could not be read, which then
    all count as failed items."""

    def count(self, text, fmt=None, **fields):
        path = self.write("t", text)
        size = os.path.getsize(path)
        return wt.count_records(wt.descriptor(path, wt.DELIMITED if fmt is None else fmt,
                                              offset=0, length=size, **fields))

    def test_delimited_records_are_line_ends_outside_quotes(self):
        self.assertEqual(self.count('1,a,0.5\n2,b,0.25,extra\n'), 2)
        self.assertEqual(self.count('1,"a\nb",2\n3,"x""y\n",4\n\n5,6'), 3)
        self.assertEqual(self.count('1,2\r\n3,4\r5,6\n\n'), 3)
        self.assertEqual(self.count('1\t"a\nb"\n', delimiter="\t"), 1)
        # A quote opened mid-field is text, as pandas reads it.
        self.assertEqual(self.count('1,a"b\n2,c\n'), 2)

    def test_a_quote_that_never_closes_counts_lines(self):
        self.assertEqual(self.count('10,"open,0.5\n11,t,0.5\n\n12,t,0.5\n'), 3)

    def test_a_whole_file_less_its_header(self):
        self.assertEqual(self.count('id,x\n1,2\n3,4\n', whole_file=True, file_header=True), 2)
        self.assertEqual(self.count('id,x\n', whole_file=True, file_header=True), 0)

    def test_json_lines_and_what_cannot_be_counted(self):
        self.assertEqual(self.count('{"a": 1}\nnot json\n\n{"a": 2}\n', wt.JSON_LINES), 3)
        self.assertIsNone(self.count("x", wt.PICKLE))


@NEED_PANDAS
class ParquetTest(TempDirTest):
    def test_without_pyarrow_the_error_names_the_interpreter(self):
        if HAVE_PYARROW:
            self.skipTest("SKIPPED: pyarrow is installed in %s; the missing-pyarrow message "
                          "cannot be seen" % sys.executable)
        path = self.write("t.parquet", b"PAR1")
        with self.assertRaises(ImportError) as cm:
            wt.load_table(wt.descriptor(path, wt.PARQUET, whole_file=True))
        self.assertEqual(str(cm.exception),
                         "pyarrow is needed to read Parquet; install it in %s (%s -m pip install "
                         "pyarrow)" % (sys.executable, sys.executable))

    @NEED_PYARROW
    def test_row_groups_and_row_ranges(self):
        path = os.path.join(self.dir, "t.parquet")
        df = pd.DataFrame({"i": list(range(1000)), "s": ["r%d" % i for i in range(1000)]})
        pq.write_table(pyarrow.Table.from_pandas(df, preserve_index=False), path, row_group_size=300)
        # Row groups 1..2 whole.
        frame = wt.load_table(wt.descriptor(path, wt.PARQUET, group_begin=1, group_end=3,
                                            group_first_row=300, row_begin=300, row_end=900))
        self.assertEqual(frame["i"].tolist(), list(range(300, 900)))
        # Part of row group 3 (rows 900..999): rows 950..974.
        frame = wt.load_table(wt.descriptor(path, wt.PARQUET, group_begin=3, group_end=4,
                                            group_first_row=900, row_begin=950, row_end=975))
        self.assertEqual(frame["i"].tolist(), list(range(950, 975)))
        frame = wt.load_table(wt.descriptor(path, wt.PARQUET, whole_file=True,
                                            include_path_column=True))
        self.assertEqual(len(frame), 1000)
        self.assertEqual(frame["Path"][0], path)


@NEED_PANDAS
class PartitionsTest(TempDirTest):
    def frame(self):
        return pd.DataFrame({"Store": [2, 1, 2, 1, 3, None],
                             "Brand": ["x", "x", "x", "y", "x", "x"],
                             "v": [1, 2, 3, 4, 5, 6]})

    def test_groups_in_order_of_first_appearance(self):
        groups = wt.group_partitions(self.frame(), ["Store", "Brand"])
        keys = [(g["Store"], g["Brand"]) for g, _ in groups]
        self.assertEqual(keys[:4], [(2.0, "x"), (1.0, "x"), (1.0, "y"), (3.0, "x")])
        self.assertTrue(pd.isna(keys[4][0]))
        self.assertEqual(groups[0][1]["v"].tolist(), [1, 3])
        self.assertEqual(list(groups[0][1].index), [0, 1])
        one = wt.group_partitions(self.frame(), ["Brand"])
        self.assertEqual([g for g, _ in one], [{"Brand": "x"}, {"Brand": "y"}])
        self.assertEqual(wt.group_partitions(self.frame().iloc[0:0], ["Brand"]), [])

    def test_a_missing_key_is_named(self):
        with self.assertRaises(KeyError) as cm:
            wt.group_partitions(self.frame(), ["Store", "Shop"])
        self.assertEqual(cm.exception.args[0],
                         "partition key 'Shop' not among the table's columns (Store, Brand, v)")

    def test_spill_and_read_back(self):
        path = self.write("t.csv", "Store,Brand,v\n2,x,1\n1,x,2\n2,x,3\n")
        desc = wt.descriptor(path, offset=14, length=os.path.getsize(path) - 14, has_header=True,
                             header=b"Store,Brand,v")
        spill = os.path.join(self.dir, "spill")
        report = wt.spill_partitions(desc, ["Store", "Brand"], spill, "0.1")
        self.assertEqual([r["key_values"] for r in report], [[["Store", "2"], ["Brand", "x"]],
                                                            [["Store", "1"], ["Brand", "x"]]])
        self.assertEqual([r["rows"] for r in report], [2, 1])
        self.assertEqual(report[0]["path"], os.path.join(
            spill, wt.partition_hash([["Store", "2"], ["Brand", "x"]]), "0.1.pkl"))
        # A second range adds its own file to the same folder.
        again = wt.spill_partitions(desc, ["Store", "Brand"], spill, "1.1")
        parts = [wt.descriptor(r["path"], wt.PICKLE, whole_file=True)
                 for r in (report[0], again[0])]
        frame = wt.load_tables(parts)
        self.assertEqual(frame["v"].tolist(), [1, 3, 1, 3])
        self.assertEqual(sorted(os.listdir(os.path.dirname(report[0]["path"]))),
                         ["0.1.pkl", "1.1.pkl"])  # no temporary file left

    def test_context(self):
        ctx = wt.MiniBatchContext({"Store": 2}, dataset=[1], minibatch_index=7)
        self.assertEqual(ctx.partition_key_value, {"Store": 2})
        self.assertEqual(ctx.minibatch_index, 7)
        self.assertEqual(ctx.dataset, [1])


class Pipe:
    """Stands in for the driver's Pipe: keeps what the worker sends."""

    def __init__(self):
        self.sent = []

    def send(self, kind, payload=b""):
        self.sent.append((kind, payload))

    def send_frame(self, data):
        """A whole frame: kept as send() keeps it, once its length is checked."""
        length, kind = struct.unpack_from("<IB", data)
        assert length == len(data) - 4, (length, len(data))
        self.sent.append((kind, bytes(data[5:])))


def run_payload(batch_id, attempt, items):
    """A RUN message's payload for a file mini-batch (lib/node/worker_protocol.h)."""
    data = wd._RUN_HEAD.pack(batch_id, attempt, 0, wd.FILES) + wd._U32.pack(0)
    block = b"\0".join(os.fsencode(item) for item in items)
    return data + wd._RUN_ITEMS.pack(0, len(items), 1, len(block)) + block  # joined


def decode_result(payload):
    """A RESULT message's payload as (status, total, returned, category, message)."""
    head = struct.Struct("<QIBQQdddd")
    _batch, _attempt, status, total, returned = head.unpack_from(payload, 0)[:5]
    category, offset = wd._read_bytes(payload, head.size)
    message, offset = wd._read_bytes(payload, offset)
    return status, total, returned, category.decode(), message.decode()


class AppendRowsTest(TempDirTest):
    """Worker.run with append_row: run()'s return value written as its part
    file <append_row_dir>/<id>.<attempt>.rows (lib/master/append_row_output.h)."""

    def setUp(self):
        super().setUp()
        self.parts = os.path.join(self.dir, "parts")
        os.makedirs(self.parts)

    def run_worker(self, value, batch_id=1, attempt=1, items=("a.png",)):
        """Runs one mini-batch whose run() returns `value`; returns the RESULT
        fields and the part file's bytes (None when there is none)."""
        worker = wd.Worker(Pipe())
        worker.module = types.ModuleType("entry")
        worker.module.run = lambda mini_batch: value
        worker.append_row_dir = self.parts
        worker.run(run_payload(batch_id, attempt, list(items)))
        (kind, payload), = worker.pipe.sent
        self.assertEqual(kind, wd.RESULT)
        path = os.path.join(self.parts, "%d.%d.rows" % (batch_id, attempt))
        data = None
        if os.path.exists(path):
            with open(path, "rb") as f:
                data = f.read()
        return decode_result(payload), data

    def rows(self, value):
        """The part file's bytes for a run() that returned `value`."""
        (status, _, returned, category, message), data = self.run_worker(value)
        self.assertEqual((status, category, message), (wd.RUN_DONE, "", ""))
        self.assertEqual(returned, len(value))
        return data

    def original_list(self, path, result):
        # What the original driver did for a list: str(element) + "\n", appended.
        with open(path, "a", encoding="utf-8") as f:
            for item in result:
                f.write(str(item) + "\n")

    def test_lists_and_tuples(self):
        results = [
            ["a.png: 7", "b c", "", "caf\u00e9 \u2603"],
            [{"a": 1, "b": [1, 2]}, 3, 2.5, None, True, ("t", 1)],
            ("tuple", 1),
            [],
            ["row %d" % i for i in range(wd._ROWS_PER_WRITE * 2 + 3)],  # several writes
        ]
        path = os.path.join(self.dir, "orig.txt")
        ours = b""
        for r in results:
            self.original_list(path, r)
            ours += self.rows(r)
        with open(path, "rb") as f:
            self.assertEqual(ours, f.read())
        self.assertEqual(self.rows(["x", {"k": "v"}]), b"x\n{'k': 'v'}\n")

    @NEED_PANDAS
    def test_dataframes(self):
        import numpy as np
        frames = [
            pd.DataFrame({"name": ["a b", 'q"uote', "multi\nline", "plain", ""],
                          "n": [1, 2, 3, 4, 5],
                          "x": [0.1, np.nan, 1e20, -0.0, 2.5],
                          "flag": [True, False, True, False, True]}),
            pd.DataFrame({"when": pd.to_datetime(["2024-01-02", "2024-03-04 05:06:07"]),
                          "u": ["caf\u00e9", "\u2603"]}),
            pd.DataFrame({"only": []}),
        ]
        path = os.path.join(self.dir, "orig.txt")
        ours = b""
        for df in frames:
            df.to_csv(path, header=None, index=None, sep=" ", mode="a")
            ours += self.rows(df)
        with open(path, "rb") as f:
            self.assertEqual(ours, f.read())
        self.assertEqual(self.rows(pd.DataFrame({"a": ["x y", "z"], "b": [1, 2]})),
                         b'"x y" 1\nz 2\n')
        # The index is not written, whatever it is.
        indexed = pd.DataFrame({"a": [1, 2]}, index=["r1", "r2"])
        self.assertEqual(self.rows(indexed), b"1\n2\n")

    def test_file_name_bytes_survive(self):
        name = os.fsdecode(b"/data/\xff.png")
        self.assertEqual(self.rows([name]), b"/data/\xff.png\n")

    def test_other_types_are_refused(self):
        for value, what in ((None, "None"), ("text", "a str"), (3, "a int"), ({"a": 1}, "a dict")):
            (status, _, returned, category, message), data = self.run_worker(value)
            self.assertEqual((status, returned, category), (wd.RUN_INVALID_RETURN, 0, "InvalidReturn"))
            self.assertEqual(message, "run() returned %s; it must return a list, tuple or "
                             "pandas.DataFrame with one element per successful item" % what)
            self.assertIsNone(data)
        self.assertEqual(os.listdir(self.parts), [])

    def test_the_part_file_is_named_by_mini_batch_and_attempt(self):
        (status, total, returned, _, _), data = self.run_worker(["row"], 17, 2, ["a", "b"])
        self.assertEqual((status, total, returned), (wd.RUN_DONE, 2, 1))
        self.assertEqual(data, b"row\n")
        self.assertEqual(os.listdir(self.parts), ["17.2.rows"])  # no temporary file left

    def test_a_failed_write_leaves_no_file(self):
        class Bad:
            def __str__(self):
                raise ValueError("no text")

        (status, _, _, category, message), data = self.run_worker(["good", Bad()])
        self.assertEqual((status, category, message), (wd.RUN_EXCEPTION, "ValueError",
                                                       "ValueError: no text"))
        self.assertEqual(os.listdir(self.parts), [])

    def test_an_unwritable_folder_names_the_part(self):
        os.rmdir(self.parts)
        (status, _, _, category, message), _ = self.run_worker(["row"], 3, 1)
        path = os.path.join(self.parts, "3.1.rows")
        self.assertEqual((status, category), (wd.RUN_EXCEPTION, "OutputError"))
        self.assertEqual(message, "OutputError: append_row: cannot write the rows of mini-batch 3 "
                         "to %s: [Errno 2] No such file or directory: '%s.tmp-%d'"
                         % (path, path, os.getpid()))


class PreflightTest(TempDirTest):
    """The driver's `check-tabular`, run as the binary runs it (python -c SOURCE)."""

    def run_check(self, *python_flags):
        with open(DRIVER_PATH, encoding="utf-8") as f:
            source = f.read()
        out = subprocess.run([sys.executable] + list(python_flags) + ["-c", source, "check-tabular"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return json.loads(out.stdout)

    @NEED_PANDAS
    def test_pandas_present(self):
        result = self.run_check()
        self.assertEqual(result, {"ok": True, "message": "", "executable": sys.executable,
                                  "pandas": pd.__version__,
                                  "pyarrow": pyarrow.__version__ if HAVE_PYARROW else None})

    def test_pandas_missing_names_the_interpreter(self):
        # -S: no site-packages, so no pandas (nor pyarrow) to be found.
        result = self.run_check("-S")
        self.assertEqual(result, {
            "ok": False, "executable": sys.executable, "pandas": None, "pyarrow": None,
            "message": "pandas is needed for tabular input, but %s cannot import it "
                       "(ModuleNotFoundError: No module named 'pandas'); install it with: "
                       "%s -m pip install pandas" % (sys.executable, sys.executable)})


if __name__ == "__main__":
    unittest.main()
