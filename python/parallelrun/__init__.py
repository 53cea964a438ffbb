"""parallelrun from Python: run a job, validate a spec, read its reports,
and unit-test an entry script.

    import parallelrun
    job = parallelrun.run("job.yaml", inputs={"data": "./data"}, mini_batch_size=10)
    job.ok, job.exit_code, job.counts, job.job_dir
    job.mini_batches()   # logs/sys/job_report/processed_mini-batches.csv as a DataFrame
    job.failures()       # its rows of attempts that did not succeed

A job runs in this process, through the same C++ code as the `parallelrun`
command (parallelrun._core): its workers are separate Python processes,
by default of this interpreter (sys.executable). Ctrl-C (or a notebook's
"interrupt kernel") stops the job as it stops the command — workers get
SIGTERM and a grace, the partial report is written — and raises
KeyboardInterrupt, whose `job` attribute is the stopped Job.

`EntryScript` is the workers' own class (the driver the command embeds);
outside a job its logger writes to stderr and output_dir is a scratch
folder. parallelrun.testing runs an entry script's init/run/shutdown in
this process for a unit test.
"""
import os
import sys

try:
    from . import _core
except ImportError as exc:  # pragma: no cover - depends on the machine
    raise ImportError(
        "parallelrun's extension module could not be loaded (%s). The wheel links Debian's "
        "shared libraries of yaml-cpp, Boost.Filesystem and fmt: on Debian 12 / Ubuntu 24.04 "
        "install them with `apt-get install libyaml-cpp0.7 libboost-filesystem1.81.0 libfmt9` "
        "(or build from source: see the README's Install section)." % exc) from exc

from ._worker_driver import EntryScript

__all__ = ["EntryScript", "Job", "JobError", "run", "resume", "validate", "report", "tune",
           "__version__"]
__version__ = _core.version

# Keyword arguments of run() that are not run settings (the command's other
# flags, by their Python names).
_OPTIONS = ("job_dir", "python", "start_method", "progress", "dry_run", "model",
            "allow_output_in_input", "set", "args", "job")


class JobError(Exception):
    """A job that could not start or did not succeed. `exit_code` is the
    command's (2 usage or spec error, 1 job failed, 3 infrastructure), `kind`
    the same as a word, and `job` the Job when one ran."""

    def __init__(self, message, exit_code, kind, job=None):
        super().__init__(message)
        self.exit_code = exit_code
        self.kind = kind
        self.job = job


class Job:
    """What a job left when it ended: its outcome, counts, job dir and reports.

    ok, exit_code (the command's), kind ("ok", "job_failed", "interrupted", …),
    message (the error, "" when ok), job_dir, counts (mini-batches and items by
    outcome, from processed_mini-batches.csv), plan (a dry run's text).
    """

    def __init__(self, outcome):
        self.kind = outcome["code"]
        self.exit_code = outcome["exit_code"]
        self.message = outcome["message"]
        self.job_dir = outcome["job_dir"] or None
        self.counts = dict(outcome["counts"])
        self.plan = outcome.get("plan", "")
        self._paths = {k: outcome.get(k) for k in (
            "processed_mini_batches_csv", "process_summary_csv", "node_summary_csv", "job_result")}

    @property
    def ok(self):
        return self.kind == "ok"

    def __repr__(self):
        return "<parallelrun.Job %s exit_code=%d job_dir=%r %s>" % (
            self.kind, self.exit_code, self.job_dir, self.counts)

    def _csv(self, key):
        path = self._paths.get(key)
        if not path:
            raise FileNotFoundError("this job has no job dir (%s): it wrote no reports" % (
                self.message or "a dry run"))
        if not os.path.exists(path):
            raise FileNotFoundError("%s: the job wrote no such report (it stopped before "
                                    "any mini-batch ended?)" % path)
        import pandas  # only when reports are read: the job itself needs no pandas
        return pandas.read_csv(path)

    def mini_batches(self):
        """processed_mini-batches.csv as a DataFrame: one row per attempt."""
        return self._csv("processed_mini_batches_csv")

    def failures(self):
        """The attempts that did not succeed (Status other than RUN_DONE),
        with their Error Category and Error Message."""
        frame = self.mini_batches()
        return frame[frame["Status"] != "RUN_DONE"].reset_index(drop=True)

    def processes(self):
        """process_summary.csv as a DataFrame: one row per worker."""
        return self._csv("process_summary_csv")

    def nodes(self):
        """node_summary.csv as a DataFrame: one row per node."""
        return self._csv("node_summary_csv")

    def result(self):
        """logs/job_result.txt: "Job succeeded." and the summary line."""
        with open(self._paths["job_result"] or "", encoding="utf-8") as f:
            return f.read()


def _pairs(what, mapping):
    if mapping is None:
        return []
    if not isinstance(mapping, dict):
        raise TypeError("%s must be a dict of name -> path, not %s" % (what, type(mapping).__name__))
    return [(str(k), os.fspath(v) if isinstance(v, os.PathLike) else str(v))
            for k, v in mapping.items()]


