"""Entry scripts unit-tested outside a job: EntryScript, the azureml_user
shim and parallelrun.testing.run_entry_script."""
import os
import sys
import tempfile
import textwrap

import pytest

import parallelrun
from parallelrun.testing import run_entry_script


@pytest.fixture(autouse=True)
def temp_folders_in_tmp_path(tmp_path, monkeypatch):
    """What run_entry_script and EntryScript().output_dir make outside a job
    when no folder is given (a fresh temporary one) goes under the test's
    tmp_path, not into the system's temp folder for good."""
    made = tmp_path / "tempfile"
    made.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(made))


def write(path, text):
    with open(path, "w") as f:
        f.write(textwrap.dedent(text))
    return str(path)


def test_entry_script_helpers_import_outside_a_job(tmp_path, capsys):
    from azureml_user.parallel_run import EntryScript as Shim
    from parallelrun import EntryScript
    assert Shim is EntryScript
    assert EntryScript() is EntryScript()  # the per-process singleton of a worker
    out = EntryScript().output_dir
    assert os.path.isdir(out)
    assert EntryScript().output_dir == out
    EntryScript().logger.info("hello from a test")
    assert "|INFO|" in capsys.readouterr().err


def test_run_entry_script_returns_what_run_returned(tmp_path):
    data = tmp_path / "a.txt"
    data.write_text("hello")
    script = write(tmp_path / "score.py", """\
        import os
        def run(mini_batch):
            return ["%s,%d" % (os.path.basename(p), os.path.getsize(p)) for p in mini_batch]
        """)
    assert run_entry_script(script, [str(data)]) == ["a.txt,5"]


def test_init_run_shutdown_args_and_output_dir(tmp_path):
    out = tmp_path / "out"
    script = write(tmp_path / "score.py", """\
        import argparse, os, sys
        from azureml_user.parallel_run import EntryScript
        calls = []
        def init():
            global threshold
            p = argparse.ArgumentParser()
            p.add_argument("--threshold", type=int)
            threshold = p.parse_known_args()[0].threshold
            calls.append("init")
            EntryScript().logger.info("init with threshold %d", threshold)
        def run(mini_batch):
            calls.append("run")
            assert os.environ["AZUREML_BI_OUTPUT_PATH"] == EntryScript().output_dir
            with open(os.path.join(EntryScript().output_dir, "seen.txt"), "w") as f:
                f.write(" ".join(sys.argv[1:]))
            return [x for x in mini_batch if x > threshold]
        def shutdown():
            calls.append("shutdown")
            with open(os.path.join(EntryScript().output_dir, "calls.txt"), "w") as f:
                f.write(",".join(calls))
        """)
    argv = list(sys.argv)
    assert run_entry_script(script, [1, 5, 9], args=["--threshold", "4"], output_dir=out) == [5, 9]
    assert (out / "seen.txt").read_text() == "--threshold 4"
    assert (out / "calls.txt").read_text() == "init,run,shutdown"
    assert sys.argv == argv
    assert "AZUREML_BI_OUTPUT_PATH" not in os.environ


def test_the_log_goes_to_log_file(tmp_path):
    script = write(tmp_path / "score.py", """\
        from parallelrun import EntryScript
        def run(mini_batch):
            EntryScript().logger.warning("scored %d", len(mini_batch))
            return mini_batch
        """)
    log = tmp_path / "entry.log"
    run_entry_script(script, ["a", "b"], log_file=log)
    assert "|WARNING|" in log.read_text() and "scored 2" in log.read_text()


def test_exceptions_propagate_and_shutdown_still_runs(tmp_path):
    out = tmp_path / "out"
    script = write(tmp_path / "score.py", """\
        import os
        from parallelrun import EntryScript
        def run(mini_batch):
            raise ValueError("bad item " + mini_batch[0])
        def shutdown():
            open(os.path.join(EntryScript().output_dir, "shutdown"), "w").close()
        """)
    with pytest.raises(ValueError, match="bad item x"):
        run_entry_script(script, ["x"], output_dir=out)
    assert (out / "shutdown").exists()


def test_a_return_value_the_job_refuses_is_a_type_error(tmp_path):
    script = write(tmp_path / "score.py", """\
        def run(mini_batch):
            return None
        """)
    with pytest.raises(TypeError, match=r"run\(\) returned None; it must return a list"):
        run_entry_script(script, ["x"])


def test_a_script_without_run_is_an_error(tmp_path):
    script = write(tmp_path / "score.py", "def init():\n    pass\n")
    with pytest.raises(AttributeError, match="does not define run"):
        run_entry_script(script, ["x"])


def test_run_with_a_context_gets_the_partition(tmp_path):
    script = write(tmp_path / "score.py", """\
        def run(mini_batch, mini_batch_context):
            return [mini_batch_context.partition_key_value["store"]] * len(mini_batch)
        """)
    assert run_entry_script(script, ["a", "b"], partition={"store": "s1"}) == ["s1", "s1"]


def test_each_call_imports_the_script_afresh(tmp_path):
    script = write(tmp_path / "score.py", """\
        count = [0]
        def run(mini_batch):
            count[0] += 1
            return count
        """)
    assert run_entry_script(script, []) == [1]
    assert run_entry_script(script, []) == [1]


def test_args_must_be_a_list(tmp_path):
    script = write(tmp_path / "score.py", "def run(mb):\n    return mb\n")
    with pytest.raises(TypeError, match="args must be a list"):
        run_entry_script(script, [], args="--threshold 3")


def test_a_missing_script_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.py"):
        run_entry_script(str(tmp_path / "nope.py"), [])


def test_entry_script_class_is_the_workers_own_code():
    # The package ships the driver the command embeds, not a copy of its class.
    from parallelrun import _worker_driver
    assert parallelrun.EntryScript is _worker_driver.EntryScript
    assert hasattr(_worker_driver, "worker_main")
