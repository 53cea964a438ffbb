#include "python_locator.h"

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "worker_process.h"

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

}  // namespace

std::string WorkerDriverSource() {
  return std::string(kWorkerDriverSource, kWorkerDriverSource_size);
}

std::string WorkerTabularSource() {
  return std::string(kWorkerTabularSource, kWorkerTabularSource_size);
}

Result<TabularSupport> CheckTabular(const std::string& executable,
                                    const std::vector<std::string>& env,
                                    const std::string& need_pyarrow) {
  int code = 0;
  std::string err;
  auto out = RunToCompletion(executable, {"-c", WorkerDriverSource(), "check-tabular"}, env, &code,
                             &err);
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
  auto out = RunToCompletion(python.path, {"-c", WorkerDriverSource(), "check", entry_script}, env,
                             &code, &err);
  if (!out.ok()) return out.status().WithContext(fmt::format("Python from {}", python.source));
  auto j = nlohmann::json::parse(*out, nullptr, false);
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
