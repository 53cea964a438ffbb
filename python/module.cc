// parallelrun._core: the C++ library as the Python package (python/parallelrun)
// calls it. Plain types cross the boundary (dicts, lists, str); the package
// turns them into Job objects, DataFrames and exceptions. Only
// include/parallelrun/ is used, as by the command line.
//
// A job runs on the calling thread with the GIL released. While it runs the
// job's own watch takes SIGINT/SIGTERM/SIGHUP (lib/job/node_loop.h): Ctrl-C
// in a REPL, or a notebook's "interrupt kernel" (SIGINT to the kernel),
// stops it as it stops the command — dispatching stops, workers get SIGTERM
// and a grace, the partial report is written — and the call returns
// Interrupted, which the package raises as KeyboardInterrupt. The watch
// leaves SIG_DFL behind, so the interpreter's handlers are saved before and
// put back after; without that the next Ctrl-C would kill the interpreter.
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "parallelrun/exit_codes.h"
#include "parallelrun/job.h"
#include "parallelrun/pipeline.h"
#include "parallelrun/run.h"
#include "parallelrun/run_settings.h"

namespace py = pybind11;

namespace {

using parallelrun::Status;

const char* CodeName(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return "ok";
    case Status::Code::kUsage: return "usage";
    case Status::Code::kJobFailed: return "job_failed";
    case Status::Code::kInfrastructure: return "infrastructure";
    case Status::Code::kInterrupted: return "interrupted";
  }
  return "infrastructure";
}

// The interpreter's handlers of the signals the job's watch takes, put back
// when this goes out of scope.
class SavedSignals {
 public:
  SavedSignals() {
    for (size_t i = 0; i < kCount; i++) sigaction(kSignals[i], nullptr, &saved_[i]);
  }
  ~SavedSignals() {
    for (size_t i = 0; i < kCount; i++) sigaction(kSignals[i], &saved_[i], nullptr);
  }
  SavedSignals(const SavedSignals&) = delete;
  SavedSignals& operator=(const SavedSignals&) = delete;

 private:
  static constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
  static constexpr size_t kCount = sizeof kSignals / sizeof kSignals[0];
  struct sigaction saved_[kCount];
};

// A FILE* whose lines go to a Python callable (sys.stderr.write, or a
// notebook's stream, which C's stderr would bypass). The job writes from
// its own threads with the GIL released; each write takes the GIL.
class PyWriter {
 public:
  explicit PyWriter(py::object write) : write_(std::move(write)) {
    cookie_io_functions_t io{};
    io.write = &PyWriter::Write;
    file_ = fopencookie(this, "w", io);
    if (file_) setvbuf(file_, nullptr, _IOLBF, 0);
  }
  ~PyWriter() {
    if (file_) fclose(file_);
  }
  PyWriter(const PyWriter&) = delete;
  PyWriter& operator=(const PyWriter&) = delete;
  FILE* file() const { return file_ ? file_ : stderr; }

 private:
  static ssize_t Write(void* cookie, const char* data, size_t size) {
    auto* self = static_cast<PyWriter*>(cookie);
    py::gil_scoped_acquire gil;
    try {
      self->write_(py::str(data, size));
    } catch (py::error_already_set&) {
      // A closed or broken stream loses the progress lines, not the job.
    }
    return static_cast<ssize_t>(size);
  }

  py::object write_;
  FILE* file_ = nullptr;
};

// What a memory FILE* collected (validate's and tune's text).
class MemoryOut {
 public:
  MemoryOut() { file_ = open_memstream(&buf_, &size_); }
  ~MemoryOut() {
    if (file_) fclose(file_);
    free(buf_);
  }
  MemoryOut(const MemoryOut&) = delete;
  MemoryOut& operator=(const MemoryOut&) = delete;
  FILE* file() const { return file_ ? file_ : stderr; }
  std::string Text() {
    if (!file_) return "";
    fflush(file_);
    return std::string(buf_, size_);
  }

 private:
  FILE* file_ = nullptr;
  char* buf_ = nullptr;
  size_t size_ = 0;
};

template <typename T>
void Take(const py::dict& d, const char* key, T* out) {
  if (d.contains(key) && !d[key].is_none()) *out = d[key].cast<T>();
}

// The request dict the package builds (parallelrun/__init__.py _request).
parallelrun::RunRequest ToRunRequest(const py::dict& d) {
  parallelrun::RunRequest r;
  Take(d, "spec", &r.spec_path);
  Take(d, "inputs", &r.inputs);
  Take(d, "outputs", &r.outputs);
  Take(d, "overrides", &r.overrides);
  Take(d, "settings", &r.settings);
  Take(d, "args", &r.passthrough);
  Take(d, "model", &r.model);
  Take(d, "job_dir", &r.job_dir);
  Take(d, "allow_output_in_input", &r.allow_output_in_input);
  Take(d, "python", &r.python);
  Take(d, "start_method", &r.start_method);
  Take(d, "progress", &r.progress);
  Take(d, "dry_run", &r.dry_run);
  Take(d, "rerun_failed", &r.rerun_failed);
  Take(d, "force", &r.force);
  Take(d, "environment", &r.environment);
  Take(d, "cwd", &r.cwd);
  Take(d, "stderr_is_tty", &r.stderr_is_tty);
  r.cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return r;
}

