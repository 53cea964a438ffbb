"""Python-level tests of lib/node/worker_driver.py's decoders: START as
lib/node/worker_protocol.h lays it out (WorkerStart, fixed field order) and
RUN's mini-batch (its items joined by NUL, or one field each), refused with
the reasons the C++ decoders give (tests/mini_batch_codec_test.cc,
tests/worker_protocol_test.cc): the field, what is wrong, and the offset.
"""
import importlib.util
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import unittest

SOURCE_DIR = os.environ.get("PARALLELRUN_SOURCE_DIR",
                            os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DRIVER_PATH = os.path.join(SOURCE_DIR, "lib", "node", "worker_driver.py")


def _load_driver():
    spec = importlib.util.spec_from_file_location("worker_driver_under_test", DRIVER_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


wd = _load_driver()


def field(data):
    return struct.pack("<I", len(data)) + data


def start_payload(append_row=b"/job/parts", tabular=1, partitioned=0, version=None, gpu=b"1"):
    out = struct.pack("<I", wd.PROTOCOL_VERSION if version is None else version)
    out += field(b"/src/score.py") + field(b"/src") + field(b"/out\xff") + field(b"DEBUG")
    argv = [b"--model", b"x y\n\0z", b""]
    out += struct.pack("<I", len(argv)) + b"".join(field(a) for a in argv)
    out += bytes([1]) + field(append_row) if append_row is not None else bytes([0])
    out += bytes([tabular, partitioned])
    for value in (b"process003", b"1", b"/logs/o", b"/logs/e", b"/logs/x", b"/logs"):
        out += field(value)
    out += bytes([7]) + field(b"cProfile") + field(b"/logs/p.profile")
    out += bytes([1]) + field(gpu) if gpu is not None else bytes([0])
    return out


def mini_batch(kind=2, partition=((b"k", b"v"), ), known_rows=0, items=(b"\xff",), joined=None,
               count=None):
    """RUN's payload as EncodeRun lays it out: joined unless an item holds a
    NUL (`joined` and `count` force another value)."""
    out = struct.pack("<QIIB", 7, 3, 2, kind) + struct.pack("<I", len(partition))
    for key, value in partition:
        out += field(key) + field(value)
    if joined is None:
        joined = 0 if any(b"\0" in i for i in items) else 1
    out += struct.pack("<QIB", known_rows, len(items) if count is None else count, joined)
    if joined == 1:
        return out + field(b"\0".join(items))
    return out + b"".join(field(i) for i in items)


class DecodeStartTest(unittest.TestCase):

    def test_every_field(self):
        config = wd._decode_start(start_payload())
        self.assertEqual(config, {
            "entry_script": "/src/score.py", "code_dir": "/src",
            "output_dir": os.fsdecode(b"/out\xff"), "logging_level": "DEBUG",
            "argv": ["--model", "x y\n\0z", ""], "append_row_dir": "/job/parts",
            "tabular": True, "partitioned": False, "process_name": "process003",
            "node_id": "1", "stdout_log": "/logs/o", "error_log": "/logs/e",
            "entry_log": "/logs/x", "log_dir": "/logs", "nice": 7, "profiling_module": "cProfile",
            "profile_path": "/logs/p.profile", "cuda_visible_devices": "1"})
        self.assertIsNone(wd._decode_start(start_payload(append_row=None))["append_row_dir"])
        self.assertIsNone(wd._decode_start(start_payload(gpu=None))["cuda_visible_devices"])

    def test_another_version_is_refused(self):
        with self.assertRaises(wd.ProtocolError) as cm:
            wd._decode_start(start_payload(version=2))
        self.assertEqual(str(cm.exception),
                         "agent speaks protocol 2, this driver %d" % wd.PROTOCOL_VERSION)

    def test_a_missing_field_is_refused_at_every_byte(self):
        payload = start_payload()
        for n in range(len(payload)):
            with self.subTest(n=n), self.assertRaises(wd.ProtocolError) as cm:
                wd._decode_start(payload[:n])
            self.assertRegex(str(cm.exception), r"^START: \w+ at byte \d+: ")
        with self.assertRaises(wd.ProtocolError) as cm:
            wd._decode_start(payload[:-1])
        self.assertEqual(str(cm.exception),
                         "START: cuda_visible_devices at byte %d: length 1, but 0 bytes follow"
                         % (len(payload) - 5))

    def test_an_unknown_field_is_refused(self):
        payload = start_payload()
        with self.assertRaises(wd.ProtocolError) as cm:
            wd._decode_start(payload + field(b"extra"))
        self.assertEqual(str(cm.exception),
                         "START: 9 bytes left over after the last field (at byte %d)"
                         % len(payload))

    def test_a_bool_other_than_0_or_1_is_refused(self):
        payload = start_payload(append_row=None, tabular=2)
        with self.assertRaises(wd.ProtocolError) as cm:
            wd._decode_start(payload)
        at = payload.index(b"\x00\x02\x00") + 1
        self.assertEqual(str(cm.exception), "START: tabular at byte %d: 2 is not 0 or 1" % at)


class RunMalformedTest(unittest.TestCase):
    """The reasons read as WireFields gives them (lib/base/wire.h), prefixed RUN;
    up to known_rows the same as tests/mini_batch_codec_test.cc's."""

    def reason(self, payload):
        with self.assertRaises(wd.ProtocolError) as cm:
            wd._decode_run(payload)
        return str(cm.exception)

    def test_reasons_name_the_field_and_its_offset(self):
        whole = mini_batch()
        self.assertEqual(len(whole), 49)
        self.assertEqual(self.reason(b""),
                         "RUN: mini_batch_id at byte 0: payload ends after 0 of its 8 bytes")
        self.assertEqual(self.reason(whole[:25]),
                         "RUN: partition keys at byte 17: 1 cannot fit in the 4 bytes that follow")
        self.assertEqual(self.reason(whole[:29]),
                         "RUN: partition value at byte 26: payload ends after 3 of the 4 bytes "
                         "of its length")
        self.assertEqual(self.reason(whole[:35]),
                         "RUN: known_rows at byte 31: payload ends after 4 of its 8 bytes")
        self.assertEqual(self.reason(whole[:43]),
                         "RUN: joined at byte 43: payload ends after 0 of its 1 bytes")
        self.assertEqual(self.reason(whole[:48]),
                         "RUN: joined items at byte 44: length 1, but 0 bytes follow")
        self.assertEqual(self.reason(whole + b"x"),
                         "RUN: 1 bytes left over after the last field (at byte 49)")
        self.assertEqual(self.reason(mini_batch(kind=4)),
                         "RUN: kind at byte 16: 4 is not a mini-batch kind")
        self.assertEqual(self.reason(mini_batch(joined=2)),
                         "RUN: joined at byte 43: 2 is not 0 or 1")

    def test_the_block_must_hold_exactly_n_items(self):
        for items, count, held in (((b"a", b"b"), 3, 2), ((b"a", b"b"), 1, 2), ((b"x",), 0, 1),
                                   ((b"", b""), 1, 2), ((b"", b""), 0, 2)):
            with self.subTest(items=items, count=count):
                self.assertEqual(self.reason(mini_batch(kind=0, items=items, count=count)),
                                 "RUN: joined items at byte 44: holds %d items, not %d"
                                 % (held, count))

    def test_items_one_by_one_only_when_one_holds_a_nul(self):
        self.assertEqual(self.reason(mini_batch(items=(b"a", b"b"), joined=0)),
                         "RUN: joined at byte 43: 0, but no item holds a NUL byte")
        self.assertEqual(self.reason(mini_batch(items=(b"a\0",))[:-1]),
                         "RUN: item at byte 44: length 2, but 1 bytes follow")

    def test_every_truncation_has_a_reason(self):
        for items in ((b"a\nb", b"", b"\xff\xfe"), (b"a\0b", b"", b"\xff")):
            whole = mini_batch(partition=((b"country", b"C\xf4te"), (b"", b"")),
                               known_rows=5, items=items)
            for n in range(len(whole)):
                with self.subTest(items=items, n=n):
                    self.assertRegex(self.reason(whole[:n]), r"^RUN: [\w ]+ at byte \d+: ")

    def test_any_mutation_decodes_or_says_why(self):
        rng = random.Random(13)
        wholes = [mini_batch(kind=k, items=items) for k in range(4)
                  for items in ((b"a", b"\xc3\xa4", b""), (b"a\0", b"b"), ())]
        for _ in range(3000):
            payload = bytearray(rng.choice(wholes))
            for _ in range(rng.randint(1, 3)):
                payload[rng.randrange(len(payload))] = rng.choice((0, 1, 2, 255, rng.randrange(256)))
            try:
                wd._decode_run(bytes(payload))
            except wd.ProtocolError as exc:
                self.assertRegex(str(exc), r"^RUN: ")


def random_path(rng):
    """Bytes a Linux file name may hold (any but NUL), with the pieces that
    trouble decoders: cut and invalid UTF-8 sequences, surrogates' encodings,
    newlines."""
    pieces = [b"a", b" ", b"\n", b"\xff", b"\x80", b"\xc3", b"\xc3\xa4", b"\xe2\x82",
              b"\xe2\x82\xac", b"\xf0\x9f\x98", b"\xed\xb2\x80", b"\x01", b"/"]
    return b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))


