// MiniBatchCodec: every kind of mini-batch round-trips byte-exact (paths that
// are not UTF-8, with newlines and NULs, partitions, known_rows), the layout
// is the one the header documents, and every malformed payload — truncated
// at any byte, with bytes left over, a bad kind, a count too large — is
// refused with a reason naming the field and its offset.
#include "base/mini_batch_codec.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace parallelrun {
namespace {

using namespace std::string_literals;

const std::string kOdd = "caf\xe9 \xff\xfe\0name\nwith newline\n"s;

std::vector<MiniBatch> Samples() {
  std::vector<MiniBatch> out;
  MiniBatch files;
  files.id = 0x1122334455667788ull;
  files.input = 3;
  files.kind = MiniBatchKind::kFiles;
  files.items = {"data/plain.png", "data/new\nline.png", "data/latin1-\xe9t\xe9.png",
                 "data/\xff\xfe\x80.bin", "data/nul\0inside"s, "", kOdd};
  out.push_back(files);

  MiniBatch ranges;
  ranges.id = 2;
  ranges.kind = MiniBatchKind::kTableRanges;
  ranges.known_rows = 0x0102030405060708ull;
  ranges.items = {"\x01\0descriptor\xff"s, std::string(70000, 'x')};
  out.push_back(ranges);

  MiniBatch file_partition;
  file_partition.id = 9;
  file_partition.input = 1;
  file_partition.kind = MiniBatchKind::kFilePartition;
  file_partition.partition = {{"country", "C\xf4te d'Ivoire"}, {"state", ""}, {"k\0ey"s, "v\nal"}};
  file_partition.items = {"/d/a.csv", kOdd};
  out.push_back(file_partition);

  MiniBatch table_partition;
  table_partition.id = ~uint64_t{0};
  table_partition.input = ~uint32_t{0};
  table_partition.kind = MiniBatchKind::kTablePartition;
  table_partition.partition = {{"", ""}, {"year", "2024"}};
  table_partition.known_rows = 12345;
  table_partition.items = {"\x03spill"s};
  out.push_back(table_partition);

  out.push_back(MiniBatch{});  // nothing at all
  return out;
}

std::string Encode(const MiniBatch& b, uint32_t attempt) {
  WireWriter w;
  EncodeMiniBatch(b, attempt, &w);
  return w.Take();
}

bool Same(const MiniBatch& a, const MiniBatch& b) {
  return a.id == b.id && a.input == b.input && a.kind == b.kind && a.items == b.items &&
         a.partition == b.partition && a.known_rows == b.known_rows;
}

TEST_CASE("MiniBatchCodec: every kind round-trips", "[mini_batch_codec]") {
  uint32_t attempt = 1;
  for (const MiniBatch& b : Samples()) {
    INFO("mini-batch " << b.id);
    std::string bytes = Encode(b, attempt);
    MiniBatch back;
    back.items = {"stale"};  // decoding replaces, never appends
    back.partition = {{"stale", "stale"}};
    uint32_t got_attempt = 0;
    std::string why;
    REQUIRE(DecodeMiniBatch(bytes, &back, &got_attempt, &why));
    CHECK(why.empty());
    CHECK(Same(b, back));
    CHECK(got_attempt == attempt);
    CHECK(Encode(back, got_attempt) == bytes);  // one encoding per mini-batch
    attempt = attempt * 7 + 1;
  }
}

TEST_CASE("MiniBatchCodec: the byte layout is the documented one", "[mini_batch_codec]") {
  MiniBatch b;
  b.id = 7;
  b.input = 2;
  b.kind = MiniBatchKind::kFilePartition;
  b.partition = {{"k", "v"}};
  b.known_rows = 5;
  b.items = {"\xff"s};
  CHECK(Encode(b, 3) == "\x07\0\0\0\0\0\0\0"s  // mini_batch_id
                        "\x03\0\0\0"s          // attempt
                        "\x02\0\0\0"s          // input_index
                        "\x02"s                // kind: file partition
                        "\x01\0\0\0"s          // 1 partition key
                        "\x01\0\0\0k\x01\0\0\0v"s
                        "\x05\0\0\0\0\0\0\0"s  // known_rows
                        "\x01\0\0\0"s          // 1 item
                        "\x01\0\0\0\xff"s);
}

std::string Refusal(const std::string& payload) {
  MiniBatch b;
  uint32_t attempt = 0;
  std::string why;
  CHECK_FALSE(DecodeMiniBatch(payload, &b, &attempt, &why));
  return why;
}

TEST_CASE("MiniBatchCodec: truncated at every byte, refused naming the field",
          "[mini_batch_codec]") {
  for (const MiniBatch& b : Samples()) {
    if (b.items.size() > 0 && b.items.back().size() > 1000) continue;  // 70 KB: too many cuts
    std::string bytes = Encode(b, 1);
    for (size_t n = 0; n < bytes.size(); n++) {
      INFO("mini-batch " << b.id << " cut to " << n << " of " << bytes.size() << " bytes");
      std::string why = Refusal(bytes.substr(0, n));
      // "<field> at byte <offset>: …", the offset within the cut payload.
      CHECK(why.find(" at byte ") != std::string::npos);
      CHECK((why.find("payload ends") != std::string::npos ||
             why.find("bytes follow") != std::string::npos ||
             why.find("cannot fit") != std::string::npos));
    }
  }
}

TEST_CASE("MiniBatchCodec: a truncation's reason names the field and its offset",
          "[mini_batch_codec]") {
  MiniBatch b;
  b.kind = MiniBatchKind::kFilePartition;
  b.partition = {{"k", "v"}};
  b.items = {"\xff"s};
  // id 0, attempt 8, input 12, kind 16, 1 key at 17: key 21, value 26;
  // known_rows 31, 1 item at 39: the item at 43; 48 bytes.
  std::string bytes = Encode(b, 1);
  REQUIRE(bytes.size() == 48);
  CHECK(Refusal("") == "mini_batch_id at byte 0: payload ends after 0 of its 8 bytes");
  CHECK(Refusal(bytes.substr(0, 10)) == "attempt at byte 8: payload ends after 2 of its 4 bytes");
  CHECK(Refusal(bytes.substr(0, 16)) == "kind at byte 16: payload ends after 0 of its 1 bytes");
  CHECK(Refusal(bytes.substr(0, 25)) ==
        "partition keys at byte 17: 1 cannot fit in the 4 bytes that follow");
  CHECK(Refusal(bytes.substr(0, 29)) ==
        "partition value at byte 26: payload ends after 3 of the 4 bytes of its length");
  CHECK(Refusal(bytes.substr(0, 35)) == "known_rows at byte 31: payload ends after 4 of its 8 bytes");
  CHECK(Refusal(bytes.substr(0, 47)) == "item at byte 43: length 1, but 0 bytes follow");
}

TEST_CASE("MiniBatchCodec: malformed payloads are refused with a reason", "[mini_batch_codec]") {
  auto head = [](uint8_t kind) {
    WireWriter w;
    w.U64(1);
    w.U32(1);
    w.U32(0);
    w.U8(kind);
    return w;
  };
  WireWriter kind = head(4);
  kind.U32(0);
  kind.U64(0);
  kind.U32(0);
  CHECK(Refusal(kind.data()) == "kind at byte 16: 4 is not a mini-batch kind");

  WireWriter items = head(0);
  items.U32(0);
  items.U64(0);
  items.U32(0xffffffff);
  CHECK(Refusal(items.data()) == "items at byte 29: 4294967295 cannot fit in the 0 bytes that follow");

  WireWriter keys = head(2);
  keys.U32(2);
  keys.Bytes("k");
  CHECK(Refusal(keys.data()) ==
        "partition keys at byte 17: 2 cannot fit in the 5 bytes that follow");

  std::string whole = Encode(Samples()[0], 1);
  CHECK(Refusal(whole + "x") ==
        "1 bytes left over after the last field (at byte " + std::to_string(whole.size()) + ")");
}

}  // namespace
}  // namespace parallelrun
