// Which Python the workers use (DESIGN.md §4): --python, PARALLELRUN_PYTHON,
// $VIRTUAL_ENV, $CONDA_PREFIX, python3 on PATH — in that order — checked once
// by running the worker driver's pre-flight check, which also resolves a
// launcher shim (pyenv: ~200 ms per start) to the real interpreter (~20 ms)
// and compiles the entry script, so that a broken script is reported before
// any worker starts.
#ifndef PARALLELRUN_NODE_PYTHON_LOCATOR_H_
#define PARALLELRUN_NODE_PYTHON_LOCATOR_H_

#include <string>
#include <vector>

#include "parallelrun/status.h"

namespace parallelrun {

struct PythonChoice {
  std::string path;    // as found (absolute)
  std::string source;  // "--python", "PARALLELRUN_PYTHON", "$VIRTUAL_ENV", …
};

// Picks the interpreter. `env` is the process environment ("NAME=value").
Result<PythonChoice> ChoosePython(const std::string& flag, const std::vector<std::string>& env);

struct Preflight {
  std::string executable;      // sys.executable: what workers start
  std::string version;         // "3.11.2"
  bool defines_init = false;
};

// Runs the driver's check of `entry_script` with `python`. Errors: Usage for
// a syntax error ("file:line:col: SyntaxError: …" with the line and a caret)
// or a script without run(); Infrastructure when Python does not start or is
// older than 3.8.
Result<Preflight> CheckEntryScript(const PythonChoice& python, const std::string& entry_script,
                                   const std::vector<std::string>& env);

class Zygote;
// The same check, made by the zygote of the start method fork (node/zygote.h)
// as the first thing it does, so that its Python start serves both. An
// Interrupted error once `stop_fd` (when not -1) is readable (Zygote::ReadCheck).
Result<Preflight> CheckEntryScriptInZygote(const PythonChoice& python,
                                           const std::string& entry_script, Zygote* zygote,
                                           const std::vector<std::string>& env,
                                           int stop_fd = -1);
// Reads the check's JSON `out` (from a process that exited with `code` and
// wrote `err` to stderr) into a Preflight or the error it reports.
Result<Preflight> ReadEntryScriptCheck(const PythonChoice& python, const std::string& entry_script,
                                       int code, const std::string& out, const std::string& err);

// What the interpreter offers for tabular input (the driver's check-tabular).
struct TabularSupport {
  std::string pandas_version;
  std::string pyarrow_version;  // "" when pyarrow cannot be imported
};

// Checks, before any worker starts, that `executable` (the workers'
// interpreter) has pandas — and pyarrow when `need_pyarrow` names the input
// that reads Parquet ("" = not needed). The modules are found, not imported
// (a broken install fails the workers' init()). Errors are Infrastructure and
// name the interpreter: "pandas is needed for tabular input, but
// /venv/bin/python3 cannot import it (ModuleNotFoundError: …); install it
// with: /venv/bin/python3 -m pip install pandas".
Result<TabularSupport> CheckTabular(const std::string& executable,
                                    const std::vector<std::string>& env,
                                    const std::string& need_pyarrow);

// The worker driver's source, embedded at build time.
std::string WorkerDriverSource();

// The interpreter arguments that run the driver with `driver_args` (e.g.
// {"worker"}): `-c` with a bootstrap that imports a cached copy of the
// driver, so that Python keeps its compiled bytecode — compiling the driver
// from `-c` source costs ~25 ms at every worker start (the bytecode is
// written there even under PYTHONDONTWRITEBYTECODE). worker_tabular.py is
// cached beside it and the bootstrap tells the driver where (TABULAR_PATH),
// so that it too is compiled once. The cache is /tmp/parallelrun-<uid>/
// (ours alone, 0700); if it cannot be used, the sources themselves go in
// `-c` (worker_tabular.py as TABULAR_SOURCE in front of the driver).
std::vector<std::string> DriverArgs(const std::vector<std::string>& driver_args);
// lib/node/worker_tabular.py, embedded at build time (DriverArgs caches it;
// a shuffle gets it as a file of the job).
std::string WorkerTabularSource();

}  // namespace parallelrun

#endif  // PARALLELRUN_NODE_PYTHON_LOCATOR_H_
