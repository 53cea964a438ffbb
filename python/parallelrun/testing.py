"""Unit tests for entry scripts: run one in this process as a worker would.

    from parallelrun.testing import run_entry_script

    def test_scores_each_file(tmp_path):
        (tmp_path / "a.txt").write_text("hello")
        rows = run_entry_script("score.py", [str(tmp_path / "a.txt")], args=["--threshold", "3"])
        assert rows == ["a.txt,5"]

run_entry_script imports the script with its folder on sys.path and
sys.argv = [script] + args, as a worker does, calls init(), run(mini_batch)
(with a mini_batch_context when run() takes one) and shutdown(), and returns
what run() returned. Exceptions from the script propagate, so a test sees
its traceback; a return value the job would refuse (not a list, tuple or
DataFrame) raises TypeError with the job's own message. EntryScript() inside
the script has a logger (to stderr, or `log_file`) and an output_dir
(`output_dir`, else a new scratch folder, also in AZUREML_BI_OUTPUT_PATH).
Everything it changed (sys.argv, sys.path, the environment, EntryScript's
state) is put back afterwards. The code that does it is the workers' own
(parallelrun._worker_driver), not a copy.
"""
import os
import sys
import tempfile

from . import _worker_driver as _driver

__all__ = ["run_entry_script"]


def run_entry_script(script, mini_batch, args=(), output_dir=None, partition=None,
                     log_file=None, logging_level="INFO"):
    """Runs `script`'s init(), run(mini_batch) and shutdown(); returns what run() returned.

    mini_batch: what run() gets — a list of file paths for a folder input, a
    pandas DataFrame for a table. args: the entry script's arguments (a job
    passes the spec's args and the predefined ones such as --mini_batch_size).
    partition: {key: value}, the mini_batch_context's partition_key_value.
    """
    if isinstance(args, str):
        raise TypeError("args must be a list of arguments, e.g. ['--threshold', '3']")
    script = os.path.abspath(os.fspath(script))
    if not os.path.isfile(script):
        raise FileNotFoundError("entry script %s: No such file" % script)
    out = os.fspath(output_dir) if output_dir else tempfile.mkdtemp(prefix="parallelrun-output-")
    os.makedirs(out, exist_ok=True)
    saved_config = dict(_driver._CONFIG)
    saved_instance = _driver.EntryScript._instance
    saved_argv, saved_path = list(sys.argv), list(sys.path)
    saved_env = os.environ.get("AZUREML_BI_OUTPUT_PATH")
    config = {"entry_script": script, "argv": [str(a) for a in args], "output_dir": out,
              "logging_level": logging_level}
    if log_file:
        config["entry_log"] = os.path.abspath(os.fspath(log_file))
    _driver._CONFIG.clear()
    _driver._CONFIG.update(config)
    _driver.EntryScript._instance = None
    os.environ["AZUREML_BI_OUTPUT_PATH"] = out
    logger_handlers = list(_logger().handlers)
    try:
        folder = os.path.dirname(script)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        sys.argv = [script] + config["argv"]
        module = _driver._import_entry_script(script)
        if not callable(getattr(module, "run", None)):
            raise AttributeError("the entry script %s does not define run(mini_batch)" % script)
        if callable(getattr(module, "init", None)):
            module.init()
        call = (mini_batch,)
        if _driver._takes_context(module.run, required=True) or (
                partition is not None and _driver._takes_context(module.run, required=False)):
            call = (mini_batch, _driver._Context(partition or {}, mini_batch, 0))
        try:
            value = module.run(*call)
        finally:
            if callable(getattr(module, "shutdown", None)):
                module.shutdown()
        invalid = _driver._invalid_return(value)
        if invalid is not None:
            raise TypeError(invalid)
        return value
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
        if saved_env is None:
            os.environ.pop("AZUREML_BI_OUTPUT_PATH", None)
        else:
            os.environ["AZUREML_BI_OUTPUT_PATH"] = saved_env
        logger = _logger()
        for handler in list(logger.handlers):
            if handler not in logger_handlers:
                logger.removeHandler(handler)
                handler.close()
        _driver._CONFIG.clear()
        _driver._CONFIG.update(saved_config)
        _driver.EntryScript._instance = saved_instance


def _logger():
    import logging
    return logging.getLogger("parallelrun.entry_script")
