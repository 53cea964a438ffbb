#include "link/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include <fmt/format.h>

#include "base/disk.h"
#include "base/hmac.h"
#include "base/job_dir.h"

namespace parallelrun {

namespace {

constexpr size_t kMaxTokenFile = 4096;

// Launcher variables that name one job identically on all of its nodes.
// Slurm's step id is appended so that two steps of one allocation, which may
// run two different parallelrun jobs at once, get different secrets.
constexpr const char* kJobIdentities[] = {"SLURM_JOB_ID",    "TORCHELASTIC_RUN_ID",
                                          "PMIX_NAMESPACE",  "OMPI_MCA_ess_base_jobid",
                                          "OMPI_MCA_orte_ess_jobid", "AZUREML_RUN_ID",
                                          "AZ_BATCH_JOB_ID"};

std::string Get(const EnvironmentMap& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

}  // namespace

std::string JobSecret::Describe() const {
  if (!weak) return "job secret from " + source;
  return "job secret derived from " + source +
         " (weak: anyone who can see the job's environment or guess its id can join; set "
         "PARALLELRUN_TOKEN on every node for a real secret)";
}

Result<JobSecret> ResolveJobSecret(const EnvironmentMap& env, const std::string& job_dir) {
  std::string token = Get(env, "PARALLELRUN_TOKEN");
  if (!token.empty()) return JobSecret{token, "PARALLELRUN_TOKEN", false};

  if (!job_dir.empty()) {
    std::string path = TokenPath(job_dir);
    int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      std::string text(kMaxTokenFile, '\0');
      ssize_t got = ReadAll(fd, text.data(), text.size());
      int err = got < 0 ? errno : 0;
      close(fd);
      if (err != 0) return Status::Usage(fmt::format("token file {}: {}", path, strerror(err)));
      text.resize(static_cast<size_t>(got));
      while (!text.empty() && (text.back() == '\n' || text.back() == '\r' ||
                               text.back() == ' ' || text.back() == '\t')) {
        text.pop_back();
      }
      if (text.empty()) return Status::Usage(fmt::format("token file {}: it is empty", path));
      return JobSecret{text, path, false};
    }
    if (errno != ENOENT) {
      return Status::Usage(fmt::format("token file {}: {}", path, strerror(errno)));
    }
  }

  for (const char* name : kJobIdentities) {
    std::string value = Get(env, name);
    if (value.empty()) continue;
    std::string identity = fmt::format("{}={}", name, value);
    if (std::string(name) == "SLURM_JOB_ID") {
      std::string step = Get(env, "SLURM_STEP_ID");
      if (step.empty()) step = Get(env, "SLURM_STEPID");
      if (!step.empty()) identity += " SLURM_STEP_ID=" + step;
    }
    std::string key = Sha256Digest(std::string("parallelrun derived job secret v1") + '\0' + identity);
    return JobSecret{key, identity, true};
  }

  return Status::Usage(
      "a job on more than one node needs a secret shared by its nodes, so that no other process "
      "can join it: set PARALLELRUN_TOKEN to the same value on every node, or write one to "
      "<job dir>/.parallelrun/token on storage every node sees and pass that --job-dir");
}

}  // namespace parallelrun
