// plan/folder_keys: partition_keys read from folder levels by position are
// shown (a warning with the mapping), accepted silently only for Hive
// key=value folders, and refused when the files lie deeper than the keys.
#include "plan/folder_keys.h"

#include <catch2/catch.hpp>

#include "temp_dir.h"

namespace parallelrun {

TEST_CASE("folder keys: files as deep as the keys give a warning with the mapping",
          "[folder_keys]") {
  TempDir dir("folder_keys_test");
  dir.Write("data/README.md", "not a partition");  // shallower: passed over
  dir.Write("data/US/ca/f0.txt", "x");
  dir.Write("data/FR/idf/f0.txt", "x");
  std::string warning;
  REQUIRE(CheckFolderLevelKeys("data", dir.path() + "/data", {"country", "state"}, &warning).ok());
  // The first file in the job's order (byte order: FR before US).
  CHECK(warning ==
        "warning: input data has no partition format: partition_keys are read from folder "
        "levels by position: country = folder level 1 ('FR'), state = folder level 2 ('idf'), "
        "e.g. FR/idf/f0.txt; if that is not meant, name the folders key=value (e.g. "
        "country=…), or bind the input as an mltable whose MLTable file has "
        "extract_columns_from_partition_format (e.g. '{country}/…')");
}

TEST_CASE("folder keys: a key that is really the file name is shown, not hidden",
          "[folder_keys]") {
  // The sample's {user}/{season}/{genres}.wav with keys user, genres: two
  // folder levels, two keys; genres would be the season — the warning says so.
  TempDir dir("folder_keys_test");
  dir.Write("music/u1/summer/rock.wav", "x");
  std::string warning;
  REQUIRE(CheckFolderLevelKeys("music", dir.path() + "/music", {"user", "genres"}, &warning).ok());
  CHECK(warning.find("genres = folder level 2 ('summer'), e.g. u1/summer/rock.wav") !=
        std::string::npos);
}

TEST_CASE("folder keys: Hive folders name their keys: no warning", "[folder_keys]") {
  TempDir dir("folder_keys_test");
  dir.Write("data/country=US/state=ca/part-0.txt", "x");
  std::string warning = "not cleared";
  REQUIRE(CheckFolderLevelKeys("data", dir.path() + "/data", {"country", "state"}, &warning).ok());
  CHECK(warning.empty());
}

TEST_CASE("folder keys: files deeper than the keys are an error", "[folder_keys]") {
  TempDir dir("folder_keys_test");
  dir.Write("music/u1/summer/2020/rock.wav", "x");
  std::string warning;
  Status s = CheckFolderLevelKeys("music", dir.path() + "/music", {"user", "genres"}, &warning);
  REQUIRE(s.code() == Status::Code::kUsage);
  CHECK(s.message() ==
        "input music: partition_keys [user, genres] are read from folder levels, but its files "
        "lie deeper than that (3 folder levels in u1/summer/2020/rock.wav, for 2 keys): which "
        "levels hold the keys would be a guess; name the folders key=value (e.g. user=…), or "
        "bind the input as an mltable whose MLTable file has "
        "extract_columns_from_partition_format (e.g. '{user}/…')");
}

TEST_CASE("folder keys: nothing deep enough, or not a folder: nothing to say", "[folder_keys]") {
  TempDir dir("folder_keys_test");
  dir.Write("flat/a.txt", "x");
  std::string warning;
  REQUIRE(CheckFolderLevelKeys("flat", dir.path() + "/flat", {"k"}, &warning).ok());
  CHECK(warning.empty());
  REQUIRE(CheckFolderLevelKeys("one", dir.path() + "/flat/a.txt", {"k"}, &warning).ok());
  CHECK(warning.empty());
}

}  // namespace parallelrun
