// Wire: field encodings round-trip byte-exact, WireFields fails closed past
// the end, and FrameDecoder reassembles frames from any split of the stream and
// refuses bad lengths before buffering a body.
#include "base/wire.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace parallelrun {
namespace {

using namespace std::string_literals;

// The bytes of a string literal that may contain NULs.
std::string B(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

// Feeds `chunks` one after another and drains the decoder after each one;
// returns the frames in order. Fails the test on kMalformed.
std::vector<Frame> DecodeAll(FrameDecoder* d, const std::vector<std::string>& chunks) {
  std::vector<Frame> frames;
  for (const std::string& chunk : chunks) {
    d->Feed(chunk.data(), chunk.size());
    for (;;) {
      Frame f;
      std::string error;
      FrameDecoder::Outcome o = d->Next(&f, &error);
      if (o == FrameDecoder::Outcome::kNeedMore) break;
      INFO("error: " << error);
      REQUIRE(o == FrameDecoder::Outcome::kFrame);
      frames.push_back(std::move(f));
    }
  }
  return frames;
}

// ---- fields ------------------------------------------------------------------

TEST_CASE("Wire: every field type round-trips", "[wire]") {
  const std::string nasty = "a\0b\xff\n\r\x80 \xc3("s;
  std::string big(70000, '\0');
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<char>(i * 7);
  const double denormal = std::numeric_limits<double>::denorm_min();

  WireWriter w;
  w.U8(0);
  w.U8(0xff);
  w.U32(0);
  w.U32(0xdeadbeef);
  w.U32(std::numeric_limits<uint32_t>::max());
  w.U64(0x0123456789abcdefull);
  w.U64(std::numeric_limits<uint64_t>::max());
  w.I64(-1);
  w.I64(std::numeric_limits<int64_t>::min());
  w.I64(std::numeric_limits<int64_t>::max());
  w.F64(1.5);
  w.F64(-0.0);
  w.F64(denormal);
  w.F64(std::numeric_limits<double>::infinity());
  w.F64(std::numeric_limits<double>::quiet_NaN());
  w.F64(1700000000.123456);
  w.Bytes("");
  w.Bytes(nasty);
  w.Bytes("\n"s);
  w.Bytes("\0"s);
  w.Bytes("\xff"s);
  w.Bytes(big);

  WireFields r(w.data());
  CHECK(r.U8("u8") == 0);
  CHECK(r.U8("u8") == 0xff);
  CHECK(r.U32("u32") == 0);
  CHECK(r.U32("u32") == 0xdeadbeef);
  CHECK(r.U32("u32") == std::numeric_limits<uint32_t>::max());
  CHECK(r.U64("u64") == 0x0123456789abcdefull);
  CHECK(r.U64("u64") == std::numeric_limits<uint64_t>::max());
  CHECK(r.I64("i64") == -1);
  CHECK(r.I64("i64") == std::numeric_limits<int64_t>::min());
  CHECK(r.I64("i64") == std::numeric_limits<int64_t>::max());
  CHECK(r.F64("f64") == 1.5);
  double negative_zero = r.F64("f64");
  CHECK(negative_zero == 0.0);
  CHECK(std::signbit(negative_zero));
  CHECK(r.F64("f64") == denormal);
  CHECK(r.F64("f64") == std::numeric_limits<double>::infinity());
  CHECK(std::isnan(r.F64("f64")));
  CHECK(r.F64("f64") == 1700000000.123456);
  CHECK(r.Bytes("bytes") == "");
  CHECK(r.Bytes("bytes") == nasty);
  CHECK(r.Bytes("bytes") == "\n");
  CHECK(r.Bytes("bytes") == "\0"s);
  CHECK(r.Bytes("bytes") == "\xff");
  CHECK(r.Bytes("bytes") == big);
  std::string why;
  CHECK(r.Done(&why));
  CHECK(why.empty());
}

TEST_CASE("Wire: fields are little-endian with no padding", "[wire]") {
  WireWriter w;
  w.U8(0xab);
  w.U32(0x01020304);
  w.U64(0x1122334455667788ull);
  w.I64(-2);
  w.F64(1.0);  // 0x3ff0000000000000
  w.Bytes("a\0\xff"s);
  CHECK(w.data() == B({0xab,                                            //
                       0x04, 0x03, 0x02, 0x01,                          //
                       0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  //
                       0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  //
                       0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f,  //
                       0x03, 0x00, 0x00, 0x00, 'a', 0x00, 0xff}));
  std::string taken = w.Take();
  CHECK(taken.size() == 1 + 4 + 8 + 8 + 8 + 4 + 3);
}

TEST_CASE("Wire: AppendFrame writes length (type + payload), type, payload", "[wire]") {
  std::string out = "x";  // appends, keeps what is there
  AppendFrame(0x11, "ab\0"s, &out);
  AppendFrame(0x7f, "", &out);
  CHECK(out == "x"s + B({0x04, 0, 0, 0, 0x11, 'a', 'b', 0}) + B({0x01, 0, 0, 0, 0x7f}));

  std::string big;
  AppendFrame(0x10, std::string(0x10203, 'z'), &big);
  CHECK(big.substr(0, 5) == B({0x04, 0x02, 0x01, 0x00, 0x10}));
  CHECK(big.size() == 5 + 0x10203);
}

TEST_CASE("Wire: reading past the end fails closed", "[wire]") {
  std::string why;
  SECTION("fixed width, then every later read is zero") {
    std::string data = B({1, 2, 3, 4, 5});
    WireFields r(data);
    CHECK(r.U32("a") == 0x04030201u);
    CHECK(r.ok());
    CHECK(r.U32("b") == 0);  // 1 byte left
    CHECK_FALSE(r.ok());
    CHECK(r.U8("c") == 0);  // the byte is still there, but the reader is done
    CHECK(r.Bytes("d") == "");
    CHECK_FALSE(r.Done(&why));
    CHECK(why == "b at byte 4: payload ends after 1 of its 4 bytes");
  }
  SECTION("each fixed width on one byte too few") {
    std::string seven(7, '\x01');
    WireFields r64(seven);
    CHECK(r64.U64("f") == 0);
    CHECK_FALSE(r64.ok());
    WireFields ri(seven);
    CHECK(ri.I64("f") == 0);
    CHECK_FALSE(ri.ok());
    WireFields rf(seven);
    CHECK(rf.F64("f") == 0.0);
    CHECK_FALSE(rf.ok());
    WireFields r8("");
    CHECK(r8.U8("f") == 0);
    CHECK_FALSE(r8.ok());
    WireFields r32(seven.substr(0, 3));
    CHECK(r32.U32("f") == 0);
    CHECK_FALSE(r32.ok());
  }
  SECTION("bytes longer than what is left") {
    std::string data = B({5, 0, 0, 0, 'a', 'b', 'c', 'd'});  // claims 5, has 4
    WireFields r(data);
    CHECK(r.Bytes("name") == "");
    CHECK_FALSE(r.Done(&why));
    CHECK(why == "name at byte 0: length 5, but 4 bytes follow");
  }
  SECTION("bytes with a truncated length") {
    std::string data = B({1, 0});
    WireFields r(data);
    CHECK(r.Bytes("name") == "");
    CHECK_FALSE(r.Done(&why));
    CHECK(why == "name at byte 0: payload ends after 2 of the 4 bytes of its length");
  }
  SECTION("bytes with a huge length") {
    std::string data = B({0xff, 0xff, 0xff, 0xff, 'a'});
    WireFields r(data);
    CHECK(r.Bytes("name") == "");
    CHECK_FALSE(r.ok());
  }
  SECTION("exactly consumed is done; leftovers are not") {
    std::string data = B({7, 8});
    WireFields r(data);
    CHECK(r.U8("a") == 7);
    CHECK(r.ok());
    WireFields copy = r;
    CHECK_FALSE(copy.Done(&why));
    CHECK(why == "1 bytes left over after the last field (at byte 1)");
    CHECK(r.U8("b") == 8);
    CHECK(r.Done(&why));
  }
}

TEST_CASE("WireFields: Enum refuses a value past the last", "[wire]") {
  std::string why;
  const std::string two = B({2}), three = B({3});
  WireFields ok(two);
  CHECK(ok.Enum("kind", 2, "a mini-batch kind") == 2);
  CHECK(ok.Done(&why));
  WireFields bad(three);
  CHECK(bad.Enum("kind", 2, "a mini-batch kind") == 3);
  CHECK_FALSE(bad.Done("RUN", &why));
  CHECK(why == "RUN: kind at byte 0: 3 is not a mini-batch kind");
  WireFields empty("");
  CHECK(empty.Enum("kind", 2, "a mini-batch kind") == 0);
  CHECK_FALSE(empty.Done(&why));
  CHECK(why == "kind at byte 0: payload ends after 0 of its 1 bytes");
}

// ---- FrameDecoder --------------------------------------------------------------

// Three frames: an empty payload, one with awkward bytes, and a longer one.
std::string ThreeFrames() {
  std::string s;
  AppendFrame(0x20, "", &s);
  AppendFrame(0x11, "\0\xff\n\x00\x00\x00"s, &s);
  AppendFrame(0x10, std::string(300, 'q') + "end", &s);
  return s;
}

void CheckThreeFrames(const std::vector<Frame>& frames) {
  REQUIRE(frames.size() == 3);
  CHECK(frames[0].type == 0x20);
  CHECK(frames[0].payload == "");
  CHECK(frames[1].type == 0x11);
  CHECK(frames[1].payload == "\0\xff\n\x00\x00\x00"s);
  CHECK(frames[2].type == 0x10);
  CHECK(frames[2].payload == std::string(300, 'q') + "end");
}

TEST_CASE("FrameDecoder: several frames in one feed", "[wire]") {
  FrameDecoder d(1024);
  CheckThreeFrames(DecodeAll(&d, {ThreeFrames()}));
  CHECK(d.buffered() == 0);
}

TEST_CASE("FrameDecoder: frames fed one byte at a time", "[wire]") {
  FrameDecoder d(1024);
  std::string stream = ThreeFrames() + ThreeFrames();
  std::vector<std::string> chunks;
  for (char c : stream) chunks.push_back(std::string(1, c));
  std::vector<Frame> frames = DecodeAll(&d, chunks);
  REQUIRE(frames.size() == 6);
  CheckThreeFrames({frames[0], frames[1], frames[2]});
  CheckThreeFrames({frames[3], frames[4], frames[5]});
  CHECK(d.buffered() == 0);
}

TEST_CASE("FrameDecoder: frames split at every point", "[wire]") {
  const std::string stream = ThreeFrames();
  for (size_t cut = 0; cut <= stream.size(); cut++) {
    INFO("cut at " << cut);
    FrameDecoder d(1024);
    CheckThreeFrames(DecodeAll(&d, {stream.substr(0, cut), stream.substr(cut)}));
    CHECK(d.buffered() == 0);
  }
  for (size_t a = 0; a <= stream.size(); a += 3) {
    for (size_t b = a; b <= stream.size(); b += 5) {
      INFO("cuts at " << a << " and " << b);
      FrameDecoder d(1024);
      CheckThreeFrames(
          DecodeAll(&d, {stream.substr(0, a), stream.substr(a, b - a), stream.substr(b)}));
    }
  }
}

TEST_CASE("FrameDecoder: buffered counts what is not yet a frame", "[wire]") {
  FrameDecoder d(1024);
  Frame f;
  std::string error;
  CHECK(d.Next(&f, &error) == FrameDecoder::Outcome::kNeedMore);
  std::string stream;
  AppendFrame(0x01, "hello", &stream);
  AppendFrame(0x02, "world", &stream);
  d.Feed(stream.data(), 12);  // frame 1 (10 bytes) + 2 of frame 2
  CHECK(d.buffered() == 12);
  REQUIRE(d.Next(&f, &error) == FrameDecoder::Outcome::kFrame);
  CHECK(f.type == 0x01);
  CHECK(f.payload == "hello");
  CHECK(d.buffered() == 2);
  CHECK(d.Next(&f, &error) == FrameDecoder::Outcome::kNeedMore);
  CHECK(d.buffered() == 2);
  d.Feed(stream.data() + 12, stream.size() - 12);
  REQUIRE(d.Next(&f, &error) == FrameDecoder::Outcome::kFrame);
  CHECK(f.type == 0x02);
  CHECK(f.payload == "world");
  CHECK(d.buffered() == 0);
  CHECK(d.Next(&f, &error) == FrameDecoder::Outcome::kNeedMore);
}

TEST_CASE("FrameDecoder: a frame of exactly the maximum is accepted", "[wire]") {
  FrameDecoder d(16);
  std::string stream;
  AppendFrame(0x05, std::string(15, 'm'), &stream);  // length 16
  std::vector<Frame> frames = DecodeAll(&d, {stream});
  REQUIRE(frames.size() == 1);
  CHECK(frames[0].payload == std::string(15, 'm'));
}

TEST_CASE("FrameDecoder: length 0 is malformed", "[wire]") {
  FrameDecoder d(1024);
  std::string stream;
  AppendFrame(0x01, "ok", &stream);
  stream += B({0, 0, 0, 0, 0x01});
  d.Feed(stream.data(), stream.size());
  Frame f;
  std::string error;
  REQUIRE(d.Next(&f, &error) == FrameDecoder::Outcome::kFrame);
  CHECK(f.payload == "ok");
  CHECK(d.Next(&f, &error) == FrameDecoder::Outcome::kMalformed);
  CHECK(error == "frame of length 0 (no type byte)");
}

TEST_CASE("FrameDecoder: a length over the maximum is malformed before its body arrives",
          "[wire]") {
  FrameDecoder d(1024);
  Frame f;
  std::string error;
  std::string header = B({0x01, 0x04, 0, 0});  // 1025
  d.Feed(header.data(), 3);
  CHECK(d.Next(&f, &error) == FrameDecoder::Outcome::kNeedMore);
  d.Feed(header.data() + 3, 1);
  // Only the header is here: it is refused now, not after 1025 more bytes.
  CHECK(d.Next(&f, &error) == FrameDecoder::Outcome::kMalformed);
  CHECK(error == "frame of 1025 bytes exceeds the maximum of 1024");

  FrameDecoder huge(256u << 20);
  std::string max_header = B({0xff, 0xff, 0xff, 0xff});
  huge.Feed(max_header.data(), max_header.size());
  CHECK(huge.Next(&f, &error) == FrameDecoder::Outcome::kMalformed);
  CHECK(error == "frame of 4294967295 bytes exceeds the maximum of 268435456");
}

TEST_CASE("FrameDecoder: once malformed, always malformed", "[wire]") {
  for (const std::string& bad : {B({0, 0, 0, 0}), B({0x00, 0x00, 0x01, 0x00, 0x11})}) {
    FrameDecoder d(1024);
    d.Feed(bad.data(), bad.size());
    Frame f;
    std::string first_error;
    REQUIRE(d.Next(&f, &first_error) == FrameDecoder::Outcome::kMalformed);
    CHECK_FALSE(first_error.empty());
    std::string good;
    AppendFrame(0x01, "fine", &good);
    for (int i = 0; i < 3; i++) {
      d.Feed(good.data(), good.size());
      std::string error;
      f = Frame{};
      CHECK(d.Next(&f, &error) == FrameDecoder::Outcome::kMalformed);
      CHECK(error == first_error);
      CHECK(f.payload == "");
    }
  }
}

}  // namespace
}  // namespace parallelrun
