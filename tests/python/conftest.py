"""Fixtures of the Python package's tests (run by scripts/python-tests in a
venv where the wheel is installed: `import parallelrun` must find the
installed package, never the source tree)."""
import os
import sys
import textwrap

import pytest

SPEC = """\
$schema: https://azuremlschemas.azureedge.net/latest/parallelJob.schema.json
type: parallel
name: sizes
inputs:
  data: {type: uri_folder}
outputs:
  sizes: {type: uri_folder}
input_data: ${{inputs.data}}
mini_batch_size: "2"
max_concurrency_per_instance: 2
error_threshold: -1
task:
  type: run_function
  code: .
  entry_script: score.py
  append_row_to: ${{outputs.sizes}}
"""

SCORE = """\
import os
import sys

from azureml_user.parallel_run import EntryScript


def init():
    EntryScript().logger.info("init in %s", sys.executable)
    # Written whole or not at all: a worker still in init() when the work
    # runs out is stopped, and must not leave a half-written file.
    path = os.path.join(EntryScript().output_dir, "python-%d.txt" % os.getpid())
    with open(path + ".tmp", "w") as f:
        f.write(sys.executable)
    os.replace(path + ".tmp", path)


def run(mini_batch):
    rows = []
    for path in mini_batch:
        if os.path.basename(path).startswith("bad"):
            raise ValueError("cannot score " + os.path.basename(path))
        rows.append("%s,%d" % (os.path.basename(path), os.path.getsize(path)))
    return rows
"""


class Project:
    """A job folder: job.yaml, score.py and data/ with `files` files."""

    def __init__(self, root, files=4, bad=0, score=SCORE):
        self.root = root
        self.spec = os.path.join(root, "job.yaml")
        self.data = os.path.join(root, "data")
        self.out = os.path.join(root, "out")
        os.makedirs(self.data)
        with open(self.spec, "w") as f:
            f.write(SPEC)
        with open(os.path.join(root, "score.py"), "w") as f:
            f.write(textwrap.dedent(score))
        for i in range(files):
            with open(os.path.join(self.data, "f%d.txt" % i), "w") as f:
                f.write("x" * (i + 1))
        for i in range(bad):
            with open(os.path.join(self.data, "bad%d.txt" % i), "w") as f:
                f.write("bad")


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARALLELRUN_PYTHON", raising=False)
    return Project(str(tmp_path))


@pytest.fixture
def make_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PARALLELRUN_PYTHON", raising=False)
    made = []

    def make(**kwargs):
        root = os.path.join(str(tmp_path), "p%d" % len(made))
        os.makedirs(root)
        made.append(Project(root, **kwargs))
        return made[-1]

    return make


def pytest_report_header(config):
    import parallelrun
    return "parallelrun %s from %s (python %s)" % (
        parallelrun.__version__, os.path.dirname(parallelrun.__file__), sys.executable)
