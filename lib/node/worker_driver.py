"""parallelrun worker driver: runs one user entry script inside a worker process.

Shipped inside the parallelrun binary (embedded at build time) and started as
`python -c <this source> worker` by the agent, with stdin/stdout as the
protocol pipes and stderr as the process's stderr log file. The protocol is
specified in lib/node/worker_protocol.h (RUN's fields before the items in
lib/base/mini_batch_codec.h); keep them in step. Standard library only.

`python -c <this source> check ENTRY_SCRIPT` is the pre-flight check the
command runs before any worker starts: it reports, as one JSON line, the
interpreter's version and whether the entry script compiles and defines run().

`python -c <this source> check-tabular` is the pre-flight check for tabular
input: one JSON line saying whether pandas (and pyarrow) can be found. It
looks the modules up without importing them (importing pandas takes ~0.4 s,
and every worker imports it anyway, reporting a broken install as an init()
failure).

`python -c <this source> shuffle RANGES SPILL_DIR KEYS_JSON TABULAR_PY` is the
shuffle step of partitions by table columns (lib/data/shuffle_format.h): it reads
each table range of the file RANGES (u64 range id, u32 n, n bytes of
descriptor, repeated), writes its rows grouped by the keys to spill files
(worker_tabular.spill_partitions) and prints one JSON line per range:
{"range": id, "groups": [{"key_values": [[key, text], …], "path": …, "rows": n}]}.

Tabular input and partitions: lib/node/worker_tabular.py is imported (in
init(), when START says the job has tables or partitions) from TABULAR_PATH,
where the agent cached it beside this driver and the bootstrap that imports
this driver says (lib/node/python_locator.h DriverArgs), so Python keeps its
bytecode; when there is no cache, its source is TABULAR_SOURCE, put in front
of this driver's in `-c`. pandas itself is imported only for tabular input.
"""
import _signal as signal  # its constants as ints: `signal` imports enum (~10 ms)
import faulthandler
import io
import os
import struct
import sys
import time
import types

# logging and traceback are imported where they are used, not here: they cost
# more than Python's own start (logging brings re, enum, string, threading,
# weakref; traceback brings linecache and tokenize), on every job's critical
# path (the zygote's or each spawned worker's start), and a no-op entry script
# needs neither. The root logger's handler (Worker.start) is installed when
# something imports logging (_LoggingImportHook), so what the user's code logs
# is written as if it had been installed at START.

PROTOCOL_VERSION = 5
MAX_FRAME = 256 << 20

HELLO, INIT_DONE, START = 0x01, 0x02, 0x03
RUN, RESULT, LOADED = 0x10, 0x11, 0x12
SHUTDOWN, SHUTDOWN_DONE = 0x20, 0x21
ERROR = 0x7F

RUN_DONE, RUN_EXCEPTION, RUN_TIMEOUT, RUN_INVALID_RETURN = 0, 1, 2, 3

# What a failure may put in a frame (lib/base/text.h kMaxErrorMessageBytes,
# kMaxTracebackBytes): an exception's message of 300 MB must fail its
# mini-batch, not the protocol's frame limit or the agent's memory.
MAX_MESSAGE = 4096
MAX_TRACEBACK = 16384
# After shutdown(), how long non-daemon threads the entry script left
# running may take to end before the worker exits without them.
THREAD_GRACE = 2.0

# MiniBatchKind (lib/mini_batch.h).
FILES, TABLE_RANGES, FILE_PARTITION, TABLE_PARTITION = 0, 1, 2, 3
TABULAR_KINDS = (TABLE_RANGES, TABLE_PARTITION)
PARTITION_KINDS = (FILE_PARTITION, TABLE_PARTITION)
TOTAL_UNKNOWN = (1 << 64) - 1

_U8 = struct.Struct("<B")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("i")  # a descriptor in SCM_RIGHTS: a C int, native order
_U64 = struct.Struct("<Q")
_RUN_HEAD = struct.Struct("<QIIB")
_RUN_ITEMS = struct.Struct("<QIBI")  # known_rows, item count, joined, the block's length
_RESULT_HEAD = struct.Struct("<QIBQQdddd")
# A successful RESULT's whole frame (length, type, head, three empty fields)
# in one pack: a frame per mini-batch, so its allocations count.
_RESULT_OK = struct.Struct("<IBQIBQQddddIII")
_RESULT_OK_LENGTH = _RESULT_OK.size - 4
# os.fsdecode, without its Python-level checks, for a mini-batch's paths at
# once: NUL is a character of its own in any encoding of file names (the
# kernel ends names there), so decoding them joined by NUL and splitting the
# text gives each path as decoding it alone would.
_FS_ENCODING, _FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
_ROWS_PER_WRITE = 4096  # list elements encoded per write() of an append_row part


def _b(s):
    return s if isinstance(s, bytes) else os.fsencode(s)


def _field(value):
    data = _b(value)
    return _U32.pack(len(data)) + data


_NO_ERROR = _field("") * 3  # RESULT's category, message and traceback of a success


class Pipe:
    """Frames over the two private protocol descriptors."""

    def __init__(self, fd_in, fd_out):
        self._in = io.open(fd_in, "rb", buffering=1 << 16, closefd=True)
        self._out = fd_out

    def send(self, kind, payload=b""):
        self.send_frame(_U32.pack(len(payload) + 1) + bytes([kind]) + payload)

    def send_frame(self, data):
        """A whole frame, header included."""
        n = os.write(self._out, data)
        if n < len(data):  # a pipe takes small writes whole; a large one may be cut
            view = memoryview(data)[n:]
            while view:
                view = view[os.write(self._out, view):]

    def receive(self):
        """Returns (kind, payload), or None at end of stream."""
        header = self._in.read(4)
        if len(header) < 4:
            return None
        (length,) = _U32.unpack(header)
        if length == 0 or length > MAX_FRAME:
            raise ProtocolError("frame of %d bytes is not acceptable" % length)
        body = self._in.read(length)
        if len(body) < length:
            return None
        return body[0], body[1:]


class ProtocolError(Exception):
    pass


# Set by the bootstrap in -c (TABULAR_PATH) or put in front of this source
# (TABULAR_SOURCE); see the module's docstring.
TABULAR_PATH = None
TABULAR_SOURCE = globals().get("TABULAR_SOURCE")


