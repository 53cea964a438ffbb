#include "job/job_dir_state.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/hmac.h"
#include "base/job_dir.h"
#include "base/text.h"
#include "job/node_loop.h"

namespace parallelrun {

namespace {

using nlohmann::json;

// SHA-256 of a file's bytes in hex, or "missing: <reason>".
std::string FileDigest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "missing: " + ErrnoText(errno);
  std::stringstream ss;
  ss << in.rdbuf();
  return HexEncode(Sha256Digest(ss.str()));
}

}  // namespace

std::string JournalPath(const std::string& job_dir) { return job_dir + "/journal"; }

namespace {

// "<job dir> is in use …" when another process holds the lock on `fd`; Ok
// when this process now holds it.
Status TryLock(const std::string& job_dir, const std::string& path, int fd) {
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return Status::Ok();
  int err = errno;
  if (err != EWOULDBLOCK) return Status::Infrastructure(ErrnoMessage(path, err));
  std::string holder;
  char buf[512];
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  if (n > 0) holder.assign(buf, static_cast<size_t>(n));
  while (!holder.empty() && (holder.back() == '\n' || holder.back() == '\0')) holder.pop_back();
  return Status::Usage(fmt::format(
      "job dir {} is in use by another parallelrun ({}); wait for it to end, or give another "
      "--job-dir",
      job_dir, holder.empty() ? "its pid is not written yet" : Printable(holder)));
}

}  // namespace

Status JobDirLock::CheckFree(const std::string& job_dir) {
  std::string path = job_dir + "/lock";
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::Ok();  // no lock file: nobody ran here
  // Taking it for a moment is the only way to ask; it is released at once.
  return TryLock(job_dir, path, fd.get());
}

Result<JobDirLock> JobDirLock::Acquire(const std::string& job_dir) {
  std::string path = job_dir + "/lock";
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::Infrastructure(ErrnoMessage(path, errno));
  Status locked = TryLock(job_dir, path, fd.get());
  // Other nodes ask whether a master lives by taking the lock for a moment
  // (CheckFree; job/failover.h): a few tries keep such a question from
  // refusing the master itself.
  for (int i = 0; i < 5 && locked.code() == Status::Code::kUsage; i++) {
    usleep(20000);
    locked = TryLock(job_dir, path, fd.get());
  }
  if (!locked.ok()) return locked;
  std::string who = fmt::format("pid {} on host {} since {}\n", getpid(), Hostname(),
                                IsoTime(WallSeconds()).substr(0, 19));
  if (ftruncate(fd.get(), 0) != 0 || pwrite(fd.get(), who.data(), who.size(), 0) < 0) {
    return Status::Infrastructure(ErrnoMessage(path, errno));
  }
  return JobDirLock(std::move(fd));
}

Result<std::optional<EarlierJob>> ReadEarlierJob(const std::string& job_dir) {
  std::string path = JournalPath(job_dir);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return std::optional<EarlierJob>();
  EarlierJob job;
  bool have_first = false;
  auto read = ReadJournal(path, [&](JournalRecord&& r) {
    if (auto* run = std::get_if<JournalRunStarted>(&r)) {
      if (!have_first) job.first = *run;
      have_first = true;
      job.runs++;
      job.ended = false;
    } else if (auto* end = std::get_if<JournalRunEnded>(&r)) {
      job.ended = true;
      job.status_code = end->status_code;
      job.end_message = end->message;
    }
    return Status::Ok();
  });
  if (!read.ok()) return read.status();
  if (!have_first) return std::optional<EarlierJob>();
  return std::optional<EarlierJob>(std::move(job));
}

