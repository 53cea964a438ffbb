// libFuzzer target for the spec parser (parallelrun/spec.h): a component
// YAML (ParallelComponent, v2 parallel, batch deployment) is text from
// outside. It may be refused — then the message must say why — but never
// crash, hang or allocate without bound; what parses must also resolve its
// arguments without crashing. Build and run with fuzz/run.sh.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "parallelrun/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto spec = parallelrun::ParseSpecText(text, "/nonexistent/fuzz/spec.yaml");
  if (!spec.ok()) {
    if (spec.status().message().empty()) std::abort();
    return 0;
  }
  std::map<std::string, std::string> values;
  for (const auto& port : spec->inputs) values[port.name] = "an input's value";
  for (const auto& port : spec->outputs) values[port.name] = "/out";
  auto argv = parallelrun::ResolveArgs(spec.value(), values);
  if (!argv.ok() && argv.status().message().empty()) std::abort();
  return 0;
}