class _Fields:
    """Reads the named fields of one payload in order, as WireFields does
    (lib/base/wire.h), and raises ProtocolError with the same reasons:
    "START: argv at byte 40: length 9, but 3 bytes follow"."""

    def __init__(self, message, payload):
        self.message = message
        self.payload = payload
        self.pos = 0

    def fail(self, field, at, why):
        raise ProtocolError("%s: %s at byte %d: %s" % (self.message, field, at, why))

    def _fixed(self, field, form):
        left = len(self.payload) - self.pos
        if left < form.size:
            self.fail(field, self.pos, "payload ends after %d of its %d bytes" % (left, form.size))
        (value,) = form.unpack_from(self.payload, self.pos)
        self.pos += form.size
        return value

    def u8(self, field):
        return self._fixed(field, _U8)

    def u32(self, field):
        return self._fixed(field, _U32)

    def u64(self, field):
        return self._fixed(field, _U64)

    def bool(self, field):
        at = self.pos
        value = self.u8(field)
        if value > 1:
            self.fail(field, at, "%d is not 0 or 1" % value)
        return value == 1

    def bytes(self, field):
        at = self.pos
        left = len(self.payload) - at
        if left < 4:
            self.fail(field, at, "payload ends after %d of the 4 bytes of its length" % left)
        n = self.u32(field)
        if len(self.payload) - self.pos < n:
            self.fail(field, at, "length %d, but %d bytes follow" % (n, len(self.payload) - self.pos))
        value = self.payload[self.pos:self.pos + n]
        self.pos += n
        return value

    def count(self, field, min_bytes):
        at = self.pos
        n = self.u32(field)
        left = len(self.payload) - self.pos
        if n * min_bytes > left:
            self.fail(field, at, "%d cannot fit in the %d bytes that follow" % (n, left))
        return n

    def done(self):
        if self.pos != len(self.payload):
            raise ProtocolError("%s: %d bytes left over after the last field (at byte %d)" % (
                self.message, len(self.payload) - self.pos, self.pos))


def _read_bytes(payload, offset):
    (n,) = _U32.unpack_from(payload, offset)
    offset += 4
    return payload[offset:offset + n], offset + n


# ---- what the entry script sees ---------------------------------------------

_CONFIG = {}
# The start method fork (zygote_main): what the zygote imported once, which
# every worker it forks uses instead of importing it again.
_PRELOADED = {}
# In a forked worker: {"agent": the agent's pid}; empty in a spawned one.
_FORKED = {}
# Set by main(): this process is the driver, not the parallelrun package
# importing this module for an entry script's unit test.
_DRIVER_MAIN = False


class EntryScript:
    """Drop-in for azureml_user.parallel_run.EntryScript (reference §3.7).

    A per-process singleton: the same instance in init(), run() and shutdown().
    Outside a job (the installed package imported by an entry script's unit
    test) it still works: the logger writes to stderr and output_dir is a
    new scratch folder.
    """

    _instance = None

    def __new__(cls, *args, **kwargs):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
            cls._instance._logger = None
        return cls._instance

    def __init__(self, *args, **kwargs):
        pass

    @property
    def logger(self):
        if self._logger is None:
            import logging
            logger = logging.getLogger("parallelrun.entry_script")
            logger.setLevel(_CONFIG.get("logging_level", "INFO"))
            logger.propagate = False
            path = _CONFIG.get("entry_log")
            handler = None
            if path:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                handler = logging.FileHandler(path, encoding="utf-8", errors="backslashreplace")
            elif not _DRIVER_MAIN and not logger.handlers:
                handler = logging.StreamHandler(sys.stderr)
            if handler is not None:
                handler.setFormatter(logging.Formatter(
                    "%(asctime)s|%(levelname)s|%(process)d|%(thread)d|%(message)s"))
                logger.addHandler(handler)
            self._logger = logger
        return self._logger

    @property
    def log_dir(self):
        return _CONFIG.get("log_dir", "")

    @property
    def working_dir(self):
        return os.getcwd()

    @property
    def agent_name(self):
        return _CONFIG.get("process_name", "")

    @property
    def process_name(self):
        return _CONFIG.get("process_name", "")

    @property
    def node_id(self):
        return _CONFIG.get("node_id", "")

    @property
    def output_dir(self):
        if not _in_job() and not _CONFIG.get("output_dir"):
            import tempfile  # outside a job only
            _CONFIG["output_dir"] = tempfile.mkdtemp(prefix="parallelrun-output-")
        return _CONFIG.get("output_dir", "")


def _in_job():
    """Whether this process serves a job (main() ran: a worker, the zygote, a
    check), or a test harness configured it as one (parallelrun.testing sets
    entry_script); not when the package merely imported this module."""
    return _DRIVER_MAIN or "entry_script" in _CONFIG


