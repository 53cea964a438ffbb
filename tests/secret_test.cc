// JobSecret: the order of sources, the token file's edge cases, and that a
// derived secret is the same on every node of one job and differs between jobs.
#include "link/secret.h"
#include "temp_dir.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace parallelrun {
namespace {

namespace fs = std::filesystem;

// The token file of a job dir, with `text` in it, mode 0600.
void WriteToken(const TempDir& dir, const std::string& text) {
  std::filesystem::create_directories(dir.path() + "/.parallelrun");
  std::string path = dir.path() + "/.parallelrun/token";
  // Made 0600 under another name, then renamed: an agent that is waiting
  // for it must never see it readable by others (it refuses such a file).
  std::string tmp = path + ".tmp";
  std::ofstream(tmp, std::ios::binary) << text;
  chmod(tmp.c_str(), 0600);
  std::filesystem::rename(tmp, path);
}

SecretOptions InDir(const std::string& job_dir, bool master = false) {
  SecretOptions o;
  o.job_dir = job_dir;
  o.is_master = master;
  return o;
}

SecretOptions Derived() {
  SecretOptions o;
  o.insecure_derived = true;
  return o;
}

TEST_CASE("Secret: PARALLELRUN_TOKEN comes first", "[secret]") {
  TempDir dir("secret_test");
  WriteToken(dir, "from-file");
  auto s = ResolveJobSecret({{"PARALLELRUN_TOKEN", "s3cret"}, {"SLURM_JOB_ID", "1"}},
                            InDir(dir.path()));
  REQUIRE(s.ok());
  CHECK(s->key == "s3cret");
  CHECK(s->source == "PARALLELRUN_TOKEN");
  CHECK_FALSE(s->weak);
  CHECK(s->Describe() == "job secret from PARALLELRUN_TOKEN");
}

TEST_CASE("Secret: the job dir's token file", "[secret]") {
  TempDir dir("secret_test");
  WriteToken(dir, "abc def\n\r\n");
  auto s = ResolveJobSecret({{"SLURM_JOB_ID", "1"}}, InDir(dir.path()));
  REQUIRE(s.ok());
  CHECK(s->key == "abc def");
  CHECK(s->source == dir.path() + "/.parallelrun/token");
  CHECK_FALSE(s->weak);

  WriteToken(dir, " \n");
  s = ResolveJobSecret({{"SLURM_JOB_ID", "1"}}, InDir(dir.path()));
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message() == "token file " + dir.path() + "/.parallelrun/token: it is empty");

  // Only the first 4 KiB count.
  WriteToken(dir, std::string(5000, 'k'));
  s = ResolveJobSecret({}, InDir(dir.path()));
  REQUIRE(s.ok());
  CHECK(s->key == std::string(4096, 'k'));
}

TEST_CASE("Secret: a token file others may read is refused", "[secret]") {
  TempDir dir("secret_test");
  WriteToken(dir, "abc");
  std::string path = dir.path() + "/.parallelrun/token";
  for (mode_t mode : {0640, 0604, 0620, 0602, 0644}) {
    INFO(mode);
    chmod(path.c_str(), mode);
    auto s = ResolveJobSecret({}, InDir(dir.path()));
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().message().find("its group or others may read or write it") !=
          std::string::npos);
    CHECK(s.status().message().find("chmod 600 " + path) != std::string::npos);
  }
  chmod(path.c_str(), 0400);
  CHECK(ResolveJobSecret({}, InDir(dir.path())).ok());

  // --token-file / PARALLELRUN_TOKEN_FILE: the same rules, and it must exist.
  SecretOptions o;
  o.token_file = path;
  auto s = ResolveJobSecret({}, o);
  REQUIRE(s.ok());
  CHECK(s->key == "abc");
  chmod(path.c_str(), 0644);
  CHECK_FALSE(ResolveJobSecret({}, o).ok());
  CHECK_FALSE(ResolveJobSecret({{"PARALLELRUN_TOKEN_FILE", path}}, SecretOptions()).ok());
  chmod(path.c_str(), 0600);
  CHECK(ResolveJobSecret({{"PARALLELRUN_TOKEN_FILE", path}}, SecretOptions()).ok());
  o.token_file = dir.path() + "/absent";
  s = ResolveJobSecret({}, o);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message() == "token file " + dir.path() + "/absent: No such file");
}

