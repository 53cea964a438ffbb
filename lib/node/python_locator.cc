#include "node/python_locator.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "node/supervised_process.h"
#include "node/zygote.h"

namespace parallelrun {

extern const char kWorkerDriverSource[];
extern const unsigned long kWorkerDriverSource_size;
extern const char kWorkerTabularSource[];
extern const unsigned long kWorkerTabularSource_size;

namespace {

std::string GetEnv(const std::vector<std::string>& env, const std::string& name) {
  for (const auto& kv : env) {
    if (kv.size() > name.size() && kv.compare(0, name.size(), name) == 0 && kv[name.size()] == '=') {
      return kv.substr(name.size() + 1);
    }
  }
  return "";
}

bool Executable(const std::string& path) { return access(path.c_str(), X_OK) == 0; }

std::string SearchPath(const std::string& name, const std::string& path_var) {
  size_t start = 0;
  while (start <= path_var.size()) {
    size_t end = path_var.find(':', start);
    if (end == std::string::npos) end = path_var.size();
    std::string dir = path_var.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (Executable(candidate)) return candidate;
    start = end + 1;
  }
  return "";
}

// How long a pre-flight check may take: Python's start and reading a
// script take well under a second; a minute means something hangs (an
// interpreter wrapper waiting on the network, a stalled file system).
// PARALLELRUN_PREFLIGHT_TIMEOUT (seconds, in `env`) sets another.
std::chrono::milliseconds PreflightDeadline(const std::vector<std::string>& env) {
  std::string v = GetEnv(env, "PARALLELRUN_PREFLIGHT_TIMEOUT");
  char* end = nullptr;
  double seconds = v.empty() ? 0 : strtod(v.c_str(), &end);
  if (seconds > 0 && end && *end == '\0') {
    return std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
  }
  return std::chrono::minutes(1);
}

}  // namespace

std::string WorkerDriverSource() {
  return std::string(kWorkerDriverSource, kWorkerDriverSource_size);
}

std::string WorkerTabularSource() {
  return std::string(kWorkerTabularSource, kWorkerTabularSource_size);
}

namespace {

// Writes `source` to dir/module.py unless it is there already (the name
// carries the source's hash, so a file of that name holds that source).
bool CacheModule(const std::string& dir, const std::string& module, const std::string& source) {
  std::string path = dir + "/" + module + ".py";
  if (access(path.c_str(), R_OK) == 0) return true;
  std::string tmp = fmt::format("{}.{}.tmp", path, getpid());
  FILE* f = fopen(tmp.c_str(), "we");
  if (!f) return false;
  bool ok = fwrite(source.data(), 1, source.size(), f) == source.size();
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return false;
  }
  return true;
}

// The name tells versions of the source apart; the folder is the user's
// own (CachedDriver), so no one else can plant a file under a colliding name
// and a non-cryptographic hash is enough. FNV-1a, not SHA-256: this runs
// before the zygote starts, on every job's critical path, and the first
// SHA-256 of a process initialises OpenSSL (its config, its providers):
// 2-18 ms on this project's VMs.
std::string ModuleName(const char* prefix, const std::string& source) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : source) hash = (hash ^ c) * 0x100000001b3ull;
  return fmt::format("{}{:016x}", prefix, hash);
}

struct DriverCache {
  std::string dir;      // "" when the cache cannot be used
  std::string driver;   // module names in dir
  std::string tabular;
};

// Writes the driver and worker_tabular.py to /tmp/parallelrun-<uid>/ as
// parallelrun_driver_<hash>.py and parallelrun_tabular_<hash>.py, once;
// returns no folder when it is not ours or not writable.
DriverCache CachedDriver() {
  std::string dir = fmt::format("/tmp/parallelrun-{}", getuid());
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return {};
  struct stat st;
  // Someone else's folder, or one others may write to, must not feed code
  // to our workers.
  if (lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
      (st.st_mode & 022) != 0) {
    return {};
  }
  DriverCache cache{dir, ModuleName("parallelrun_driver_", WorkerDriverSource()),
                    ModuleName("parallelrun_tabular_", WorkerTabularSource())};
  if (!CacheModule(dir, cache.tabular, WorkerTabularSource()) ||
      !CacheModule(dir, cache.driver, WorkerDriverSource())) {
    return {};
  }
  return cache;
}