def _invalid_return(value):
    """Why run()'s return value cannot count as its results, or None."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "DataFrame":
        return None
    return ("run() returned %s; it must return a list, tuple or pandas.DataFrame "
            "with one element per successful item" %
            ("None" if value is None else "a " + type(value).__name__))


class _LoggingImportHook:
    """The root logger's handler (the stdout log, "time|level|name|message")
    and level, installed at once when logging is already imported, else right
    after the first import of logging has run, before the importer's next
    line: before any call of logging.basicConfig() or any record, as if it had
    been installed at START. A finder on sys.meta_path that finds nothing
    itself: it wraps the loader the other finders give for `logging`."""

    def __init__(self, stream, level):
        self._stream, self._level = stream, level
        self._loader = None

    @classmethod
    def configure_root(cls, stream, level):
        logging = sys.modules.get("logging")
        if logging is not None:
            cls._configure(logging, stream, level)
        else:
            sys.meta_path.insert(0, cls(stream, level))

    @staticmethod
    def _configure(logging, stream, level):
        root = logging.getLogger()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s|%(levelname)s|%(name)s|%(message)s"))
        root.addHandler(handler)
        root.setLevel(level)

    def find_spec(self, name, path=None, target=None):
        if name != "logging" or self._loader is not None:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(name, path, target)
            if spec is not None and spec.loader is not None:
                self._loader = spec.loader
                spec.loader = self
                return spec
            if spec is not None:
                return spec
        return None

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        # The module is the real loader's from here on (tracebacks, reloads).
        module.__spec__.loader = module.__loader__ = self._loader
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        self._loader.exec_module(module)
        self._configure(module, self._stream, self._level)


def _install_helper_modules():
    """Makes `from azureml_user.parallel_run import EntryScript` and
    `from parallelrun import EntryScript` work without any package installed."""
    pkg = types.ModuleType("azureml_user")
    pkg.__path__ = []
    sub = types.ModuleType("azureml_user.parallel_run")
    sub.EntryScript = EntryScript
    pkg.parallel_run = sub
    sys.modules["azureml_user"] = pkg
    sys.modules["azureml_user.parallel_run"] = sub
    own = types.ModuleType("parallelrun")
    own.EntryScript = EntryScript
    sys.modules["parallelrun"] = own


def _helper_modules():
    return [sys.modules.get(name) for name in ("azureml_user", "azureml_user.parallel_run",
                                                "parallelrun")]


def _user_traceback(exc):
    """The traceback from the first frame outside this driver."""
    tb = exc.__traceback__
    # The driver runs as `-c` source ("<string>") or from its cached copy.
    own = ("<string>", globals().get("__file__"))
    while tb is not None and tb.tb_frame.f_code.co_filename in own:
        tb = tb.tb_next
    import traceback
    return _cut("".join(traceback.format_exception(type(exc), exc, tb)), MAX_TRACEBACK)


def _cut(text, limit):
    """`text` if it has at most `limit` bytes (UTF-8), else its head and tail
    around " \u2026 [12,345,678 bytes cut] \u2026 ", at most `limit` bytes in
    all, so that cutting again changes nothing (lib/base/text.h CutMiddle)."""
    if len(text) * 4 <= limit:
        return text
    data = text.encode("utf-8", "surrogateescape")
    if len(data) <= limit:
        return text
    keep = (limit - 64) // 2
    head = data[:keep].decode("utf-8", "ignore")
    tail = data[len(data) - keep:].decode("utf-8", "ignore")
    cut = len(data) - len(head.encode("utf-8")) - len(tail.encode("utf-8"))
    return "%s \u2026 [%s bytes cut] \u2026 %s" % (head, "{:,}".format(cut), tail)


def _one_line(exc):
    try:
        text = str(exc).lstrip()
    except Exception:
        return type(exc).__name__
    name = type(exc).__name__
    end = text.find("\n")
    line = (text[:end] if end >= 0 else text).rstrip()
    # The whole "Name: message" within MAX_MESSAGE: a message of one huge
    # line is cut here, not by the agent.
    return "%s: %s" % (name, _cut(line, MAX_MESSAGE - len(name) - 2)) if line else name


def _load_tabular_module(source=None):
    """worker_tabular.py as a module: from `source` when given, else from
    where the bootstrap cached it (Python caches its bytecode there too),
    else from the source in front of this driver's."""
    if source is None and TABULAR_PATH:
        import importlib.util
        spec = importlib.util.spec_from_file_location("parallelrun_tabular", TABULAR_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules["parallelrun_tabular"] = module
        # Its bytecode is kept beside it, as the driver's (python_locator.h
        # DriverArgs), whatever PYTHONDONTWRITEBYTECODE says.
        keep = sys.dont_write_bytecode
        sys.dont_write_bytecode = False
        try:
            spec.loader.exec_module(module)
        finally:
            sys.dont_write_bytecode = keep
        return module
    source = TABULAR_SOURCE if source is None else source
    if source is None:
        raise ImportError("parallelrun's worker_tabular module is missing: the driver was "
                          "started without TABULAR_PATH or TABULAR_SOURCE")
    module = types.ModuleType("parallelrun_tabular")
    module.__file__ = "<parallelrun worker_tabular>"
    sys.modules["parallelrun_tabular"] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def _takes_context(run, required):
    """Whether run() can take (mini_batch, mini_batch_context): with
    `required`, only when it needs a second positional argument (then it
    gets one even outside a partitioned job rather than fail)."""
    counts = _positional_counts(run)
    if counts is None:
        return not required
    positional, without_default, varargs = counts
    if varargs:
        return not required or without_default >= 2
    if required:
        return without_default >= 2
    return positional >= 2


def _positional_counts(run):
    """(positional parameters, those without a default, whether *args) of
    run, or None when it has no signature. A plain function's code object
    says it directly; only other callables import inspect, whose import
    (ast, dis, tokenize, ...) cost each worker more than the rest of its
    start."""
    code = getattr(run, "__code__", None)
    if type(run).__name__ == "function" and code is not None:
        positional = code.co_argcount
        defaults = len(run.__defaults__ or ())
        return positional, positional - defaults, bool(code.co_flags & 0x04)  # CO_VARARGS
    try:
        import inspect
        params = list(inspect.signature(run).parameters.values())
    except (TypeError, ValueError):
        return None
    positional = [p for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return (len(positional), len([p for p in positional if p.default is p.empty]),
            any(p.kind == p.VAR_POSITIONAL for p in params))


def _range_label(d):
    """Where a table range's rows are, for messages."""
    if d["format"] == 2 and not d["whole_file"]:  # Parquet
        return "%s (rows %d-%d)" % (d["path"], d["row_begin"], d["row_end"] - 1)
    if d["whole_file"] or d["length"] == 0:
        return d["path"]
    return "%s (bytes %d-%d)" % (d["path"], d["offset"], d["offset"] + d["length"] - 1)


class OutputError(Exception):
    """append_row could not write an attempt's rows."""


def _write_rows(value, path):
    """Writes run()'s return value as the original's append_row did
    (reference §3.4): str(element) + "\n" per element of a list or tuple; a
    DataFrame as df.to_csv(f, header=None, index=None, sep=" ") writes it.
    Streamed to "<path>.tmp-<pid>" and renamed, so that `path` is always
    complete; a killed worker leaves only the temporary file."""
    tmp = "%s.tmp-%d" % (path, os.getpid())
    try:
        if isinstance(value, (list, tuple)):
            with open(tmp, "wb", buffering=1 << 20) as f:
                for i in range(0, len(value), _ROWS_PER_WRITE):
                    text = "".join([str(x) + "\n" for x in value[i:i + _ROWS_PER_WRITE]])
                    f.write(text.encode("utf-8", "surrogateescape"))
        else:
            with open(tmp, "w", encoding="utf-8", errors="surrogateescape", newline="",
                      buffering=1 << 20) as f:
                value.to_csv(f, header=None, index=None, sep=" ")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Worker:
    def __init__(self, pipe):
        self.pipe = pipe
        self.module = None
        self.error_log = None
        self.tabular = None           # the worker_tabular module, for tables and partitions
        self.context_always = False   # run() requires (mini_batch, mini_batch_context)
        self.context_partitions = False  # run() accepts it
        self.append_row_dir = None
        self.shuffled = False  # the last table mini-batch came from a shuffle's spill files
        self.rows_held = None  # rows of a table mini-batch that could not be read
        self.cpu_mark = None   # process_time() at the end of the last mini-batch

    def log_error(self, heading, text):
        path = _CONFIG.get("error_log")
        if not path:
            return
        if self.error_log is None:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.error_log = open(path, "a", encoding="utf-8", errors="backslashreplace")
        self.error_log.write("%s %s\n%s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), heading, text))
        self.error_log.flush()

    def start(self, config):
        _CONFIG.update(config)
        # Our stdout is the user's stdout log from here on; fd 2 already is the
        # stderr log. Both are files: block-buffered, flushed after each call.
        fd = os.open(config["stdout_log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 1)
        os.close(fd)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.reconfigure(errors="surrogateescape")
            except (AttributeError, ValueError):
                pass
        _LoggingImportHook.configure_root(sys.stdout, config.get("logging_level", "INFO"))
        if config.get("output_dir"):
            os.environ["AZUREML_BI_OUTPUT_PATH"] = config["output_dir"]
        self.append_row_dir = config["append_row_dir"]
        _install_helper_modules()

    def init(self):
        script = _CONFIG["entry_script"]
        t0 = time.perf_counter()
        try:
            folder = os.path.dirname(script)
            for p in (_CONFIG.get("code_dir"), folder):
                if p and p not in sys.path:
                    sys.path.insert(0, p)
            sys.argv = [script] + _CONFIG.get("argv", [])
            if _CONFIG["tabular"] or _CONFIG["partitioned"]:
                self.tabular = _PRELOADED.get("tabular") or _load_tabular_module()
            if _CONFIG["tabular"]:
                import pandas  # noqa: F401 - here, not in the first run(): init pays for it
            module = _PRELOADED.get("module")
            if module is None:
                module = _import_entry_script(script)
            if not callable(getattr(module, "run", None)):
                raise AttributeError("the entry script %s does not define run(mini_batch)" % script)
            self.module = module
            self.context_always = _takes_context(module.run, required=True)
            self.context_partitions = _takes_context(module.run, required=False)
            if callable(getattr(module, "init", None)):
                module.init()
        except BaseException as exc:  # noqa: B902 - SystemExit in init is a failure too
            tb = _user_traceback(exc)
            self.log_error("init() failed:", tb)
            payload = (struct.pack("<Bd", 0, time.perf_counter() - t0) + _field(type(exc).__name__)
                       + _field(_one_line(exc)) + _field(tb))
            self.pipe.send(INIT_DONE, payload)
            return False
        finally:
            _flush()
        payload = struct.pack("<Bd", 1, time.perf_counter() - t0) + _field("") + _field("") + _field("")
        self.pipe.send(INIT_DONE, payload)
        return True

    def run(self, payload):
        batch_id, attempt, kind, partition, items = _decode_run(payload)
        start = time.time()
        t0 = time.perf_counter()
        # The CPU clock is a system call (~5-10 µs on a VM), the others are
        # not: the end of the previous mini-batch's reading is this one's
        # start, so that there is one per mini-batch. What the driver spends
        # reading the next RUN is counted with it (µs; waiting is no CPU).
        c0 = self.cpu_mark if self.cpu_mark is not None else time.process_time()
        status, returned, category, message, tb = RUN_DONE, 0, "", "", ""
        total = len(items)
        run_s = 0.0
        try:
            if kind in TABULAR_KINDS:
                total = TOTAL_UNKNOWN
                self.rows_held = None
                mini_batch = self.load(items)
                total = len(mini_batch)
                if kind == TABLE_PARTITION and self.shuffled and len(mini_batch):
                    # Keys that are columns: their typed value (reference §3.2).
                    for key in partition:
                        if key in mini_batch.columns:
                            value = mini_batch[key].iloc[0]
                            partition[key] = value.item() if hasattr(value, "item") else value
                self.pipe.send(LOADED, struct.pack("<QIQ", batch_id, attempt, total))
            else:
                mini_batch = items
            args = (mini_batch,)
            if self.context_always or (kind in PARTITION_KINDS and self.context_partitions):
                context_type = self.tabular.MiniBatchContext if self.tabular else _Context
                args = (mini_batch, context_type(partition, mini_batch, batch_id))
            r0 = time.perf_counter()
            try:
                value = self.module.run(*args)
            finally:
                run_s = time.perf_counter() - r0
            invalid = None if type(value) is list else _invalid_return(value)
            if invalid is None:
                returned = len(value)
                if self.append_row_dir is not None:
                    # The part's name is lib/base/job_dir.h's AppendRowPartName,
                    # which the master reads back; the folder comes from START.
                    path = os.path.join(self.append_row_dir, "%d.%d.rows" % (batch_id, attempt))
                    try:
                        _write_rows(value, path)
                    except OSError as exc:
                        raise OutputError("append_row: cannot write the rows of mini-batch %d "
                                          "to %s: %s" % (batch_id, path, exc)) from exc
            else:
                status = RUN_INVALID_RETURN
                category = "InvalidReturn"
                message = invalid
                self.log_error(_run_failed(batch_id, attempt), message)
        except Exception as exc:
            status, category, message = RUN_EXCEPTION, type(exc).__name__, _one_line(exc)
            tb = _user_traceback(exc)
            self.log_error(_run_failed(batch_id, attempt), tb)
            if total == TOTAL_UNKNOWN and self.rows_held is not None:
                # The data could not be read: every row it holds failed, as
                # if run() had raised on them (error_threshold counts them).
                total = self.rows_held
        _flush()
        self.cpu_mark = c1 = time.process_time()
        if status == RUN_DONE:
            self.pipe.send_frame(_RESULT_OK.pack(_RESULT_OK_LENGTH, RESULT, batch_id, attempt, status,
                                                 total, returned, start, time.perf_counter() - t0,
                                                 c1 - c0, run_s, 0, 0, 0))
        else:
            head = _RESULT_HEAD.pack(batch_id, attempt, status, total, returned, start,
                                     time.perf_counter() - t0, c1 - c0, run_s)
            self.pipe.send(RESULT, head + _field(category) + _field(message) + _field(tb))

    def load(self, raw_items):
        """A table mini-batch's data as one DataFrame (a partition's files in
        order). A range that cannot be read fails the attempt naming it."""
        tab = self.tabular
        frames = []
        self.shuffled = False
        for i, raw in enumerate(raw_items):
            d = tab.decode_descriptor(raw)
            self.shuffled = self.shuffled or d["format"] == tab.PICKLE
            try:
                frames.append(tab.load_table(d))
            except Exception as exc:
                self.rows_held = _rows_held(tab, frames, raw_items[i:])
                if not _reraisable(exc):
                    raise
                lines = str(exc).strip().splitlines()
                raise type(exc)("cannot read %s: %s" % (_range_label(d), lines[0] if lines else
                                                        type(exc).__name__)) from exc
        if len(frames) == 1:
            return frames[0]
        import pandas
        if not frames:
            return pandas.DataFrame()
        return pandas.concat(frames, ignore_index=True)

    def shutdown(self):
        ok, category, message, tb = 1, "", "", ""
        fn = getattr(self.module, "shutdown", None) if self.module else None
        if callable(fn):
            try:
                fn()
            except Exception as exc:
                ok, category, message, tb = 0, type(exc).__name__, _one_line(exc), _user_traceback(exc)
                self.log_error("shutdown() failed:", tb)
        _flush()
        self.pipe.send(SHUTDOWN_DONE, bytes([ok]) + _field(category) + _field(message) + _field(tb))


def _run_failed(batch_id, attempt):
    return "run() failed on mini-batch %d, attempt %d:" % (batch_id, attempt)


def _rows_held(tab, frames, unread):
    """The rows of a mini-batch whose data could not all be read: those of
    the ranges read (`frames`) plus the best count of the rest (`unread`,
    worker_tabular.count_records). None when a range cannot be counted: the
    agent then uses the count known in advance."""
    total = sum(len(f) for f in frames)
    for raw in unread:
        try:
            n = tab.count_records(raw)
        except Exception:
            n = None
        if n is None:
            return None
        total += n
    return total


def _reraisable(exc):
    """True when exc's class can be made again from one message (most
    exceptions; not e.g. UnicodeDecodeError, which takes five arguments)."""
    try:
        type(exc)("x")
        return True
    except Exception:
        return False


class _Context:
    """mini_batch_context when worker_tabular was not sent (see its MiniBatchContext)."""

    def __init__(self, partition_key_value=None, dataset=None, minibatch_index=0):
        self.partition_key_value = dict(partition_key_value or {})
        self.dataset = dataset
        self.minibatch_index = minibatch_index


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


def _import_entry_script(script):
    name = os.path.splitext(os.path.basename(script))[0]
    # importlib.util's two functions, from where it takes them (Python 3.4 to
    # 3.13): importlib.util itself imports contextlib, and with it
    # collections and functools, on every job's critical path.
    import importlib
    try:
        spec_from_file_location = importlib._bootstrap_external.spec_from_file_location
        module_from_spec = importlib._bootstrap.module_from_spec
    except AttributeError:
        import importlib.util
        spec_from_file_location = importlib.util.spec_from_file_location
        module_from_spec = importlib.util.module_from_spec
    spec = spec_from_file_location(name, script)
    module = module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _decode_run(payload):
    """RUN's (batch_id, attempt, kind, partition, items): the items are the
    paths as str for file mini-batches, the descriptors as bytes for tables.
    The fast path trusts the layout; anything it cannot read is read again
    by _run_malformed, which says what is wrong."""
    try:
        batch_id, attempt, _input_index, kind = _RUN_HEAD.unpack_from(payload, 0)
        offset = _RUN_HEAD.size
        (count,) = _U32.unpack_from(payload, offset)
        offset += 4
        partition = {}
        for _ in range(count):
            key, offset = _read_bytes(payload, offset)
            value, offset = _read_bytes(payload, offset)
            partition[os.fsdecode(key)] = os.fsdecode(value)
        _known_rows, count, joined, n = _RUN_ITEMS.unpack_from(payload, offset)
        if joined == 1:
            offset += _RUN_ITEMS.size
            block = payload[offset:offset + n]
            offset += n
            if kind in TABULAR_KINDS:
                items = block.split(b"\0") if count else []
            else:
                items = block.decode(_FS_ENCODING, _FS_ERRORS).split("\0") if count else []
            if len(items) != count or (not count and block):
                offset = -1
        else:
            offset += _RUN_ITEMS.size - 4
            items = []
            for _ in range(count):
                item, offset = _read_bytes(payload, offset)
                items.append(item)
            if joined != 0 or not any(b"\0" in item for item in items):
                offset = -1
            elif kind not in TABULAR_KINDS:
                items = [os.fsdecode(item) for item in items]
    except struct.error:
        offset = -1
    if offset != len(payload) or kind > TABLE_PARTITION:
        _run_malformed(payload)
    return batch_id, attempt, kind, partition, items


def _run_malformed(payload):
    """Raises ProtocolError saying why RUN's payload is malformed, read as
    lib/node/worker_protocol.h says (the reasons of WireFields)."""
    f = _Fields("RUN", payload)
    f.u64("mini_batch_id")
    f.u32("attempt")
    f.u32("input_index")
    at = f.pos
    kind = f.u8("kind")
    if kind > TABLE_PARTITION:
        f.fail("kind", at, "%d is not a mini-batch kind" % kind)
    for _ in range(f.count("partition keys", 8)):
        f.bytes("partition key")
        f.bytes("partition value")
    f.u64("known_rows")
    count = f.u32("items")
    at = f.pos
    if f.bool("joined"):
        block_at = f.pos
        block = f.bytes("joined items")
        pieces = block.count(b"\0") + 1 if count or block else 0
        if pieces != count:
            f.fail("joined items", block_at, "holds %d items, not %d" % (pieces, count))
    else:
        items = [f.bytes("item") for _ in range(count)]
        if not any(b"\0" in item for item in items):
            f.fail("joined", at, "0, but no item holds a NUL byte")
    f.done()
    raise ProtocolError("RUN: cannot be read")  # not reached: the fast path read it


def _decode_start(payload):
    """START's fields (lib/node/worker_protocol.h WorkerStart), in their
    fixed order: a missing field or bytes left over are errors."""
    f = _Fields("START", payload)
    version = f.u32("version")
    if version != PROTOCOL_VERSION:
        raise ProtocolError("agent speaks protocol %d, this driver %d" % (version, PROTOCOL_VERSION))
    text = os.fsdecode
    config = {
        "entry_script": text(f.bytes("entry_script")),
        "code_dir": text(f.bytes("code_dir")),
        "output_dir": text(f.bytes("output_dir")),
        "logging_level": text(f.bytes("logging_level")),
        "argv": [text(f.bytes("argv")) for _ in range(f.count("argv", 4))],
        "append_row_dir": text(f.bytes("append_row_dir")) if f.bool("append_row") else None,
        "tabular": f.bool("tabular"),
        "partitioned": f.bool("partitioned"),
    }
    for key in ("process_name", "node_id", "stdout_log", "error_log", "entry_log", "log_dir"):
        config[key] = text(f.bytes(key))
    config["nice"] = f.u8("nice")
    config["profiling_module"] = text(f.bytes("profiling_module"))
    config["profile_path"] = text(f.bytes("profile_path"))
    config["cuda_visible_devices"] = text(f.bytes("cuda_visible_devices")) if f.bool("gpu") else None
    f.done()
    return config


def _apply_process_settings(config):
    """What START says of this process itself, applied before any user code:
    the niceness (raised to `nice`, never lowered: the original calls
    os.nice and a process may not lower its own) and the GPU."""
    target = config.get("nice", 0)
    current = os.nice(0)
    if target > current:
        os.nice(target - current)
    if config.get("cuda_visible_devices") is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = config["cuda_visible_devices"]


def _profiler(name):
    if name == "cProfile":
        import cProfile
        return cProfile.Profile()
    if name == "profile":
        import profile
        return profile.Profile()
    return None


def _dump_profile(profiler, path):
    """Writes the profile where pstats.Stats(path) (and snakeviz) read it;
    under a temporary name first, so that a reader never sees half a file.
    Beside it, <path>.top.tsv: the functions with the most own time, which
    `parallelrun report` shows without reading Python's marshal format."""
    tmp = path + ".tmp"
    try:
        profiler.dump_stats(tmp)
        os.replace(tmp, path)
        _write_profile_top(profiler, path + ".top.tsv")
    except Exception as exc:  # noqa: B902 - a profile must not fail the worker
        sys.stderr.write("parallelrun worker: cannot write the profile %s: %s\n" % (path, exc))


PROFILE_TOP = 40


def _write_profile_top(profiler, path):
    """function, file, line, calls, own seconds, cumulative seconds: one line
    each for the PROFILE_TOP functions with the most own time (tottime), as
    pstats' `sort tottime` lists them; tabs and newlines in names become
    spaces."""
    profiler.create_stats()
    rows = sorted(profiler.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:PROFILE_TOP]
    clean = lambda v: str(v).replace("\t", " ").replace("\n", " ").replace("\r", " ")
    lines = ["function\tfile\tline\tcalls\town_seconds\tcumulative_seconds"]
    for (file, line, name), (_cc, calls, own, cum, _callers) in rows:
        lines.append("%s\t%s\t%d\t%d\t%.6f\t%.6f" % (clean(name), clean(file), line, calls, own, cum))
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, path)


def worker_main():
    # The protocol moves to private descriptors (os.dup makes them
    # non-inheritable), so children of the user's code never hold them and
    # nothing printed can reach the agent as a frame.
    fd_in, fd_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)  # until START names the stdout log
    # When the agent stops this worker (a run() or init() over its timeout, an
    # interrupt) with SIGTERM, print where it was to the stderr log, then die
    # of SIGTERM as before (chain): the agent shows that stack as the reason.
    # An entry script that installs its own SIGTERM handler replaces this.
    faulthandler.register(signal.SIGTERM, file=sys.stderr, all_threads=False, chain=True)
    pipe = Pipe(fd_in, fd_out)
    return _exit_despite_threads(_serve(pipe))


def _exit_despite_threads(code):
    """Python waits at exit for every non-daemon thread: one that init() left
    running would keep the worker alive until the agent kills it at
    shutdown_timeout. Give them THREAD_GRACE, then name them and exit."""
    threading = sys.modules.get("threading")  # not imported: no such thread
    if threading is None:
        return code
    deadline = time.monotonic() + THREAD_GRACE
    main_thread = threading.main_thread()
    for t in threading.enumerate():
        if t is not main_thread and not t.daemon:
            t.join(max(0.0, deadline - time.monotonic()))
    left = [t for t in threading.enumerate()
            if t is not main_thread and not t.daemon and t.is_alive()]
    if not left:
        return code
    sys.stderr.write("parallelrun worker: exiting without waiting for %d non-daemon thread%s "
                     "still running %g s after the end: %s\n" % (
                         len(left), "" if len(left) == 1 else "s", THREAD_GRACE,
                         ", ".join(repr(t.name) for t in left)))
    _flush()
    os._exit(code)


def _serve(pipe):
    pipe.send(HELLO, struct.pack("<II", PROTOCOL_VERSION, os.getpid()) +
              _field(sys.version.split()[0]) + _field(sys.executable or ""))
    worker = Worker(pipe)
    try:
        frame = pipe.receive()
        if frame is None:
            return 0
        kind, payload = frame
        if kind != START:
            raise ProtocolError("expected START, got message type 0x%02x" % kind)
        config = _decode_start(payload)
        _apply_process_settings(config)
        worker.start(config)
        if _FORKED:
            _adopted()
        profiler = _profiler(config["profiling_module"])
        if profiler is None:
            return _serve_started(pipe, worker)
        # init(), every run() and shutdown(): a worker killed (SIGTERM after a
        # timeout, SIGKILL) never gets here and leaves no profile.
        try:
            return profiler.runcall(_serve_started, pipe, worker)
        finally:
            _dump_profile(profiler, config["profile_path"])
    except (ProtocolError, struct.error) as exc:
        return _protocol_failed(pipe, exc)


def _protocol_failed(pipe, exc):
    try:
        pipe.send(ERROR, _field(str(exc)))
    except OSError:
        pass
    sys.stderr.write("parallelrun worker: protocol error: %s\n" % exc)
    return 3


def _serve_started(pipe, worker):
    """After START: init(), then RUNs until SHUTDOWN; the exit code."""
    try:
        if not worker.init():
            return 72  # the original's exit code for a failed init
        while True:
            frame = pipe.receive()
            if frame is None:
                return 0  # the agent went away
            kind, payload = frame
            if kind == RUN:
                worker.run(payload)
            elif kind == SHUTDOWN:
                worker.shutdown()
                return 0
            elif kind == ERROR:
                return 0
            else:
                raise ProtocolError("unexpected message type 0x%02x" % kind)
    except (ProtocolError, struct.error) as exc:
        return _protocol_failed(pipe, exc)


def check_main(script):
    """Pre-flight: compile the entry script and look for a top-level run."""
    print(_json_object(_check(script)))
    return 0


def _json_object(flat):
    """JSON of a dict of str, bool, int and None values (what _check returns),
    without importing json."""
    def value(v):
        if v is None or isinstance(v, bool):
            return {None: "null", True: "true", False: "false"}[v]
        if isinstance(v, int):
            return str(v)
        out = ['"']
        for c in str(v):
            o = ord(c)
            if c == '"' or c == "\\":
                out.append("\\" + c)
            elif 0x20 <= o < 0x7f:
                out.append(c)
            elif 0xd800 <= o <= 0xdfff:  # a lone surrogate (undecodable bytes)
                out.append("\\ufffd")
            elif o > 0xffff:  # ASCII only, as json.dumps: a surrogate pair
                o -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xd800 + (o >> 10), 0xdc00 + (o & 0x3ff)))
            else:
                out.append("\\u%04x" % o)
        out.append('"')
        return "".join(out)
    return "{" + ",".join(value(str(k)) + ":" + value(v) for k, v in flat.items()) + "}"


def _check(script):
    # _ast and compile(), not the ast module (whose import costs ten times
    # more): the same tree, on every job's critical path.
    import _ast as ast

    out = {"python_version": sys.version.split()[0], "executable": sys.executable,
           "version_ok": sys.version_info >= (3, 8)}
    try:
        with open(script, "rb") as f:
            source = f.read()
        tree = compile(source, script, "exec", ast.PyCF_ONLY_AST)
    except SyntaxError as exc:
        out.update(ok=False, kind="syntax", file=exc.filename or script, line=exc.lineno or 0,
                   col=exc.offset or 0, message=exc.msg,
                   text=(exc.text or "").rstrip("\n"))
        return out
    except OSError as exc:
        out.update(ok=False, kind="io", message=str(exc))
        return out
    names, star = set(), False
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name):
                    names.add(t.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    star = True
                names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, (ast.If, ast.Try)):
            star = True  # conditional definitions: do not second-guess them
    out.update(ok=True, defines_run=("run" in names) or star, defines_init="init" in names)
    return out


