"""The README's quick start with the installed wheel: the bundled batch_score
example through the `parallelrun` command and through parallelrun.run()."""
import os
import subprocess
import sys

import parallelrun

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "examples", "batch_score")


def make_data(where):
    subprocess.run([sys.executable, os.path.join(EXAMPLE, "make_data.py"), "40", str(where)],
                   check=True, capture_output=True, timeout=120)


def scores(out):
    lines = []
    for name in sorted(os.listdir(out)):
        if name.startswith("scores_"):
            with open(os.path.join(out, name)) as f:
                lines += f.read().splitlines()
    return sorted(lines)


def test_batch_score_with_the_command_and_with_python_gives_the_same_scores(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")  # nothing into the source tree
    make_data(tmp_path)
    spec = os.path.join(EXAMPLE, "component.yaml")
    exe = os.path.join(os.path.dirname(sys.executable), "parallelrun")
    cli = subprocess.run([exe, "run", spec, "-i", "images_to_score=images",
                          "-i", "trained_model=model", "-o", "scored_dataset=out-cli",
                          "--progress", "none"], capture_output=True, text=True, timeout=300)
    assert cli.returncode == 0, cli.stderr
    job = parallelrun.run(spec, inputs={"images_to_score": "images", "trained_model": "model"},
                          outputs={"scored_dataset": "out-py"}, progress="none")
    assert job.ok, job.message
    assert job.counts["items"] == 40 and job.counts["items_succeeded"] == 40
    from_cli, from_py = scores("out-cli"), scores("out-py")
    assert len(from_cli) == 40
    assert from_cli == from_py
