// Job (include/parallelrun/job.h): what the handle says of a job that could
// not start, and the job-dir tools behind it. Jobs that run are the e2e
// tests' and tests/python's (real workers).
#include <string>

#include <catch2/catch.hpp>

#include "parallelrun/exit_codes.h"
#include "parallelrun/job.h"
#include "temp_dir.h"

namespace parallelrun {

namespace {

JobRequest RequestFor(const std::string& spec, const std::string& cwd) {
  JobRequest r;
  r.run.spec_path = spec;
  r.run.cwd = cwd;
  r.run.progress = "none";
  return r;
}

}  // namespace

TEST_CASE("a job whose spec is missing made no job dir and has no counts", "[job]") {
  TempDir dir("job_handle_test");
  FILE* out = tmpfile();
  Job job = Job::Run(RequestFor(dir.path() + "/missing.yaml", dir.path()), out);
  fclose(out);
  CHECK(job.status().code() == Status::Code::kUsage);
  CHECK(job.exit_code() == kExitUsage);
  CHECK(job.status().message().find("missing.yaml") != std::string::npos);
  CHECK(job.job_dir().empty());
  CHECK(job.counts().mini_batches == 0);
  CHECK(job.counts().attempts == 0);
}

TEST_CASE("only_job with a spec that is not a pipeline is a usage error", "[job]") {
  TempDir dir("job_handle_test");
  std::string spec = dir.Write("job.yaml", "type: parallel\nname: x\n");
  JobRequest req = RequestFor(spec, dir.path());
  req.only_job = "score";
  FILE* out = tmpfile();
  Job job = Job::Run(req, out);
  fclose(out);
  CHECK(job.exit_code() == kExitUsage);
  CHECK(job.status().message() ==
        "--job score names a job of a pipeline, but " + spec + " is not a pipeline (type: pipeline)");
}

TEST_CASE("ParseSetOverride splits PATH=VALUE and refuses text without '='", "[job]") {
  auto ok = ParseSetOverride("inputs.data.mode=direct");
  REQUIRE(ok.ok());
  CHECK(ok->first == "inputs.data.mode");
  CHECK(ok->second == "direct");
  CHECK_FALSE(ParseSetOverride("mini_batch_size").ok());
}

TEST_CASE("WriteJobReport and TuneJobDir of a folder that holds no job say so", "[job]") {
  TempDir dir("job_handle_test");
  auto written = WriteJobReport(dir.path(), "");
  CHECK_FALSE(written.ok());
  FILE* out = tmpfile();
  CHECK_FALSE(TuneJobDir(dir.path(), 2, 0, out).ok());
  fclose(out);
}

TEST_CASE("SuggestName finds a misspelt name", "[job]") {
  CHECK(SuggestName("valdate", {"run", "validate", "resume"}) == "validate");
  CHECK(SuggestName("zzzzzzzz", {"run", "validate"}).empty());
}

}  // namespace parallelrun