# The zygote's control messages (lib/node/zygote.h): one SOCK_SEQPACKET
# message each, u8 type then the payload; descriptors travel as SCM_RIGHTS.
Z_CHECK, Z_PREPARE, Z_READY, Z_FALLBACK = 0x40, 0x41, 0x42, 0x43
Z_FORK, Z_FORKED, Z_FORK_FAILED = 0x44, 0x45, 0x46
Z_MAX_MESSAGE = 1 << 20


def zygote_main(script):
    """The start method fork: one process pays the driver's and the entry
    script's imports once, then forks the workers (lib/node/zygote.h).

    fd 0 is the control socket, fd 2 a scratch file until PREPARE gives the
    zygote its logs. It first sends the pre-flight check's JSON (Z_CHECK),
    then, on PREPARE (the job's START fields), imports what a worker would
    import before init() and answers READY — or FALLBACK with the reason
    when forking would not be safe (threads running, CUDA initialised),
    and exits. Then each FORK (stdin, stdout, stderr attached) makes one
    worker, answered with its pid (FORKED) or why not (FORK_FAILED)."""
    # The C modules, not their Python wrappers (socket, json), and not
    # `array` (it imports collections: ~2 ms): the zygote's start is on every
    # job's critical path, and `socket` alone costs more than the rest of
    # what it imports here.
    import _socket as socket

    ctl = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.close(null)
    check = _check(script)
    ctl.send(bytes([Z_CHECK]) + _json_object(check).encode())
    if not (check.get("ok") and check.get("version_ok") and check.get("defines_run")):
        return 0
    # While the agent sets the job up before PREPARE, which it sends only then.
    _PRELOADED["pdeathsig"] = _pdeathsig_setter()  # for the workers (_adopted): once, here

    def receive():
        fds = []
        msg, anc, _flags, _addr = ctl.recvmsg(Z_MAX_MESSAGE, socket.CMSG_SPACE(4 * _I32.size))
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(v for (v,) in _I32.iter_unpack(data[:len(data) - len(data) % 4]))
        return msg, fds

    msg, fds = receive()
    if not msg or msg[0] != Z_PREPARE or len(fds) != 2:
        return 0
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    for fd in fds:
        os.close(fd)
    try:
        reason = _zygote_prepare(_decode_start(msg[1:]))
    except Exception as exc:  # a bad PREPARE: the workers say what is wrong
        reason = "the zygote could not read its configuration: %s" % _one_line(exc)
    _flush()
    if reason:
        ctl.send(bytes([Z_FALLBACK]) + reason.encode("utf-8", "backslashreplace"))
        return 0
    # What was imported stays out of the workers' garbage collections, which
    # would otherwise touch (and so copy) every page of it in every worker.
    import gc
    gc.freeze()
    agent = os.getppid()
    ctl.send(bytes([Z_READY]))
    while True:
        msg, fds = receive()
        if not msg:
            return 0  # the agent is done with us
        if msg[0] != Z_FORK or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            ctl.send(bytes([Z_FORK_FAILED]) + b"not a FORK with three descriptors")
            continue
        try:
            pid = _zygote_fork(ctl, fds, agent)
            ctl.send(bytes([Z_FORKED]) + _U32.pack(pid))
        except OSError as exc:
            ctl.send(bytes([Z_FORK_FAILED]) + str(exc).encode("utf-8", "backslashreplace"))
        finally:
            for fd in fds:
                os.close(fd)


