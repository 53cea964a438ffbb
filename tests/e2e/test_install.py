"""`cmake --install` for packagers: the command, its man page made from its
help, and bash/zsh completion that asks the installed command for its
options."""
import os
import shutil
import subprocess
import tempfile
import unittest

PARALLELRUN = os.environ.get("PARALLELRUN", "")
BUILD = os.path.dirname(PARALLELRUN)


class InstallTree(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.prefix = tempfile.mkdtemp(prefix="parallelrun-install-")
        cls.install = subprocess.run(["cmake", "--install", BUILD, "--prefix", cls.prefix],
                                     capture_output=True, text=True, timeout=300)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.prefix, ignore_errors=True)

    def path(self, relative):
        return os.path.join(self.prefix, relative)

    def test_installs_the_command_man_page_and_completions(self):
        self.assertEqual(self.install.returncode, 0, self.install.stderr)
        exe = self.path("bin/parallelrun")
        self.assertTrue(os.access(exe, os.X_OK), exe)
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith("parallelrun "), out.stdout)
        for f in ("share/man/man1/parallelrun.1", "share/bash-completion/completions/parallelrun",
                  "share/zsh/site-functions/_parallelrun"):
            self.assertTrue(os.path.isfile(self.path(f)), f)

    def test_the_man_page_is_the_help_text_in_roff(self):
        with open(self.path("share/man/man1/parallelrun.1"), encoding="utf-8") as f:
            page = f.read()
        self.assertTrue(page.startswith(".TH PARALLELRUN 1 "), page[:80])
        self.assertIn(".SH EXIT STATUS", page)
        # Every setting of `run` is on the page, as the help has it.
        self.assertIn("--mini-batch-size", page)
        self.assertIn("--error-threshold", page)
        # No line of the help may be read as a roff request.
        body = page.split(".nf\n", 1)[1].split("\n.fi\n", 1)[0]
        for line in body.splitlines():
            self.assertFalse(line.startswith((".", "'")), line)
        man = shutil.which("man")
        if man:
            text = subprocess.run([man, "-l", self.path("share/man/man1/parallelrun.1")],
                                  capture_output=True, text=True, timeout=60,
                                  env=dict(os.environ, MANPAGER="cat", PAGER="cat",
                                           MANWIDTH="100"))
            self.assertEqual(text.returncode, 0, text.stderr)
            self.assertIn("--mini-batch-size", text.stdout)

    def complete(self, words):
        """What bash completion offers for the command line `words` (the last
        one is being typed)."""
        script = (
            'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); '
            '_parallelrun; printf "%s\\n" "${COMPREPLY[@]}"')
        words = [self.path("bin/parallelrun")] + words
        out = subprocess.run(["bash", "-c", script, "complete",
                              self.path("share/bash-completion/completions/parallelrun")] + words,
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.split()

    def test_bash_completes_subcommands_and_the_commands_own_options(self):
        self.assertEqual(self.complete(["va"]), ["validate"])
        self.assertEqual(self.complete(["run", "--mini-batch-s"]), ["--mini-batch-size"])
        self.assertIn("--rerun-failed", self.complete(["resume", "--re"]))
        self.assertEqual(sorted(self.complete(["run", "--progress", ""])),
                         ["auto", "bar", "none", "plain"])


if __name__ == "__main__":
    unittest.main()
