// AsciiLower: the one case rule for names a person typed.
#include "base/text.h"

#include <catch2/catch.hpp>

#include <string>

namespace parallelrun {
namespace {

TEST_CASE("AsciiLower: A-Z lower case, every other byte as it is", "[text]") {
  CHECK(AsciiLower("") == "");
  CHECK(AsciiLower("Mini_Batch_SIZE") == "mini_batch_size");
  CHECK(AsciiLower("UTF-16LE") == "utf-16le");
  CHECK(AsciiLower("@[`{09") == "@[`{09");  // the neighbours of A-Z and a-z
  CHECK(AsciiLower("\xC3\x89T\xC3\x89") == "\xC3\x89t\xC3\x89");  // "ÉTÉ": UTF-8 untouched
  CHECK(AsciiLower(std::string("A\0B", 3)) == std::string("a\0b", 3));
}

}  // namespace
}  // namespace parallelrun