def _zygote_prepare(config):
    """Imports what a worker imports before init(), as a worker would (same
    sys.path, sys.argv, environment). Returns None when workers may be forked
    from this process, else why not."""
    _CONFIG.update(config)
    if config.get("output_dir"):
        os.environ["AZUREML_BI_OUTPUT_PATH"] = config["output_dir"]
    _install_helper_modules()
    script = config["entry_script"]
    for p in (config.get("code_dir"), os.path.dirname(script)):
        if p and p not in sys.path:
            sys.path.insert(0, p)
    sys.argv = [script] + config.get("argv", [])
    try:
        if config["tabular"] or config["partitioned"]:
            _PRELOADED["tabular"] = _load_tabular_module()
        if config["tabular"]:
            import pandas  # noqa: F401
        module = _import_entry_script(script)
    except BaseException as exc:  # noqa: B902 - each worker reports it as its init() failure
        return "importing the entry script failed in the zygote (%s: %s)" % (
            type(exc).__name__, _one_line(exc))
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        names = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        return ("importing the entry script started %d thread%s (%s), which a forked worker "
                "would not have" % (len(names), "" if len(names) == 1 else "s",
                                    ", ".join(repr(n) for n in names[:5])))
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_initialized():
                return "importing the entry script initialised CUDA, which a forked worker cannot use"
        except Exception:
            pass
    if any(v is EntryScript or v in _helper_modules() for v in vars(module).values()):
        # Its EntryScript().logger imports logging: once here for every worker.
        import logging  # noqa: F401
    _PRELOADED["module"] = module
    return None


