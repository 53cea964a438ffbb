#include "link/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "base/disk.h"
#include "base/hmac.h"
#include "base/job_dir.h"

namespace parallelrun {

namespace {

constexpr size_t kMaxTokenFile = 4096;

// Launcher variables that name one job identically on all of its nodes.
// Slurm's step id is appended so that two steps of one allocation, which may
// run two different parallelrun jobs at once, differ.
constexpr const char* kJobIdentities[] = {"SLURM_JOB_ID",    "TORCHELASTIC_RUN_ID",
                                          "PMIX_NAMESPACE",  "OMPI_MCA_ess_base_jobid",
                                          "OMPI_MCA_orte_ess_jobid", "AZUREML_RUN_ID",
                                          "AZ_BATCH_JOB_ID"};

std::string Get(const EnvironmentMap& env, const char* name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

std::string HowToMakeOne() {
  return "give every node the same secret: export PARALLELRUN_TOKEN=$(python3 -c 'import "
         "secrets; print(secrets.token_hex(32))') before srun or mpirun (with mpirun -x "
         "PARALLELRUN_TOKEN; on Kubernetes, a Secret as an environment variable), or "
         "--token-file FILE (mode 0600) on every node, or a --job-dir on storage every node sees, "
         "where the master writes one. (--insecure-derived-secret derives one from the launcher's "
         "job id, which others can guess.)";
}

// Reads a token file: Ok with the key, NotFound (errno ENOENT) as an empty
// result with *missing set, or a Usage error naming the file.
Result<std::string> ReadTokenFile(const std::string& path, bool* missing) {
  *missing = false;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) {
      *missing = true;
      return std::string();
    }
    return Status::Usage(fmt::format("token file {}: {}", path, ErrnoText(errno)));
  }
  UniqueFd owner(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    return Status::Usage(fmt::format("token file {}: {}", path, ErrnoText(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::Usage(fmt::format("token file {}: not a regular file", path));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return Status::Usage(fmt::format(
        "token file {}: its group or others may read or write it (mode {:04o}), so they could "
        "join the job; run chmod 600 {}",
        path, st.st_mode & 07777, path));
  }
  std::string text(kMaxTokenFile, '\0');
  ssize_t got = ReadAll(fd, text.data(), text.size());
  if (got < 0) return Status::Usage(fmt::format("token file {}: {}", path, ErrnoText(errno)));
  text.resize(static_cast<size_t>(got));
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' ||
                           text.back() == '\t')) {
    text.pop_back();
  }
  if (text.empty()) return Status::Usage(fmt::format("token file {}: it is empty", path));
  return text;
}

// The master's new token for the job dir: written whole to a temporary file
// with mode 0600, then linked into place, so that an agent never reads half
// of it and two writers cannot both win. `*raced` when another was there.
Result<std::string> WriteNewToken(const std::string& path, bool* raced) {
  *raced = false;
  std::string folder = path.substr(0, path.rfind('/'));
  Status made = CreateFolders(folder, "the job dir's token folder");
  if (!made.ok()) return made;
  std::string token = HexEncode(RandomBytes(32));
  if (token.size() != 64) return Status::Infrastructure("no random bytes for the job's token");
  std::string temp = folder + "/token.XXXXXX";
  int fd = mkostemp(temp.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) {
    return Status::Infrastructure(fmt::format("cannot write {}: {}", temp, ErrnoText(errno)));
  }
  UniqueFd owner(fd);
  std::string line = token + "\n";
  Status written = WriteAll(fd, line.data(), line.size())
                       ? Status::Ok()
                       : Status::Infrastructure("cannot write " + ErrnoMessage(temp, errno));
  if (written.ok() && fsync(fd) != 0) {
    written = Status::Infrastructure("cannot sync " + ErrnoMessage(temp, errno));
  }
  if (written.ok() && link(temp.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) {
      *raced = true;
    } else {
      written = Status::Infrastructure("cannot create " + ErrnoMessage(path, errno));
    }
  }
  unlink(temp.c_str());
  if (!written.ok()) return written;
  return token;
}

}  // namespace

std::string JobSecret::Describe() const {
  if (generated) return "job secret generated into " + source + " (mode 0600)";
  if (!weak) return "job secret from " + source;
  return "job secret derived from " + source +
         " (insecure, as --insecure-derived-secret asked: anyone who can see the job's "
         "environment or guess its id can join; set PARALLELRUN_TOKEN on every node for a real "
         "secret)";
}

std::string LauncherJobIdentity(const EnvironmentMap& env) {
  for (const char* name : kJobIdentities) {
    std::string value = Get(env, name);
    if (value.empty()) continue;
    if (std::string(name) == "TORCHELASTIC_RUN_ID" && value == "none") continue;
    std::string identity = fmt::format("{}={}", name, value);
    if (std::string(name) == "SLURM_JOB_ID") {
      std::string step = Get(env, "SLURM_STEP_ID");
      if (step.empty()) step = Get(env, "SLURM_STEPID");
      if (!step.empty()) identity += " SLURM_STEP_ID=" + step;
    }
    return identity;
  }
  return "";
}

Result<JobSecret> ResolveJobSecret(const EnvironmentMap& env, const SecretOptions& options) {
  std::string token = Get(env, "PARALLELRUN_TOKEN");
  if (!token.empty()) return JobSecret{token, "PARALLELRUN_TOKEN", false, false};

  std::string token_file = options.token_file;
  if (token_file.empty()) token_file = Get(env, "PARALLELRUN_TOKEN_FILE");
  if (!token_file.empty()) {
    bool missing = false;
    auto key = ReadTokenFile(token_file, &missing);
    if (!key.ok()) return key.status();
    if (missing) return Status::Usage(fmt::format("token file {}: No such file", token_file));
    return JobSecret{key.value(), token_file, false, false};
  }

  if (!options.job_dir.empty()) {
    std::string path = TokenPath(options.job_dir);
    bool missing = false;
    auto key = ReadTokenFile(path, &missing);
    if (!key.ok()) return key.status();
    if (!missing) return JobSecret{key.value(), path, false, false};
    if (options.is_master && !options.insecure_derived) {
      bool raced = false;
      auto made = WriteNewToken(path, &raced);
      if (!made.ok()) return made.status();
      if (!raced) return JobSecret{made.value(), path, false, true};
      key = ReadTokenFile(path, &missing);
      if (!key.ok()) return key.status();
      if (!missing) return JobSecret{key.value(), path, false, false};
    } else if (!options.is_master && !options.insecure_derived) {
      // The master writes it when it starts; agents may start first.
      auto deadline = std::chrono::steady_clock::now() + options.wait_for_token;
      while (std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        key = ReadTokenFile(path, &missing);
        if (!key.ok()) return key.status();
        if (!missing) return JobSecret{key.value(), path, false, false};
      }
      return Status::Usage(fmt::format(
          "no job secret: the master did not write {} within {:g} s. The master writes it when "
          "--job-dir is on storage every node sees; when it is not, {}",
          path, options.wait_for_token.count() / 1000.0,
          HowToMakeOne()));
    }
  }

  if (options.insecure_derived) {
    std::string identity = LauncherJobIdentity(env);
    if (identity.empty()) {
      return Status::Usage(
          "--insecure-derived-secret: the launcher gives no job id to derive a secret from (no "
          "SLURM_JOB_ID, TORCHELASTIC_RUN_ID other than 'none', PMIX_NAMESPACE, Open MPI job id, "
          "AZUREML_RUN_ID or AZ_BATCH_JOB_ID); " + HowToMakeOne());
    }
    std::string key =
        Sha256Digest(std::string("parallelrun derived job secret v1") + '\0' + identity);
    return JobSecret{key, identity, true, false};
  }

  return Status::Usage("a job on more than one node needs a secret its nodes share, so that no "
                       "other process can join it; " + HowToMakeOne());
}

}  // namespace parallelrun