class DecodeRunTest(unittest.TestCase):

    def test_joined_paths_decode_as_each_alone(self):
        rng = random.Random(5)
        for _ in range(2000):
            items = [random_path(rng) for _ in range(rng.randint(0, 5))]
            with self.subTest(items=items):
                payload = mini_batch(kind=wd.FILES, partition=(), items=items)
                self.assertEqual(payload[33], 1)  # joined
                _, _, kind, _, got = wd._decode_run(payload)
                self.assertEqual(got, [os.fsdecode(i) for i in items])
                self.assertEqual([os.fsencode(p) for p in got], items)

    def test_both_forms_for_every_kind(self):
        joined = (b"/d/\xff a", b"", b"/d/new\nline")
        one_by_one = (b"\x01\0\x02", b"", b"/d/\xff")
        for kind in range(4):
            for items in (joined, one_by_one, ()):
                with self.subTest(kind=kind, items=items):
                    batch_id, attempt, got_kind, partition, got = wd._decode_run(
                        mini_batch(kind=kind, items=items))
                    self.assertEqual((batch_id, attempt, got_kind, partition), (7, 3, kind, {"k": "v"}))
                    if kind in wd.TABULAR_KINDS:
                        self.assertEqual(got, list(items))
                    else:
                        self.assertEqual(got, [os.fsdecode(i) for i in items])