Status CheckJobDirIsNew(const std::string& job_dir) {
  auto earlier = ReadEarlierJob(job_dir);
  if (!earlier.ok()) return earlier.status();
  if (earlier->has_value()) {
    const EarlierJob& job = **earlier;
    std::string how;
    if (!job.ended) {
      how = "did not end (it was killed or its machine stopped)";
    } else if (job.status_code == 0) {
      how = "succeeded";
    } else {
      how = "ended: " + job.end_message;
    }
    return Status::Usage(fmt::format(
        "job dir {} already holds a job, which {}; continue it with: {} (add --rerun-failed to "
        "run its failed mini-batches again), or give a new --job-dir",
        job_dir, how, ResumeCommand(job_dir)));
  }
  // A master's logs without a journal: a run of an older parallelrun. (The
  // other nodes of a job may have made their folders already: those are
  // this job's.)
  struct stat st;
  if (stat(MasterLogPath(job_dir, 0).c_str(), &st) == 0 ||
      stat(ProcessedMiniBatchesCsv(job_dir).c_str(), &st) == 0) {
    return Status::Usage(fmt::format(
        "job dir {} already holds logs of another run; give a new --job-dir (the logs of two "
        "runs are never mixed)",
        job_dir));
  }
  return Status::Ok();
}

std::string EncodeRunRequest(const RunRequest& r) {
  json j;
  j["version"] = 1;
  j["spec_path"] = r.spec_path;
  auto pairs = [](const std::vector<std::pair<std::string, std::string>>& v) {
    json a = json::array();
    for (const auto& [k, val] : v) a.push_back({k, val});
    return a;
  };
  j["inputs"] = pairs(r.inputs);
  j["outputs"] = pairs(r.outputs);
  j["overrides"] = pairs(r.overrides);
  j["settings"] = r.settings;
  j["passthrough"] = r.passthrough;
  j["job_dir"] = r.job_dir;
  j["model"] = r.model;
  j["python"] = r.python;
  j["progress"] = r.progress;
  j["node_rank"] = r.node_rank;
  j["node_count"] = r.node_count;
  j["master_addr"] = r.master_addr;
  j["master_port"] = r.master_port;
  j["agent_per_process"] = r.agent_per_process;
  j["token_file"] = r.token_file;
  j["insecure_derived_secret"] = r.insecure_derived_secret;
  j["tls"] = r.tls;
  j["tls_cert"] = r.tls_cert;
  j["tls_key"] = r.tls_key;
  j["tls_ca"] = r.tls_ca;
  j["cwd"] = r.cwd;
  // Not UTF-8-safe in general (paths): keep bytes as they are.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<RunRequest> DecodeRunRequest(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Infrastructure("the journal's request is not JSON");
  }
  RunRequest r;
  std::string field;
  try {
    field = "version";
    if (j.at("version").get<int>() != 1) {
      return Status::Infrastructure("the journal's request has an unknown version");
    }
    field = "spec_path";
    r.spec_path = j.at("spec_path").get<std::string>();
    for (const char* name : {"inputs", "outputs", "overrides"}) {
      field = name;
      auto& out = std::string(name) == "inputs"    ? r.inputs
                  : std::string(name) == "outputs" ? r.outputs
                                                   : r.overrides;
      // Journals written before --set existed have no overrides.
      if (std::string(name) == "overrides" && !j.contains(name)) continue;
      for (const auto& p : j.at(name)) {
        out.emplace_back(p.at(0).get<std::string>(), p.at(1).get<std::string>());
      }
    }
    field = "settings";
    r.settings = j.at("settings").get<std::map<std::string, std::string>>();
    field = "passthrough";
    r.passthrough = j.at("passthrough").get<std::vector<std::string>>();
    field = "job_dir";
    r.job_dir = j.at("job_dir").get<std::string>();
    // Journals written before --model existed have none.
    field = "model";
    if (j.contains("model")) r.model = j.at("model").get<std::string>();
    field = "python";
    r.python = j.at("python").get<std::string>();
    field = "progress";
    r.progress = j.at("progress").get<std::string>();
    field = "node_rank";
    r.node_rank = j.at("node_rank").get<std::string>();
    field = "node_count";
    r.node_count = j.at("node_count").get<std::string>();
    field = "master_addr";
    r.master_addr = j.at("master_addr").get<std::string>();
    field = "master_port";
    r.master_port = j.at("master_port").get<std::string>();
    field = "agent_per_process";
    r.agent_per_process = j.at("agent_per_process").get<bool>();
    field = "cwd";
    r.cwd = j.at("cwd").get<std::string>();
    // Not in journals written before these flags existed.
    field = "token_file";
    if (j.contains(field)) r.token_file = j.at(field).get<std::string>();
    field = "insecure_derived_secret";
    if (j.contains(field)) r.insecure_derived_secret = j.at(field).get<bool>();
    field = "tls";
    if (j.contains(field)) r.tls = j.at(field).get<bool>();
    for (auto [name, value] : {std::pair{"tls_cert", &r.tls_cert}, std::pair{"tls_key", &r.tls_key},
                               std::pair{"tls_ca", &r.tls_ca}}) {
      field = name;
      if (j.contains(field)) *value = j.at(field).get<std::string>();
    }
  } catch (const json::exception& e) {
    return Status::Infrastructure("the journal's request: field " + field + ": " + e.what());
  }
  return r;
}

