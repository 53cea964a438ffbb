// examples/kubernetes/job.yaml, read as Kubernetes would run it: for each
// completion index, the variables a pod of the Indexed Job has (the
// manifest's env, JOB_COMPLETION_INDEX, the pod's hostname <job>-<index>)
// must resolve (link/role.h) to that node rank of a job of `completions`
// nodes whose master is pod 0 under the headless Service, on the port the
// pods expose. The names the manifest must keep in step are checked too, so
// that an edit of one of them fails here, not on a cluster.
#include "link/role.h"

#include <catch2/catch.hpp>
#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace parallelrun {
namespace {

const std::string kManifest = std::string(PARALLELRUN_EXAMPLES) + "/kubernetes/job.yaml";

YAML::Node Document(const std::vector<YAML::Node>& docs, const std::string& kind) {
  for (const auto& d : docs) {
    if (d["kind"] && d["kind"].as<std::string>() == kind) return d;
  }
  FAIL(kManifest << " has no " << kind);
  return YAML::Node();
}

TEST_CASE("Kubernetes example: every pod of the Indexed Job gets its role", "[role][kubernetes]") {
  std::vector<YAML::Node> docs = YAML::LoadAllFromFile(kManifest);
  YAML::Node job = Document(docs, "Job");
  YAML::Node service = Document(docs, "Service");

  const std::string name = job["metadata"]["name"].as<std::string>();
  const YAML::Node spec = job["spec"];
  CHECK(spec["completionMode"].as<std::string>() == "Indexed");
  const int completions = spec["completions"].as<int>();
  CHECK(completions > 1);
  // Every node must run at once: an agent waits for the master, and the
  // master for its agents.
  CHECK(spec["parallelism"].as<int>() == completions);

  const YAML::Node pod = spec["template"]["spec"];
  const std::string subdomain = pod["subdomain"].as<std::string>();
  // The headless Service that makes <job>-<index>.<subdomain> resolvable.
  CHECK(service["metadata"]["name"].as<std::string>() == subdomain);
  CHECK(service["spec"]["clusterIP"].as<std::string>() == "None");
  CHECK(service["spec"]["selector"]["job-name"].as<std::string>() == name);
  CHECK(service["spec"]["publishNotReadyAddresses"].as<bool>());

  REQUIRE(pod["containers"].size() == 1);
  const YAML::Node container = pod["containers"][0];
  EnvironmentMap manifest_env;
  bool token_from_secret = false;
  for (const auto& e : container["env"]) {
    std::string var = e["name"].as<std::string>();
    if (e["value"]) {
      manifest_env[var] = e["value"].as<std::string>();
    } else if (var == "PARALLELRUN_TOKEN" && e["valueFrom"]["secretKeyRef"]) {
      token_from_secret = true;
      manifest_env[var] = "from-the-secret";
    }
  }
  CHECK(token_from_secret);
  CHECK(manifest_env["PARALLELRUN_NODE_COUNT"] == std::to_string(completions));
  uint16_t port = 0;
  for (const auto& p : container["ports"]) {
    if (p["name"] && p["name"].as<std::string>() == "link") port = p["containerPort"].as<uint16_t>();
  }
  CHECK(port == kDefaultMasterPort);
  CHECK(service["spec"]["ports"][0]["port"].as<uint16_t>() == port);

  for (int index = 0; index < completions; index++) {
    INFO("completion index " << index);
    EnvironmentMap env = manifest_env;
    env["JOB_COMPLETION_INDEX"] = std::to_string(index);
    env["HOSTNAME"] = name + "-" + std::to_string(index);
    auto role = ResolveRole(env);
    REQUIRE(role.ok());
    CHECK(role->source == "Kubernetes");
    CHECK(role->node_rank == static_cast<uint32_t>(index));
    CHECK(role->node_count == static_cast<uint32_t>(completions));
    CHECK(role->master_host == name + "-0." + subdomain);
    CHECK(role->master_port == port);
    CHECK(role->is_master() == (index == 0));
    CHECK_FALSE(role->extra_process);
  }

  // Without the manifest's count, a pod cannot know the job's size: the
  // error names the variable to set.
  EnvironmentMap no_count = manifest_env;
  no_count.erase("PARALLELRUN_NODE_COUNT");
  no_count["JOB_COMPLETION_INDEX"] = "1";
  no_count["HOSTNAME"] = name + "-1";
  auto role = ResolveRole(no_count);
  REQUIRE_FALSE(role.ok());
  CHECK(role.status().message().find("set PARALLELRUN_NODE_COUNT") != std::string::npos);
}

}  // namespace
}  // namespace parallelrun