TEST_CASE("Secret: the master writes a token into a job dir that has none", "[secret]") {
  TempDir dir("secret_test");
  std::string path = dir.path() + "/.parallelrun/token";
  auto made = ResolveJobSecret({{"SLURM_JOB_ID", "1"}}, InDir(dir.path(), /*master=*/true));
  REQUIRE(made.ok());
  CHECK(made->generated);
  CHECK_FALSE(made->weak);
  CHECK(made->key.size() == 64);
  CHECK(made->Describe() == "job secret generated into " + path + " (mode 0600)");
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // No temporary file is left beside it.
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir.path() + "/.parallelrun")) files += !!e.exists();
  CHECK(files == 1);
  // An agent reads the same; a second master too (resume).
  auto agent = ResolveJobSecret({}, InDir(dir.path()));
  REQUIRE(agent.ok());
  CHECK(agent->key == made->key);
  auto again = ResolveJobSecret({}, InDir(dir.path(), true));
  REQUIRE(again.ok());
  CHECK(again->key == made->key);
  CHECK_FALSE(again->generated);
}

TEST_CASE("Secret: an agent waits for the master's token, then says how", "[secret]") {
  TempDir dir("secret_test");
  SecretOptions o = InDir(dir.path());
  o.wait_for_token = std::chrono::milliseconds(300);
  auto s = ResolveJobSecret({{"SLURM_JOB_ID", "1"}}, o);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("the master did not write " + dir.path() +
                                  "/.parallelrun/token within 0.3 s") != std::string::npos);
  CHECK(s.status().message().find("PARALLELRUN_TOKEN") != std::string::npos);
  // Written while it waits: found.
  o.wait_for_token = std::chrono::milliseconds(20000);
  std::thread writer([&dir] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    WriteToken(dir, "late");
  });
  s = ResolveJobSecret({}, o);
  writer.join();
  REQUIRE(s.ok());
  CHECK(s->key == "late");
}

TEST_CASE("Secret: launcher ids give a secret only when asked as insecure", "[secret]") {
  auto refused = ResolveJobSecret({{"SLURM_JOB_ID", "812"}, {"SLURM_STEP_ID", "0"}}, {});
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.status().message().find("--insecure-derived-secret") != std::string::npos);

  auto a = ResolveJobSecret({{"SLURM_JOB_ID", "812"}, {"SLURM_STEP_ID", "0"}, {"SLURM_PROCID", "0"}},
                            Derived());
  auto b = ResolveJobSecret({{"SLURM_JOB_ID", "812"}, {"SLURM_STEP_ID", "0"}, {"SLURM_PROCID", "3"}},
                            Derived());
  auto other_step = ResolveJobSecret({{"SLURM_JOB_ID", "812"}, {"SLURM_STEP_ID", "1"}}, Derived());
  auto other_job = ResolveJobSecret({{"SLURM_JOB_ID", "813"}, {"SLURM_STEP_ID", "0"}}, Derived());
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(other_step.ok());
  REQUIRE(other_job.ok());
  CHECK(a->weak);
  CHECK(a->key.size() == 32);
  CHECK(a->key == b->key);
  CHECK(a->key != other_step->key);
  CHECK(a->key != other_job->key);
  CHECK(a->source == "SLURM_JOB_ID=812 SLURM_STEP_ID=0");
  CHECK(a->Describe().find("insecure") != std::string::npos);

  for (const char* name : {"TORCHELASTIC_RUN_ID", "PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid",
                           "OMPI_MCA_orte_ess_jobid", "AZUREML_RUN_ID", "AZ_BATCH_JOB_ID"}) {
    INFO(name);
    auto s = ResolveJobSecret({{name, "id-1"}}, Derived());
    REQUIRE(s.ok());
    CHECK(s->source == std::string(name) + "=id-1");
    CHECK(s->weak);
    CHECK_FALSE(ResolveJobSecret({{name, "id-1"}}, {}).ok());
  }
  // torchrun's default run id names no job.
  auto none = ResolveJobSecret({{"TORCHELASTIC_RUN_ID", "none"}}, Derived());
  REQUIRE_FALSE(none.ok());
  CHECK(LauncherJobIdentity({{"TORCHELASTIC_RUN_ID", "none"}}) == "");
}

TEST_CASE("Secret: nothing found is an error that says how to make one", "[secret]") {
  auto s = ResolveJobSecret({{"PARALLELRUN_TOKEN", ""}, {"RANK", "1"}}, {});
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == Status::Code::kUsage);
  CHECK(s.status().message().find("a job on more than one node needs a secret its nodes share") ==
        0);
  CHECK(s.status().message().find("export PARALLELRUN_TOKEN=$(python3 -c 'import secrets; "
                                  "print(secrets.token_hex(32))')") != std::string::npos);
}

}  // namespace
}  // namespace parallelrun