std::string Fingerprints(const JobPlan& plan) {
  json j;
  j["spec"] = {{"path", plan.spec.path}, {"sha256", FileDigest(plan.spec.path)}};
  j["entry_script"] = {{"path", plan.spec.entry_script},
                       {"sha256", FileDigest(plan.spec.entry_script)}};
  json inputs = json::array();
  for (size_t i = 0; i < plan.input_names.size(); i++) {
    inputs.push_back({{"name", plan.input_names[i]}, {"path", plan.input_paths[i]}});
  }
  j["inputs"] = inputs;
  // What decides how the inputs become mini-batches and where rows go.
  j["mini_batch_size"] = plan.settings.mini_batch_size;
  j["partition_keys"] = plan.settings.partition_keys;
  j["append_row"] = plan.append_row ? plan.append_row->output_dir + "/" + plan.append_row->file_name
                                    : std::string();
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Status CompareFingerprints(const std::string& then_text, const std::string& now_text, bool force,
                           std::string* warning) {
  json then = json::parse(then_text, nullptr, false);
  json now = json::parse(now_text, nullptr, false);
  if (then.is_discarded() || !then.is_object()) {
    return Status::Infrastructure("the journal's fingerprints are not JSON");
  }
  std::vector<std::string> changed;
  auto file = [&](const char* key, const char* what) {
    if (then.value(key, json()) == now.value(key, json())) return;
    std::string was = then[key].value("sha256", "");
    std::string is = now[key].value("sha256", "");
    std::string path = now[key].value("path", "");
    if (then[key].value("path", "") != path) {
      changed.push_back(fmt::format("the {} is now {} (was {})", what, path,
                                    then[key].value("path", "")));
    } else {
      changed.push_back(fmt::format("the {} {} changed (sha256 {} → {})", what, path,
                                    was.substr(0, 12), is.substr(0, 12)));
    }
  };
  file("spec", "spec");
  file("entry_script", "entry script");
  if (then.value("inputs", json()) != now.value("inputs", json())) {
    changed.push_back(fmt::format("the inputs are now {} (were {})", now["inputs"].dump(),
                                  then["inputs"].dump()));
  }
  for (const char* key : {"mini_batch_size", "partition_keys", "append_row"}) {
    if (then.value(key, json()) != now.value(key, json())) {
      changed.push_back(fmt::format("{} is now {} (was {})", key, now[key].dump(), then[key].dump()));
    }
  }
  if (changed.empty()) return Status::Ok();
  std::string list;
  for (const auto& c : changed) list += (list.empty() ? "" : "; ") + c;
  if (force) {
    *warning = "resuming with --force although, since the job's first run, " + list;
    return Status::Ok();
  }
  return Status::Usage("cannot resume: since the job's first run, " + list +
                       ". Resume with --force to go on anyway (mini-batches are matched by their "
                       "number), or start the job anew in a new job dir");
}

std::string ResumeCommand(const std::string& job_dir) {
  return "parallelrun resume " + ShellQuote(job_dir);
}

}  // namespace parallelrun
