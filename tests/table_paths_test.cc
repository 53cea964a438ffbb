#include "data/table_paths.h"
#include "source_waiter.h"
#include "temp_dir.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace parallelrun {
namespace {

namespace fs = std::filesystem;

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
  REQUIRE(out.good());
}

TEST_CASE("table_paths: glob patterns", "[table_paths]") {
  struct Case {
    const char* pattern;
    const char* path;
    bool match;
  } cases[] = {
      {"/d/*.csv", "/d/a.csv", true},       {"/d/*.csv", "/d/x/a.csv", false},
      {"/d/**/*.csv", "/d/a.csv", true},    {"/d/**/*.csv", "/d/x/y/a.csv", true},
      {"/d/**", "/d/x/y", true},            {"/d/?.csv", "/d/ab.csv", false},
      {"/d/?.csv", "/d/a.csv", true},       {"/d/[ab].csv", "/d/b.csv", true},
      {"/d/[a-c]1.csv", "/d/c1.csv", true}, {"/d/[!a]1.csv", "/d/a1.csv", false},
      {"/d/[!a]1.csv", "/d/b1.csv", true},  {"/d/*", "/d/", true},
      {"/d/a*b*c", "/d/aXbYc", true},       {"/d/a*b*c", "/d/aXbY", false},
      {"/d/[a.csv", "/d/[a.csv", true},     {"/d/*.csv", "/e/a.csv", false},
  };
  for (const auto& c : cases) {
    INFO(c.pattern << " vs " << c.path);
    CHECK(GlobMatch(c.pattern, c.path) == c.match);
  }
}

TEST_CASE("table_paths: path lists with patterns, folders and files", "[table_paths]") {
  TempDir dir("table_paths_test");
  fs::create_directories(dir.path() + "/data/sub");
  for (const char* f : {"/data/a.csv", "/data/b.txt", "/data/sub/c.csv", "/one.csv"}) {
    WriteFile(dir.path() + f, "x\n");
  }
  Waiter waiter;
  TablePathLister lister({{TablePath::Kind::kPattern, dir.path() + "/data/**/*.csv"},
                          {TablePath::Kind::kFile, dir.path() + "/one.csv"},
                          {TablePath::Kind::kFile, dir.path() + "/missing.csv"},
                          {TablePath::Kind::kPattern, dir.path() + "/data/*.parquet"},
                          {TablePath::Kind::kFolder, dir.path() + "/data/sub"}},
                         waiter.Callback());
  std::vector<std::string> files;
  waiter.Drain(lister, &files);
  CHECK(files == std::vector<std::string>{dir.path() + "/data/a.csv", dir.path() + "/data/sub/c.csv",
                                          dir.path() + "/one.csv", dir.path() + "/data/sub/c.csv"});
  CHECK(lister.errors() ==
        std::vector<std::string>{dir.path() + "/missing.csv: No such file or directory",
                                 dir.path() + "/data/*.parquet: the pattern matched no file"});
}

}  // namespace
}  // namespace parallelrun
