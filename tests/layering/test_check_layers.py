"""The layering check fails on what it is there to catch: a copy of lib/ with
one planted upward include, one planted cycle, one include without its
folder; and passes on the real lib/."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("PARALLELRUN_SOURCE_DIR", os.path.join(HERE, "..", ".."))
CHECK = os.path.join(HERE, "check_layers.py")


class LayeringCheckTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="layering-")
        self.lib = os.path.join(self.tmp, "lib")
        shutil.copytree(os.path.join(SOURCE, "lib"), self.lib)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_check(self):
        p = subprocess.run([sys.executable, CHECK, self.lib], capture_output=True, text=True)
        return p.returncode, p.stdout

    def plant(self, path, line):
        full = os.path.join(self.lib, path)
        with open(full, encoding="utf-8") as f:
            text = f.read()
        # After the file's first include, so that it is a real include line.
        at = text.index("#include")
        with open(full, "w", encoding="utf-8") as f:
            f.write(text[:at] + line + "\n" + text[at:])

    def test_the_real_lib_passes(self):
        code, out = self.run_check()
        self.assertEqual(code, 0, out)
        self.assertIn("every include points down the layers", out)

    def test_an_upward_include_fails_naming_file_and_line(self):
        self.plant("base/wire.cc", '#include "master/master.h"')
        code, out = self.run_check()
        self.assertEqual(code, 1)
        self.assertIn("lib/base/wire.cc:1: base includes master/master.h, a layer above it", out)

    def test_a_cycle_fails(self):
        # data/batcher.h already is included by data/input_source.h.
        self.plant("data/batcher.h", '#include "data/input_source.h"')
        code, out = self.run_check()
        self.assertEqual(code, 1)
        self.assertIn("include cycle: ", out)
        self.assertIn("data/batcher", out)

    def test_an_include_without_its_folder_fails(self):
        self.plant("data/batcher.cc", '#include "wire.h"')
        code, out = self.run_check()
        self.assertEqual(code, 1)
        self.assertIn('include "wire.h" without its folder', out)

    def test_a_folder_outside_the_layers_fails(self):
        os.mkdir(os.path.join(self.lib, "util"))
        with open(os.path.join(self.lib, "util", "x.h"), "w") as f:
            f.write("// x\n")
        code, out = self.run_check()
        self.assertEqual(code, 1)
        self.assertIn("folder 'util' is not in the layer list", out)


if __name__ == "__main__":
    unittest.main()