// `data` as a Python bytes literal.
std::string BytesLiteral(const std::string& data) {
  std::string out = "b\"";
  for (char c : data) {
    auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      out += fmt::format("\\x{:02x}", b);
    }
  }
  out.push_back('"');
  return out;
}

}  // namespace

std::vector<std::string> DriverArgs(const std::vector<std::string>& driver_args) {
  static const DriverCache cached = CachedDriver();
  std::vector<std::string> args;
  if (cached.dir.empty()) {
    // worker_tabular.py goes in front of the driver as TABULAR_SOURCE: ~55
    // KB together, under Linux's 128 KiB limit on one argument.
    args = {"-c", "TABULAR_SOURCE = " + BytesLiteral(WorkerTabularSource()) + "\n" +
                      WorkerDriverSource()};
  } else {
    // The bytecode is written even under PYTHONDONTWRITEBYTECODE or -B,
    // which are about the user's folders, not this cache: without it every
    // Python start compiles the driver again (25-40 ms, before the zygote's
    // check on every job's critical path). The user's setting is back before
    // any of their code runs.
    args = {"-c", fmt::format("import sys; b = sys.dont_write_bytecode; "
                              "sys.dont_write_bytecode = False; sys.path.insert(0, '{0}'); "
                              "import {1} as d; del sys.path[0]; sys.dont_write_bytecode = b; "
                              "del b; d.TABULAR_PATH = '{0}/{2}.py'; sys.exit(d.main(sys.argv))",
                              cached.dir, cached.driver, cached.tabular)};
  }
  args.insert(args.end(), driver_args.begin(), driver_args.end());
  return args;
}

Result<TabularSupport> CheckTabular(const std::string& executable,
                                    const std::vector<std::string>& env,
                                    const std::string& need_pyarrow) {
  int code = 0;
  std::string err;
  auto out = RunToCompletion(executable, DriverArgs({"check-tabular"}), env, &code, &err,
                             PreflightDeadline(env),
                             "the deadline of the check for pandas (Python's start and looking up "
                             "pandas in its site-packages; PARALLELRUN_PREFLIGHT_TIMEOUT)");
  if (!out.ok()) return out.status().WithContext("checking pandas");
  auto j = nlohmann::json::parse(*out, nullptr, false);
  if (code != 0 || j.is_discarded() || !j.is_object()) {
    std::string tail = err.size() > 600 ? err.substr(err.size() - 600) : err;
    return Status::Infrastructure(fmt::format(
        "{} could not run the parallelrun check for tabular input (exit code {}){}{}", executable,
        code, tail.empty() ? "" : ":\n", tail));
  }
  if (!j.value("ok", false)) return Status::Infrastructure(j.value("message", ""));
  TabularSupport support;
  support.pandas_version = j["pandas"].is_string() ? j["pandas"].get<std::string>() : "";
  support.pyarrow_version = j["pyarrow"].is_string() ? j["pyarrow"].get<std::string>() : "";
  if (!need_pyarrow.empty() && support.pyarrow_version.empty()) {
    return Status::Infrastructure(fmt::format(
        "{} reads Parquet, which needs pyarrow, but {} cannot import it; install it with: {} -m "
        "pip install pyarrow",
        need_pyarrow, executable, executable));
  }
  return support;
}

Result<PythonChoice> ChoosePython(const std::string& flag, const std::vector<std::string>& env) {
  std::string path_var = GetEnv(env, "PATH");
  auto resolve = [&](const std::string& p) {
    return p.find('/') == std::string::npos ? SearchPath(p, path_var) : p;
  };
  if (!flag.empty()) {
    std::string p = resolve(flag);
    if (p.empty() || !Executable(p)) {
      return Status::Usage(fmt::format("--python {}: not an executable file", flag));
    }
    return PythonChoice{p, "--python"};
  }
  std::string v = GetEnv(env, "PARALLELRUN_PYTHON");
  if (!v.empty()) {
    std::string p = resolve(v);
    if (p.empty() || !Executable(p)) {
      return Status::Usage(fmt::format("PARALLELRUN_PYTHON={}: not an executable file", v));
    }
    return PythonChoice{p, "PARALLELRUN_PYTHON"};
  }
  for (const char* var : {"VIRTUAL_ENV", "CONDA_PREFIX"}) {
    std::string prefix = GetEnv(env, var);
    if (prefix.empty()) continue;
    for (const char* name : {"/bin/python3", "/bin/python"}) {
      if (Executable(prefix + name)) return PythonChoice{prefix + name, std::string("$") + var};
    }
  }
  std::string p = SearchPath("python3", path_var);
  if (!p.empty()) return PythonChoice{p, "python3 on PATH"};
  return Status::Infrastructure(
      "no Python found: python3 is not on PATH; install Python 3.8 or newer, or name one with "
      "--python PATH or PARALLELRUN_PYTHON");
}

