"""Python-level tests of lib/node/worker_driver.py's decoders: START as
lib/node/worker_protocol.h lays it out (WorkerStart, fixed field order) and
RUN's mini-batch as lib/base/mini_batch_codec.h does, refused with the same
reasons the C++ decoders give (tests/mini_batch_codec_test.cc,
tests/worker_protocol_test.cc): the field, what is wrong, and the offset.
"""
import importlib.util
import os
import struct
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


def mini_batch(kind=2, partition=((b"k", b"v"),), known_rows=0, items=(b"\xff",)):
    out = struct.pack("<QIIB", 7, 3, 2, kind) + struct.pack("<I", len(partition))
    for key, value in partition:
        out += field(key) + field(value)
    out += struct.pack("<QI", known_rows, len(items)) + b"".join(field(i) for i in items)
    return out


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
    """The reasons match tests/mini_batch_codec_test.cc's, prefixed RUN."""

    def reason(self, payload):
        with self.assertRaises(wd.ProtocolError) as cm:
            wd._run_malformed(payload)
        return str(cm.exception)

    def test_reasons_name_the_field_and_its_offset(self):
        whole = mini_batch()
        self.assertEqual(len(whole), 48)
        self.assertEqual(self.reason(b""),
                         "RUN: mini_batch_id at byte 0: payload ends after 0 of its 8 bytes")
        self.assertEqual(self.reason(whole[:25]),
                         "RUN: partition keys at byte 17: 1 cannot fit in the 4 bytes that follow")
        self.assertEqual(self.reason(whole[:29]),
                         "RUN: partition value at byte 26: payload ends after 3 of the 4 bytes "
                         "of its length")
        self.assertEqual(self.reason(whole[:35]),
                         "RUN: known_rows at byte 31: payload ends after 4 of its 8 bytes")
        self.assertEqual(self.reason(whole[:47]),
                         "RUN: item at byte 43: length 1, but 0 bytes follow")
        self.assertEqual(self.reason(whole + b"x"),
                         "RUN: 1 bytes left over after the last field (at byte 48)")
        self.assertEqual(self.reason(mini_batch(kind=4)),
                         "RUN: kind at byte 16: 4 is not a mini-batch kind")

    def test_every_truncation_has_a_reason(self):
        whole = mini_batch(partition=((b"country", b"C\xf4te"), (b"", b"")),
                           known_rows=5, items=(b"a\nb", b"", b"\xff\xfe"))
        for n in range(len(whole)):
            with self.subTest(n=n):
                self.assertRegex(self.reason(whole[:n]), r"^RUN: [\w ]+ at byte \d+: ")


if __name__ == "__main__":
    unittest.main()
