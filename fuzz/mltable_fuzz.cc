// libFuzzer target for plan/mltable.h's ParseMLTable: an MLTable file is
// YAML from outside (it comes with the data). It may be refused — then the
// message must say why — but never crash, hang or allocate without bound.
// Build and run with fuzz/run.sh.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "plan/mltable.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto table = parallelrun::ParseMLTable(text, "/nonexistent/fuzz/MLTable");
  if (!table.ok() && table.status().message().empty()) std::abort();
  if (table.ok() && table->tabular()) (void)table->ToTableInput("data");
  return 0;
}