def run_python(pieces, *argv):
    """stdout of a fresh interpreter (this one) running the pieces of code,
    with the driver's path as DRIVER."""
    code = ("import sys\nBEFORE = set(sys.modules)\nDRIVER = %r\n" % DRIVER_PATH +
            "".join(textwrap.dedent(p) for p in pieces))
    out = subprocess.run([sys.executable, "-c", code] + list(argv),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if out.returncode != 0:
        raise AssertionError("python failed: %s" % out.stderr.decode(errors="replace"))
    return out.stdout.decode()


class LazyImportsTest(unittest.TestCase):
    """The driver's own start and its import of a no-op entry script import
    neither logging nor traceback nor signal (enum) nor importlib.util
    (contextlib): they cost more than Python's start, on every job's
    critical path (issue 13). The root logger's handler still comes with the
    first import of logging, before the importer's next line."""

    # As the bootstrap runs it, with sys.argv[1:] the driver's arguments.
    LOAD = """
        source = open(DRIVER, encoding="utf-8").read()
        d = {"__name__": "parallelrun_driver"}
        exec(compile(source, DRIVER, "exec"), d)
        """

    def test_starting_the_driver_imports_none_of_them(self):
        script = os.path.join(tempfile.mkdtemp(prefix="driver-imports-"), "noop_entry.py")
        self.addCleanup(shutil.rmtree, os.path.dirname(script))
        for mode in ("worker", "zygote"):
            with self.subTest(mode=mode):
                out = run_python([self.LOAD, """
                    heavy = ("logging", "traceback", "signal", "enum", "re", "threading",
                             "importlib.util", "contextlib")
                    open(sys.argv[2], "w").write("def run(mini_batch):\\n    return mini_batch\\n")
                    d["_import_entry_script"](sys.argv[2])
                    # What the interpreter's own start imported (a venv's .pth
                    # files may bring re or enum) is not the driver's doing.
                    print(" ".join(m for m in heavy if m in sys.modules and m not in BEFORE))
                    """], mode, script)
                self.assertEqual(out.strip(), "")

    def test_the_zygote_imports_none_of_them_up_to_its_prepare(self):
        # Its check, then what it readies for the workers while the agent
        # sets the job up: `array` pulled collections (~2 ms) before the
        # check, ctypes 2-3 ms after it.
        script = os.path.join(tempfile.mkdtemp(prefix="zygote-imports-"), "noop_entry.py")
        self.addCleanup(shutil.rmtree, os.path.dirname(script))
        with open(script, "w") as f:
            f.write("def run(mini_batch):\n    return mini_batch\n")
        out = run_python([self.LOAD, """
            import socket
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            os = d["os"]
            os.dup2(theirs.fileno(), 0)
            theirs.close()
            loaded = set(sys.modules)
            ours.shutdown(socket.SHUT_WR)  # no PREPARE: it returns after its check
            code = d["zygote_main"](sys.argv[1])
            check = ours.recv(1 << 16)
            heavy = ("array", "collections", "ctypes", "logging", "traceback", "enum", "re")
            print(code, check[:1].hex(), b'"ok": true' in check.replace(b'"ok":true', b'"ok": true'),
                  callable(d["_PRELOADED"].get("pdeathsig")),
                  " ".join(m for m in heavy if m in sys.modules and m not in loaded))
            """], script)
        self.assertEqual(out.strip(), "0 40 True True")

    def test_the_pdeathsig_setter_works_with_and_without_ctypes_private_calls(self):
        for without in (False, True):
            with self.subTest(without_call_function=without):
                out = run_python([self.LOAD, """
                    import _ctypes
                    if sys.argv[1] == "1":
                        del _ctypes.call_function  # as on a Python without it
                    d["_pdeathsig_setter"]()()
                    import ctypes
                    value = ctypes.c_int()
                    ctypes.CDLL(None).prctl(2, ctypes.byref(value))  # PR_GET_PDEATHSIG
                    print(value.value, "ctypes" in d["sys"].modules)
                    """], "1" if without else "0")
                self.assertEqual(out.strip(), "9 True")

    def test_the_root_handler_comes_with_the_first_import_of_logging(self):
        out = run_python([self.LOAD, """
            import io
            stream = io.StringIO()
            d["_LoggingImportHook"].configure_root(stream, "DEBUG")
            assert "logging" not in sys.modules
            import logging.handlers
            logging.basicConfig(level=logging.ERROR)  # a handler is there: does nothing
            logging.getLogger("user").debug("one")
            assert logging.__spec__.loader is logging.__loader__
            assert type(logging.__loader__).__name__ == "SourceFileLoader"
            assert not any(type(f).__name__ == "_LoggingImportHook" for f in sys.meta_path)
            print(len(logging.getLogger().handlers), logging.getLogger().level)
            print(stream.getvalue().split("|", 1)[1], end="")
            """])
        self.assertEqual(out, "1 10\nDEBUG|user|one\n")

    def test_the_root_handler_at_once_when_logging_is_imported(self):
        out = run_python(["""
            import io, logging
            """, self.LOAD, """
            stream = io.StringIO()
            d["_LoggingImportHook"].configure_root(stream, "WARNING")
            logging.getLogger("user").info("hidden")
            logging.getLogger("user").warning("two")
            print(stream.getvalue().split("|", 1)[1], end="")
            """])
        self.assertEqual(out, "WARNING|user|two\n")


if __name__ == "__main__":
    unittest.main()