def _zygote_fork(ctl, fds, agent):
    """Forks one worker with `fds` as its stdin, stdout and stderr and returns
    its pid. Twice: the middle process exits at once, so that the worker is
    re-parented to the agent (a child subreaper) and becomes its child, which
    the agent waits for, signals and contains like a spawned worker."""
    _flush()
    r, w = os.pipe()
    middle = os.fork()
    if middle == 0:
        code = 1
        try:
            os.close(r)
            pid = os.fork()
            if pid == 0:
                os.close(w)
                _become_worker(ctl, fds, agent)  # does not return
            try:
                # Its own group before the middle exits, so that the agent
                # never sees it as an orphan to kill (process_tree.h KillOrphans).
                os.setpgid(pid, pid)
            except OSError:
                pass
            os.write(w, _U32.pack(pid))
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    try:
        data = os.read(r, 4)
    finally:
        os.close(r)
        os.waitpid(middle, 0)
    if len(data) != 4:
        raise OSError("the forked worker's pid did not arrive")
    return _U32.unpack(data)[0]


def _become_worker(ctl, fds, agent):
    code = 1
    try:
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        ctl.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            os.close(fd)
        _FORKED["agent"] = agent
        # The zygote's logger handlers write to the zygote's logs.
        if "logging" in sys.modules:
            sys.modules["logging"].getLogger("parallelrun.entry_script").handlers.clear()
        if EntryScript._instance is not None:
            EntryScript._instance._logger = None
        code = worker_main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: B902 - as Python would print it, then exit
        import traceback
        traceback.print_exc()
    finally:
        try:
            import atexit
            atexit._run_exitfuncs()
        finally:
            _flush()
            os._exit(code)