def _text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def _request(spec, inputs, outputs, settings, validating=False):
    """The request dict of _core from run()'s arguments; unknown keyword
    arguments are an error with a "did you mean", never ignored."""
    names = _core.setting_names()
    req = {
        "spec": os.fspath(spec),
        "inputs": _pairs("inputs", inputs),
        "outputs": _pairs("outputs", outputs),
        "settings": {},
        "environment": ["%s=%s" % kv for kv in os.environ.items()],
        "cwd": os.getcwd(),
    }
    for key, value in settings.items():
        if value is None:
            continue
        if key in ("job_dir", "python", "start_method", "progress", "model", "job"):
            req["only_job" if key == "job" else key] = _text(value)
        elif key in ("dry_run", "allow_output_in_input"):
            req[key] = bool(value)
        elif key == "set":
            if not isinstance(value, dict):
                raise TypeError("set must be a dict of YAML path -> value, e.g. "
                                "{'inputs.data.mode': 'direct'}")
            req["overrides"] = [(str(k), _text(v)) for k, v in value.items()]
        elif key == "args":
            if isinstance(value, str) or not hasattr(value, "__iter__"):
                raise TypeError("args must be a list of the entry script's arguments")
            req["args"] = [_text(a) for a in value]
        elif key in names or key.replace("-", "_") in names:
            req["settings"][key.replace("-", "_")] = _text(value)
        else:
            near = _core.suggest(key, list(names) + list(_OPTIONS))
            raise TypeError("parallelrun.%s() got an unknown keyword argument '%s'%s; run "
                            "settings are the command's (`parallelrun help run`), e.g. "
                            "mini_batch_size=10" % (
                                "validate" if validating else "run", key,
                                " (did you mean '%s'?)" % near if near else ""))
    # The workers' interpreter: this one, unless python= or PARALLELRUN_PYTHON says.
    if "python" not in req and not os.environ.get("PARALLELRUN_PYTHON") and sys.executable:
        req["python"] = sys.executable
    try:
        req["stderr_is_tty"] = bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        req["stderr_is_tty"] = False
    return req


def _write(text):
    stream = sys.stderr
    if stream is not None:
        stream.write(text)
        stream.flush()


def _finish(outcome, check):
    job = Job(outcome)
    if job.kind == "interrupted":
        exc = KeyboardInterrupt(job.message)
        exc.job = job
        raise exc
    if check and job.kind in ("usage", "infrastructure"):
        raise JobError(job.message, job.exit_code, job.kind, job if job.job_dir else None)
    return job


def run(spec, inputs=None, outputs=None, **settings):
    """Runs the spec (or pipeline) `spec` to its end, as `parallelrun run`.

    inputs / outputs: {name: path} (-i / -o). Keyword arguments: every run
    setting by its name (mini_batch_size=10, error_threshold=5,
    process_count_per_node=2, …; `parallelrun help run` lists them), and
    job_dir, python (default: this interpreter), start_method ("fork" or
    "spawn"), progress ("auto", "plain", "bar", "none"), dry_run, model,
    allow_output_in_input, set ({yaml.path: value}, as --set), args (a list
    passed to the entry script), job (one job of a pipeline).

    Returns a Job whether the job succeeded or failed (job.ok, job.exit_code);
    raises JobError when nothing could run (a usage or spec error, exit code
    2) or on an infrastructure failure (3), and KeyboardInterrupt when Ctrl-C
    stopped it. Progress lines go to sys.stderr.
    """
    req = _request(spec, inputs, outputs, settings)
    job = _finish(_core.run(req, _write), check=True)
    if job.plan:
        sys.stdout.write(job.plan)
    return job


def resume(job_dir, rerun_failed=False, force=False, progress="auto", start_method=None):
    """Continues the job in `job_dir` from its journal, as `parallelrun resume`."""
    opts = {"environment": ["%s=%s" % kv for kv in os.environ.items()], "cwd": os.getcwd(),
            "progress": progress, "rerun_failed": bool(rerun_failed), "force": bool(force)}
    if start_method:
        opts["start_method"] = start_method
    try:
        opts["stderr_is_tty"] = bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        opts["stderr_is_tty"] = False
    return _finish(_core.resume(os.fspath(job_dir), opts, _write), check=True)


def validate(spec, inputs=None, outputs=None, **settings):
    """Checks the spec and what the arguments bind to it, as `parallelrun
    validate`: returns its description (str); raises JobError listing every
    problem found."""
    req = _request(spec, inputs, outputs, settings, validating=True)
    for key in ("only_job", "dry_run"):
        if key in req:
            raise TypeError("parallelrun.validate() does not take %s" % (
                "job" if key == "only_job" else key))
    outcome = _core.validate(req)
    if outcome["code"] != "ok":
        raise JobError(outcome["message"], outcome["exit_code"], outcome["code"])
    return outcome["text"]


def report(job_dir, path=None):
    """Writes the job's HTML report (as `parallelrun report`); returns its path."""
    outcome = _core.report(os.fspath(job_dir), os.fspath(path) if path else "")
    if outcome["code"] != "ok":
        raise JobError(outcome["message"], outcome["exit_code"], outcome["code"])
    return outcome["text"]


def tune(job_dir, gpus=0):
    """The tuning guide applied to a finished job (as `parallelrun tune`): its text."""
    outcome = _core.tune(os.fspath(job_dir), int(gpus))
    if outcome["code"] != "ok":
        raise JobError(outcome["message"], outcome["exit_code"], outcome["code"])
    return outcome["text"]
