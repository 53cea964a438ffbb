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

namespace parallelrun {
namespace {

namespace fs = std::filesystem;

// The token file of a job dir, with `text` in it.
void WriteToken(const TempDir& dir, const std::string& text) {
  std::filesystem::create_directories(dir.path() + "/.parallelrun");
  std::ofstream(dir.path() + "/.parallelrun/token", std::ios::binary) << text;
}

TEST_CASE("Secret: PARALLELRUN_TOKEN comes first", "[secret]") {
  TempDir dir("secret_test");
  WriteToken(dir, "from-file");
  auto s = ResolveJobSecret({{"PARALLELRUN_TOKEN", "s3cret"}, {"SLURM_JOB_ID", "1"}}, dir.path());
  REQUIRE(s.ok());
  CHECK(s->key == "s3cret");
  CHECK(s->source == "PARALLELRUN_TOKEN");
  CHECK_FALSE(s->weak);
  CHECK(s->Describe() == "job secret from PARALLELRUN_TOKEN");
}

TEST_CASE("Secret: the job dir's token file", "[secret]") {
  TempDir dir("secret_test");
  WriteToken(dir, "abc def\n\r\n");
  auto s = ResolveJobSecret({{"SLURM_JOB_ID", "1"}}, dir.path());
  REQUIRE(s.ok());
  CHECK(s->key == "abc def");
  CHECK(s->source == dir.path() + "/.parallelrun/token");
  CHECK_FALSE(s->weak);

  WriteToken(dir, " \n");
  s = ResolveJobSecret({{"SLURM_JOB_ID", "1"}}, dir.path());
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message() == "token file " + dir.path() + "/.parallelrun/token: it is empty");

  if (geteuid() != 0) {  // root reads a 0000 file anyway
    WriteToken(dir, "x");
    fs::permissions(dir.path() + "/.parallelrun/token", fs::perms::none);
    s = ResolveJobSecret({}, dir.path());
    REQUIRE_FALSE(s.ok());
    CHECK(s.status().message() ==
          "token file " + dir.path() + "/.parallelrun/token: Permission denied");
  }
  // Only the first 4 KiB count.
  WriteToken(dir, std::string(5000, 'k'));
  s = ResolveJobSecret({}, dir.path());
  REQUIRE(s.ok());
  CHECK(s->key == std::string(4096, 'k'));
}

TEST_CASE("Secret: a job dir without a token file falls through", "[secret]") {
  TempDir dir("secret_test");
  auto s = ResolveJobSecret({{"TORCHELASTIC_RUN_ID", "r1"}}, dir.path());
  REQUIRE(s.ok());
  CHECK(s->weak);
  CHECK(s->source == "TORCHELASTIC_RUN_ID=r1");
}

TEST_CASE("Secret: derived from the launcher's job identity", "[secret]") {
  auto a = ResolveJobSecret({{"SLURM_JOB_ID", "812"}, {"SLURM_STEP_ID", "0"}, {"SLURM_PROCID", "0"}}, "");
  auto b = ResolveJobSecret({{"SLURM_JOB_ID", "812"}, {"SLURM_STEP_ID", "0"}, {"SLURM_PROCID", "3"}}, "");
  auto other_step = ResolveJobSecret({{"SLURM_JOB_ID", "812"}, {"SLURM_STEP_ID", "1"}}, "");
  auto other_job = ResolveJobSecret({{"SLURM_JOB_ID", "813"}, {"SLURM_STEP_ID", "0"}}, "");
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
  CHECK(a->Describe() ==
        "job secret derived from SLURM_JOB_ID=812 SLURM_STEP_ID=0 (weak: anyone who can see the "
        "job's environment or guess its id can join; set PARALLELRUN_TOKEN on every node for a "
        "real secret)");

  for (const char* name : {"TORCHELASTIC_RUN_ID", "PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid",
                           "OMPI_MCA_orte_ess_jobid", "AZUREML_RUN_ID", "AZ_BATCH_JOB_ID"}) {
    INFO(name);
    auto s = ResolveJobSecret({{name, "id-1"}}, "");
    REQUIRE(s.ok());
    CHECK(s->source == std::string(name) + "=id-1");
    CHECK(s->weak);
  }
}

TEST_CASE("Secret: nothing found is an error", "[secret]") {
  auto s = ResolveJobSecret({{"PARALLELRUN_TOKEN", ""}, {"RANK", "1"}}, "");
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().code() == Status::Code::kUsage);
  CHECK(s.status().message() ==
        "a job on more than one node needs a secret shared by its nodes, so that no other "
        "process can join it: set PARALLELRUN_TOKEN to the same value on every node, or write one "
        "to <job dir>/.parallelrun/token on storage every node sees and pass that --job-dir");
}

}  // namespace
}  // namespace parallelrun