def _adopted():
    """In a forked worker, once START came (the agent sends it only after the
    middle process was reaped, so the agent is our parent now): die with the
    agent, as a spawned worker does (process_group.h NewProcessGroup)."""
    pdeathsig = _PRELOADED.get("pdeathsig")
    if pdeathsig is not None:
        pdeathsig()
    if os.getppid() != _FORKED["agent"]:
        os._exit(1)  # the agent died before we could tie us to it


def _pdeathsig_setter():
    """A callable that makes this process die with its parent (prctl's
    PR_SET_PDEATHSIG, SIGKILL). Through _ctypes' dlsym and call_function
    (0.6 ms to import) rather than ctypes (2-3 ms, on the zygote's way to
    READY); they are not public, so ctypes where they are missing."""
    try:
        import _ctypes
        prctl = _ctypes.dlsym(_ctypes.dlopen(None), "prctl")
        call = _ctypes.call_function
        return lambda: call(prctl, (1, int(signal.SIGKILL)))
    except (ImportError, AttributeError, OSError):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        return lambda: libc.prctl(1, int(signal.SIGKILL))


def check_tabular_main():
    import importlib.metadata
    import importlib.util
    import json

    def version(name):
        try:
            if importlib.util.find_spec(name) is None:
                return None
        except (ImportError, ValueError):
            return None
        try:
            return importlib.metadata.version(name)
        except Exception:
            return "unknown version"

    out = {"ok": True, "message": "", "executable": sys.executable,
           "pandas": version("pandas"), "pyarrow": version("pyarrow")}
    if out["pandas"] is None:
        out["ok"] = False
        out["message"] = ("pandas is needed for tabular input, but %s cannot import it "
                          "(ModuleNotFoundError: No module named 'pandas'); install it with: "
                          "%s -m pip install pandas" % (sys.executable, sys.executable))
    print(json.dumps(out))
    return 0