Result<Preflight> CheckEntryScript(const PythonChoice& python, const std::string& entry_script,
                                   const std::vector<std::string>& env) {
  int code = 0;
  std::string err;
  // -I -S: the check only parses the script, so it skips site-packages and
  // the user's environment and starts in about two thirds of the time.
  std::vector<std::string> args = {"-I", "-S"};
  for (auto& a : DriverArgs({"check", entry_script})) args.push_back(std::move(a));
  auto out = RunToCompletion(
      python.path, args, env, &code, &err, PreflightDeadline(env),
      fmt::format("the deadline of the pre-flight check, which only starts Python (-I -S) and "
                  "reads and parses entry script {} without running it: the interpreter's start "
                  "or reading the script hung (PARALLELRUN_PREFLIGHT_TIMEOUT)",
                  entry_script));
  if (!out.ok()) return out.status().WithContext(fmt::format("Python from {}", python.source));
  return ReadEntryScriptCheck(python, entry_script, code, *out, err);
}

Result<Preflight> CheckEntryScriptInZygote(const PythonChoice& python,
                                           const std::string& entry_script, Zygote* zygote,
                                           const std::vector<std::string>& env, int stop_fd) {
  auto check = zygote->ReadCheck(
      PreflightDeadline(env),
      fmt::format("the deadline of the pre-flight check, which starts Python and reads and "
                  "parses entry script {} without running it: the interpreter's start or "
                  "reading the script hung (PARALLELRUN_PREFLIGHT_TIMEOUT)",
                  entry_script),
      stop_fd);
  if (!check.ok() && check.status().code() == Status::Code::kInterrupted) return check.status();
  if (!check.ok()) return check.status().WithContext(fmt::format("Python from {}", python.source));
  return ReadEntryScriptCheck(python, entry_script, check->json.empty() ? check->exit_code : 0,
                              check->json, check->stderr_tail);
}

Result<Preflight> ReadEntryScriptCheck(const PythonChoice& python, const std::string& entry_script,
                                       int code, const std::string& out, const std::string& err) {
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (code != 0 || j.is_discarded() || !j.is_object()) {
    std::string tail = err.size() > 600 ? err.substr(err.size() - 600) : err;
    return Status::Infrastructure(fmt::format(
        "{} (from {}) could not run the parallelrun worker driver (exit code {}){}{}", python.path,
        python.source, code, tail.empty() ? "" : ":\n", tail));
  }
  Preflight pf;
  pf.executable = j.value("executable", python.path);
  if (pf.executable.empty()) pf.executable = python.path;
  pf.version = j.value("python_version", "");
  if (!j.value("version_ok", false)) {
    return Status::Infrastructure(fmt::format("{} is Python {}; parallelrun needs 3.8 or newer",
                                              python.path, pf.version));
  }
  if (!j.value("ok", false)) {
    if (j.value("kind", "") == "syntax") {
      std::string text = j.value("text", "");
      int col = j.value("col", 0);
      std::string caret = col > 0 ? std::string(static_cast<size_t>(col - 1), ' ') + "^" : "";
      for (size_t i = 0; i < caret.size() && i < text.size(); i++) {
        if (text[i] == '\t') caret[i] = '\t';
      }
      return Status::Usage(fmt::format("{}:{}:{}: SyntaxError in the entry script: {}\n  {}\n  {}",
                                       j.value("file", entry_script), j.value("line", 0), col,
                                       j.value("message", ""), text, caret));
    }
    return Status::Usage(fmt::format("entry script {}: {}", entry_script, j.value("message", "")));
  }
  if (!j.value("defines_run", false)) {
    return Status::Usage(fmt::format(
        "entry script {} does not define run(mini_batch); parallelrun calls init() once per "
        "worker, run(mini_batch) for every mini-batch and shutdown() at the end",
        entry_script));
  }
  pf.defines_init = j.value("defines_init", false);
  return pf;
}

}  // namespace parallelrun
