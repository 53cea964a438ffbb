"""bench/peers.sh on a few files: a peer that its Python cannot import is
skipped and said so in the table, and the runners that can run still do."""
import os
import re
import shutil
import subprocess
import sys

from helpers import E2ETestCase, SOURCE_DIR

PEERS_SH = SOURCE_DIR / "bench" / "peers.sh"
HARNESS = SOURCE_DIR.parent / "shared" / "bench" / "peers.py"


class PeersScript(E2ETestCase):
    def setUp(self):
        super().setUp()
        if not HARNESS.is_file():
            self.skipTest("SKIPPED: no peer harness at %s (shared/ beside the checkout)" % HARNESS)

    def test_a_peer_that_is_not_installed_is_skipped_in_the_table(self):
        # A venv without pip and without the system's packages: it has neither
        # Dask nor Ray, whatever this machine has installed.
        venv = self.tmp / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                       check=True, timeout=60)
        data = self.tmp / "files"
        subprocess.run([sys.executable, str(HARNESS), "gen", str(data), "40"],
                       check=True, timeout=60)
        env = dict(os.environ, BENCH_PYTHON=str(venv / "bin" / "python"), REPS="1",
                   MBS="10", OUT=str(self.tmp / "out"))
        run = subprocess.run(["bash", str(PEERS_SH), self.parallelrun, str(data)], env=env,
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        table = run.stdout.split("\nNo-op workload, 40 files", 1)[1]
        self.assertIn("| 10 | dask | | | | | skipped: dask not installed |", table)
        self.assertIn("| 10 | ray | | | | | skipped: ray not installed |", table)
        measured = r"\| 10 \| %s \| [0-9.]+ \| [0-9.]+–[0-9.]+ \| [0-9]+ \| %s \|  \|"
        self.assertRegex(table, measured % ("parallelrun", ""))
        self.assertRegex(table, measured % ("mpool", r"[0-9.]+×"))
        if shutil.which("parallel"):
            self.assertRegex(table, measured % ("gnuparallel", r"[0-9.]+×"))
        else:
            self.assertIn("| 10 | gnuparallel | | | | | skipped: GNU parallel not installed |",
                          table)
        self.assertNotIn("nan", table)
        self.assertTrue(re.search(r"^python 3\.\d+\.\d+ \(%s\)" % re.escape(env["BENCH_PYTHON"]),
                                  table, re.M), table)
