// Test-only: parses one spec with the real parser and says whether it is
// accepted ("ok", exit 0) or why not (the error, exit 2). The schema agreement
// test (tests/e2e/test_schema_agreement.py) runs it on every spec in
// tests/data/specs to compare the parser with the JSON schemas.
#include <iostream>

#include "parallelrun/spec.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: spec_check SPEC.yaml\n";
    return 2;
  }
  parallelrun::Result<parallelrun::Spec> spec = parallelrun::ParseSpecFile(argv[1]);
  if (!spec.ok()) {
    std::cout << spec.status().message() << "\n";
    return 2;
  }
  std::cout << "ok\n";
  return 0;
}