py::dict Outcome(const parallelrun::Job& job) {
  py::dict d;
  d["code"] = CodeName(job.status());
  d["exit_code"] = job.exit_code();
  d["message"] = job.status().message();
  d["job_dir"] = job.job_dir();
  const auto& c = job.counts();
  py::dict counts;
  counts["mini_batches"] = c.mini_batches;
  counts["succeeded"] = c.succeeded;
  counts["failed"] = c.failed;
  counts["attempts"] = c.attempts;
  counts["items"] = c.items;
  counts["items_succeeded"] = c.items_succeeded;
  counts["items_failed"] = c.items_failed;
  d["counts"] = counts;
  if (!job.job_dir().empty()) {
    d["processed_mini_batches_csv"] = job.ProcessedMiniBatchesCsv();
    d["process_summary_csv"] = job.ProcessSummaryCsv();
    d["node_summary_csv"] = job.NodeSummaryCsv();
    d["job_result"] = job.JobResultPath();
  }
  return d;
}

py::dict StatusDict(const Status& s, const std::string& text) {
  py::dict d;
  d["code"] = CodeName(s);
  d["exit_code"] = parallelrun::ExitCodeFor(s);
  d["message"] = s.message();
  d["text"] = text;
  return d;
}

py::dict Run(const py::dict& request, py::object write) {
  parallelrun::JobRequest req;
  req.run = ToRunRequest(request);
  Take(request, "only_job", &req.only_job);
  PyWriter out(std::move(write));
  MemoryOut plan;
  req.run.plan_out = plan.file();
  parallelrun::Job job;
  {
    SavedSignals saved;
    py::gil_scoped_release unlocked;
    job = parallelrun::Job::Run(req, out.file());
  }
  py::dict d = Outcome(job);
  d["plan"] = plan.Text();
  return d;
}

py::dict Resume(const std::string& job_dir, const py::dict& options, py::object write) {
  parallelrun::RunRequest opts = ToRunRequest(options);
  PyWriter out(std::move(write));
  parallelrun::Job job;
  {
    SavedSignals saved;
    py::gil_scoped_release unlocked;
    job = parallelrun::Job::Resume(job_dir, opts, out.file());
  }
  return Outcome(job);
}

py::dict Validate(const py::dict& request) {
  parallelrun::RunRequest req = ToRunRequest(request);
  MemoryOut out;
  Status s;
  {
    py::gil_scoped_release unlocked;
    s = parallelrun::IsPipeline(req.spec_path)
            ? parallelrun::ValidatePipeline(req.spec_path, req.environment, req.python,
                                            out.file())
            : parallelrun::ValidateJob(req, out.file());
  }
  return StatusDict(s, out.Text());
}

py::dict Report(const std::string& job_dir, const std::string& path) {
  parallelrun::Result<std::string> written = Status::Infrastructure("not written");
  {
    py::gil_scoped_release unlocked;
    written = parallelrun::WriteJobReport(job_dir, path);
  }
  if (!written.ok()) return StatusDict(written.status(), "");
  return StatusDict(Status::Ok(), *written);
}

py::dict Tune(const std::string& job_dir, int gpus) {
  MemoryOut out;
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Status s;
  {
    py::gil_scoped_release unlocked;
    s = parallelrun::TuneJobDir(job_dir, cores, gpus, out.file());
  }
  return StatusDict(s, out.Text());
}

// Every name a setting may be given by (canonical and aliases), for the
// package's check of run()'s keyword arguments.
std::vector<std::string> SettingNames() {
  std::vector<std::string> names;
  for (const auto& s : parallelrun::AllSettings()) names.push_back(s.name);
  for (const auto& a : parallelrun::SettingAliases()) names.push_back(a.name);
  return names;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "parallelrun's C++ library (use the parallelrun package, not this module)";
  m.attr("version") = PARALLELRUN_VERSION;
  m.def("run", &Run, py::arg("request"), py::arg("write"));
  m.def("resume", &Resume, py::arg("job_dir"), py::arg("options"), py::arg("write"));
  m.def("validate", &Validate, py::arg("request"));
  m.def("report", &Report, py::arg("job_dir"), py::arg("path"));
  m.def("tune", &Tune, py::arg("job_dir"), py::arg("gpus"));
  m.def("setting_names", &SettingNames);
  m.def("suggest", &parallelrun::SuggestName, py::arg("word"), py::arg("candidates"));
}
