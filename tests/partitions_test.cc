#include "data/partitions.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace parallelrun {
namespace {

namespace fs = std::filesystem;
using KV = std::vector<std::pair<std::string, std::string>>;

std::vector<std::string> MatchOrEmpty(const PartitionFormat& f, const std::string& path,
                                      const std::vector<std::string>& ancestors = {}) {
  std::vector<std::string> values;
  if (!f.Match(path, ancestors, &values)) return {"<no match>"};
  return values;
}

TEST_CASE("partitions: format syntax errors name the format", "[partitions]") {
  struct Case {
    const char* format;
    const char* message;
  } cases[] = {
      {"{a/{b}", "partition format '{a/{b}': '{a/{b}' is not a key name"},
      {"{a}/{b", "partition format '{a}/{b': '{' at position 5 is not closed"},
      {"{}/x", "partition format '{}/x': '{}' has no key name"},
      {"{a}/{a}", "partition format '{a}/{a}': key 'a' appears twice"},
      {"a}/x", "partition format 'a}/x': '}' at position 2 has no '{'"},
      {"data/*.csv", "partition format 'data/*.csv': it names no key; write keys as {name}"},
      {"{d:xx}", "partition format '{d:xx}': '{d:xx}': the date-time pattern 'xx' has none of yyyy, MM, dd, HH, mm, ss"},
  };
  for (const auto& c : cases) {
    Result<PartitionFormat> f = PartitionFormat::Parse(c.format);
    REQUIRE(!f.ok());
    CHECK(f.status().message() == c.message);
  }
}

TEST_CASE("partitions: matching paths", "[partitions]") {
  auto f = PartitionFormat::Parse("{country}/{state}/{file}").value();
  CHECK(f.keys() == std::vector<std::string>{"country", "state", "file"});
  CHECK(MatchOrEmpty(f, "US/CA/a.csv") == std::vector<std::string>{"US", "CA", "a.csv"});
  // The format may stop at a folder: deeper files belong to it.
  CHECK(MatchOrEmpty(f, "US/CA/x/a.csv") == std::vector<std::string>{"US", "CA", "x"});
  CHECK(MatchOrEmpty(f, "US/a.csv") == std::vector<std::string>{"<no match>"});

  auto hive = PartitionFormat::Parse("/puYear={year}/puMonth={month}").value();
  CHECK(MatchOrEmpty(hive, "puYear=2019/puMonth=12/part-0.parquet") ==
        std::vector<std::string>{"2019", "12"});
  CHECK(MatchOrEmpty(hive, "other/puYear=2019/puMonth=12/p") == std::vector<std::string>{"<no match>"});

  auto wav = PartitionFormat::Parse("dataset_partition_test/{user}/{season}/{genres}.wav").value();
  CHECK(MatchOrEmpty(wav, "u1/spring/rock.wav", {"dataset_partition_test", "data"}) ==
        std::vector<std::string>{"u1", "spring", "rock"});
  CHECK(MatchOrEmpty(wav, "dataset_partition_test/u1/spring/rock.wav") ==
        std::vector<std::string>{"u1", "spring", "rock"});
  CHECK(MatchOrEmpty(wav, "u1/spring/rock.mp3", {"dataset_partition_test"}) ==
        std::vector<std::string>{"<no match>"});

  auto lazy = PartitionFormat::Parse("{a}_{b}/*.csv").value();
  CHECK(MatchOrEmpty(lazy, "x_y_z/f.csv") == std::vector<std::string>{"x", "y_z"});
  CHECK(MatchOrEmpty(lazy, "x_y_z/sub/f.csv") == std::vector<std::string>{"<no match>"});

  auto date = PartitionFormat::Parse("{PartitionDate:yyyy/MM/dd/HH}/{fileName}.jsonl").value();
  CHECK(date.datetime_format(0) == "%Y/%m/%d/%H");
  CHECK(date.datetime_format(1).empty());
  CHECK(MatchOrEmpty(date, "2023/01/02/03/log.jsonl") ==
        std::vector<std::string>{"2023/01/02/03", "log"});
  CHECK(MatchOrEmpty(date, "2023/1/02/03/log.jsonl") == std::vector<std::string>{"<no match>"});

  auto deep = PartitionFormat::Parse("**/{leaf}.csv").value();
  CHECK(MatchOrEmpty(deep, "a/b/c/x.csv") == std::vector<std::string>{"x"});
}

TEST_CASE("partitions: a root's ancestors and the path a file is matched by", "[partitions]") {
  using V = std::vector<std::string>;
  CHECK(RootAncestors("/home/data/") == V{"data", "home"});
  CHECK(RootAncestors("/home//data") == V{"data", "home"});
  CHECK(RootAncestors("./a/../b") == V{"b", "a"});
  CHECK(RootAncestors("rel") == V{"rel"});
  CHECK(RootAncestors("/") == V{});
  CHECK(RootAncestors("") == V{});

  CHECK(PathToMatch("/d/", "/d/2024/a.csv") == "2024/a.csv");
  CHECK(PathToMatch("/d", "/d/2024/a.csv") == "2024/a.csv");
  CHECK(PathToMatch("/d", "/dx/a.csv") == "dx/a.csv");  // beside the root, not below it
  CHECK(PathToMatch("/d/a.csv", "/d/a.csv") == "d/a.csv");  // the root is the file
  CHECK(PathToMatch("d", "d/a.csv") == "a.csv");
  CHECK(PathToMatch("/", "/a.csv") == "a.csv");
}

TEST_CASE("partitions: one key per folder level", "[partitions]") {
  auto f = PartitionFormat::FolderLevels({"country", "state"});
  CHECK(MatchOrEmpty(f, "US/CA/a.csv") == std::vector<std::string>{"US", "CA"});
  CHECK(MatchOrEmpty(f, "country=US/state=CA/x/a.csv") == std::vector<std::string>{"US", "CA"});
  CHECK(MatchOrEmpty(f, "country=US/CA=x/a.csv") == std::vector<std::string>{"US", "CA=x"});
  CHECK(MatchOrEmpty(f, "US/a.csv") == std::vector<std::string>{"<no match>"});
  CHECK(f.GroupsAreContiguous({"country"}));
}

TEST_CASE("partitions: which key sets are contiguous in a depth-first listing", "[partitions]") {
  auto f = PartitionFormat::Parse("{user}/{season}/{genres}.wav").value();
  CHECK(f.GroupsAreContiguous({"user"}));
  CHECK(f.GroupsAreContiguous({"user", "season"}));
  CHECK(f.GroupsAreContiguous({"user", "season", "genres"}));
  CHECK(!f.GroupsAreContiguous({"user", "genres"}));  // seasons in between
  CHECK(!f.GroupsAreContiguous({"season"}));
  auto star = PartitionFormat::Parse("*/{a}/x").value();
  CHECK(!star.GroupsAreContiguous({"a"}));
  auto mixed = PartitionFormat::Parse("{a}_{b}/{c}").value();
  CHECK(!mixed.GroupsAreContiguous({"a"}));  // "x_1" and "x_2" are two folders
  CHECK(mixed.GroupsAreContiguous({"a", "b"}));
}

TEST_CASE("partitions: partition keys are checked against the format", "[partitions]") {
  auto f = PartitionFormat::Parse("{country}/{state}/*.csv").value();
  CHECK(CheckPartitionKeys(f, {"state", "country"}, "sales").ok());
  CHECK(CheckPartitionKeys(f, {"city"}, "sales").message() ==
        "partition key 'city' is not a key of input sales (its partition format "
        "'{country}/{state}/*.csv' gives: country, state)");
  CHECK(CheckPartitionKeys(f, {"state", "state"}, "sales").message() ==
        "partition_keys names 'state' twice");
  CHECK(CheckPartitionKeys(f, {}, "sales").message() == "partition_keys is empty");
  CHECK(CheckPartitionKeys(PartitionFormat::FolderLevels({"a"}), {"b"}, "x").message() ==
        "partition key 'b' is not a key of input x (its folder levels gives: a)");
}

std::vector<Partition> TakeAll(FilePartitioner& p) {
  std::vector<Partition> out;
  p.Take(&out);
  return out;
}

TEST_CASE("partitions: contiguous groups go out as soon as they are complete", "[partitions]") {
  FilePartitioner p(PartitionFormat::Parse("{country}/{state}/{file}").value(), {"country", "state"},
                    "/data/", FilePartitioner::Options());
  CHECK(p.contiguous());
  REQUIRE(p.Add("/data/FR/IDF/1.csv").ok());
  REQUIRE(p.Add("/data/FR/IDF/2.csv").ok());
  CHECK(TakeAll(p).empty());
  REQUIRE(p.Add("/data/README").ok());  // no match: skipped
  REQUIRE(p.Add("/data/US/CA/1.csv").ok());
  std::vector<Partition> first = TakeAll(p);
  REQUIRE(first.size() == 1);
  CHECK(first[0].key_values == KV{{"country", "FR"}, {"state", "IDF"}});
  CHECK(first[0].files == std::vector<std::string>{"/data/FR/IDF/1.csv", "/data/FR/IDF/2.csv"});
  REQUIRE(p.Add("/data/US/NY/1.csv").ok());
  REQUIRE(p.Finish().ok());
  std::vector<Partition> rest = TakeAll(p);
  REQUIRE(rest.size() == 2);
  CHECK(rest[0].key_values == KV{{"country", "US"}, {"state", "CA"}});
  CHECK(rest[1].key_values == KV{{"country", "US"}, {"state", "NY"}});
  CHECK(p.unmatched() == 1);
  CHECK(p.unmatched_examples() == std::vector<std::string>{"/data/README"});

  // A combination that comes back after its group was handed out.
  FilePartitioner q(PartitionFormat::Parse("{country}/{file}").value(), {"country"}, "/d",
                    FilePartitioner::Options());
  REQUIRE(q.Add("/d/A/1").ok());
  REQUIRE(q.Add("/d/B/1").ok());
  Status s = q.Add("/d/A/2");
  CHECK(s.message() ==
        "partition {country: A} of /d came up again after its mini-batch was formed (at /d/A/2): "
        "the listing is not grouped by folder, so the partitions cannot be formed as listed");
}

TEST_CASE("partitions: spread-out groups are held, spilled and handed out at the end", "[partitions]") {
  std::string pattern = (fs::temp_directory_path() / "partitions_test.XXXXXX").string();
  REQUIRE(mkdtemp(pattern.data()) != nullptr);
  std::string spill = pattern + "/spill";
  {
    FilePartitioner::Options options;
    options.max_held_bytes = 400;  // a handful of paths
    options.spill_dir = spill;
    FilePartitioner p(PartitionFormat::Parse("{user}/{season}/{genre}.wav").value(),
                      {"user", "genre"}, "/in", options);
    CHECK(!p.contiguous());
    std::vector<std::string> seasons = {"autumn", "spring", "summer", "winter"};
    std::vector<std::string> genres = {"jazz", "pop", "rock"};
    std::vector<std::string> users = {"u1", "u2"};
    for (const auto& u : users) {
      for (const auto& s : seasons) {
        for (const auto& g : genres) REQUIRE(p.Add("/in/" + u + "/" + s + "/" + g + ".wav").ok());
      }
    }
    CHECK(TakeAll(p).empty());
    CHECK(p.spilled_groups() > 0);
    CHECK(fs::exists(spill));
    REQUIRE(p.Finish().ok());
    std::vector<Partition> groups = TakeAll(p);
    REQUIRE(groups.size() == 6);
    size_t i = 0;
    for (const auto& u : users) {
      for (const auto& g : genres) {
        CHECK(groups[i].key_values == KV{{"user", u}, {"genre", g}});
        std::vector<std::string> expect;
        for (const auto& s : seasons) expect.push_back("/in/" + u + "/" + s + "/" + g + ".wav");
        CHECK(groups[i].files == expect);  // listing order, spilled ones included
        i++;
      }
    }
  }
  CHECK(!fs::exists(spill));  // the destructor removes the spill folder
  fs::remove_all(pattern);
}

TEST_CASE("partitions: without a spill folder the bound is an error", "[partitions]") {
  FilePartitioner::Options options;
  options.max_held_bytes = 100;
  FilePartitioner p(PartitionFormat::Parse("{a}/{b}/{c}").value(), {"a", "c"}, "/r", options);
  Status s;
  for (int i = 0; i < 10 && s.ok(); i++) s = p.Add("/r/x/" + std::to_string(i) + "/z");
  CHECK(s.message() == "partitions of /r: the file lists exceed 100 bytes and no spill folder is set");
}

TEST_CASE("partitions: column partitions are ordered by first appearance", "[partitions]") {
  ColumnPartitionIndex index;
  // Range 1's report arrives first, then range 0's, then range 1's again (a retry).
  index.Add(1, 0, {{"Store", "2"}, {"Brand", "x"}}, "/s/h2x/1.2.pkl", 5);
  index.Add(1, 1, {{"Store", "1"}, {"Brand", "x"}}, "/s/h1x/1.2.pkl", 7);
  index.Add(0, 0, {{"Store", "1"}, {"Brand", "x"}}, "/s/h1x/0.1.pkl", 3);
  index.Add(0, 1, {{"Store", "1"}, {"Brand", "y"}}, "/s/h1y/0.1.pkl", 1);
  index.Add(1, 0, {{"Store", "2"}, {"Brand", "x"}}, "/s/h2x/1.3.pkl", 5);
  CHECK(index.size() == 3);
  std::vector<ColumnPartitionIndex::Group> groups = index.TakeGroups();
  REQUIRE(groups.size() == 3);
  CHECK(groups[0].key_values == KV{{"Store", "1"}, {"Brand", "x"}});
  REQUIRE(groups[0].parts.size() == 2);
  CHECK(groups[0].parts[0].path == "/s/h1x/0.1.pkl");
  CHECK(groups[0].parts[1].path == "/s/h1x/1.2.pkl");
  CHECK(groups[0].rows == 10);
  CHECK(groups[1].key_values == KV{{"Store", "1"}, {"Brand", "y"}});
  CHECK(groups[2].key_values == KV{{"Store", "2"}, {"Brand", "x"}});
  REQUIRE(groups[2].parts.size() == 1);
  CHECK(groups[2].parts[0].path == "/s/h2x/1.2.pkl");  // the retry's report is ignored
  CHECK(groups[2].rows == 5);
}

TEST_CASE("partitions: encoded combinations are unambiguous", "[partitions]") {
  CHECK(EncodeKeyValues({{"a", "b:c"}}) != EncodeKeyValues({{"a", "b"}, {"c", ""}}));
  CHECK(EncodeKeyValues({{"a", "1"}, {"b", "2"}}) == EncodeKeyValues({{"a", "1"}, {"b", "2"}}));
}

}  // namespace
}  // namespace parallelrun