def shuffle_main(ranges_path, spill_dir, keys_json, tabular_path):
    import json
    with open(tabular_path, encoding="utf-8") as f:
        tab = _load_tabular_module(f.read())
    keys = json.loads(keys_json)
    with open(ranges_path, "rb") as f:
        data = f.read()
    offset = 0
    while offset < len(data):
        range_id, n = struct.unpack_from("<QI", data, offset)
        offset += 12
        raw = data[offset:offset + n]
        offset += n
        d = tab.decode_descriptor(raw)
        try:
            groups = tab.spill_partitions([d], keys, spill_dir, "%d" % range_id)
        except Exception as exc:
            lines = str(exc).strip().splitlines()
            sys.stderr.write("cannot partition %s: %s: %s\n" % (
                _range_label(d), type(exc).__name__, lines[0] if lines else ""))
            return 1
        sys.stdout.write(json.dumps({"range": range_id, "groups": groups}) + "\n")
        sys.stdout.flush()
    return 0


def main(argv):
    global _DRIVER_MAIN
    _DRIVER_MAIN = True
    if len(argv) >= 2 and argv[1] == "check":
        return check_main(argv[2])
    if len(argv) == 3 and argv[1] == "zygote":
        return zygote_main(argv[2])
    if len(argv) == 2 and argv[1] == "check-tabular":
        return check_tabular_main()
    if len(argv) == 6 and argv[1] == "shuffle":
        return shuffle_main(*argv[2:])
    return worker_main()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
