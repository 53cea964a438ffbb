// The agent ⇄ worker messages: what the agent sends is checked by decoding it
// by hand with WireReader, field by field as the header specifies; what the
// worker sends is built by hand with WireWriter and decoded. Every truncation
// and any trailing byte must be refused.
#include "node/worker_protocol.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace parallelrun {
namespace {

using namespace std::string_literals;

// Splits exactly one frame off `stream`; fails if there is not exactly one.
Frame OnlyFrame(const std::string& stream) {
  FrameDecoder d(kMaxWorkerFrame);
  d.Feed(stream.data(), stream.size());
  Frame f;
  std::string error;
  REQUIRE(d.Next(&f, &error) == FrameDecoder::Outcome::kFrame);
  CHECK(d.buffered() == 0);
  return f;
}

// Every proper prefix of a valid payload, and the payload plus one byte, must
// be refused by `decode`.
template <typename Message, typename Decode>
void CheckRefusesTruncatedAndTrailing(const std::string& payload, Decode decode) {
  for (size_t n = 0; n < payload.size(); n++) {
    INFO("truncated to " << n << " of " << payload.size() << " bytes");
    Message m;
    CHECK_FALSE(decode(payload.substr(0, n), &m));
  }
  for (const std::string& extra : {"\0"s, "x"s, "\xff\xff\xff\xff"s}) {
    INFO("trailing " << extra.size() << " bytes");
    Message m;
    CHECK_FALSE(decode(payload + extra, &m));
  }
}

// ---- agent → worker ----------------------------------------------------------

TEST_CASE("EncodeRun: ids, attempt, input, kind and items byte-exact", "[worker_protocol]") {
  MiniBatch batch;
  batch.id = 0x1122334455667788ull;
  batch.input = 3;
  batch.kind = MiniBatchKind::kTableRanges;
  batch.items = {
      "data/plain.png",
      "data/with space.png",
      "data/new\nline.png",
      "data/latin1-\xe9t\xe9.png",  // not UTF-8
      "data/\xff\xfe\x80.bin",
      "data/nul\0inside"s,
      "",
      "data/\xc3\xa4rger.txt",  // UTF-8
  };
  std::string out = "prefix";
  EncodeRun(batch, 2, &out);
  REQUIRE(out.substr(0, 6) == "prefix");
  Frame f = OnlyFrame(out.substr(6));
  CHECK(f.type == kWorkerRun);
  CHECK(f.type == 0x10);

  WireReader r(f.payload);
  CHECK(r.U64() == 0x1122334455667788ull);
  CHECK(r.U32() == 2);
  CHECK(r.U32() == 3);
  CHECK(r.U8() == 1);   // kTableRanges
  CHECK(r.U32() == 0);  // no partition
  REQUIRE(r.U32() == batch.items.size());
  for (const std::string& item : batch.items) {
    std::string got = r.Bytes();
    CHECK(got.size() == item.size());
    CHECK(got == item);
  }
  CHECK(r.done());
}

TEST_CASE("EncodeRun: a mini-batch without items", "[worker_protocol]") {
  MiniBatch batch;
  batch.id = 7;
  std::string out;
  EncodeRun(batch, 1, &out);
  CHECK(out == "\x1a\0\0\0\x10"s                 // length 26, RUN
                   "\x07\0\0\0\0\0\0\0"s         // id
                   "\x01\0\0\0"s "\0\0\0\0"s     // attempt, input
                   "\0"s                          // kind: files
                   "\0\0\0\0"s                   // no partition
                   "\0\0\0\0"s);                 // no items
}

TEST_CASE("EncodeRun: a partition's key values in order, bytes kept", "[worker_protocol]") {
  MiniBatch batch;
  batch.id = 9;
  batch.input = 1;
  batch.kind = MiniBatchKind::kFilePartition;
  batch.partition = {{"country", "C\xf4te d'Ivoire"}, {"state", ""}, {"k\0ey"s, "v\nal"}};
  batch.items = {"/d/a.csv"};
  std::string out;
  EncodeRun(batch, 4, &out);
  Frame f = OnlyFrame(out);
  CHECK(f.type == kWorkerRun);
  WireReader r(f.payload);
  CHECK(r.U64() == 9);
  CHECK(r.U32() == 4);
  CHECK(r.U32() == 1);
  CHECK(r.U8() == 2);  // kFilePartition
  REQUIRE(r.U32() == 3);
  for (const auto& [key, value] : batch.partition) {
    CHECK(r.Bytes() == key);
    CHECK(r.Bytes() == value);
  }
  REQUIRE(r.U32() == 1);
  CHECK(r.Bytes() == "/d/a.csv");
  CHECK(r.done());
}

TEST_CASE("EncodeStart: version then key/value pairs in order", "[worker_protocol]") {
  std::vector<std::pair<std::string, std::string>> config = {
      {"entry_script", "/src/score.py"},
      {"arg", "--model\0x y\n"s},
      {"empty", ""},
  };
  std::string out;
  EncodeStart(config, &out);
  Frame f = OnlyFrame(out);
  CHECK(f.type == kWorkerStart);
  WireReader r(f.payload);
  CHECK(r.U32() == kWorkerProtocolVersion);
  REQUIRE(r.U32() == 3);
  for (const auto& [key, value] : config) {
    CHECK(r.Bytes() == key);
    CHECK(r.Bytes() == value);
  }
  CHECK(r.done());
}

TEST_CASE("EncodeShutdown: an empty SHUTDOWN frame", "[worker_protocol]") {
  std::string out;
  EncodeShutdown(&out);
  CHECK(out == "\x01\0\0\0\x20"s);
}

// ---- worker → agent ----------------------------------------------------------

std::string ResultPayload(uint8_t status) {
  WireWriter w;
  w.U64(0xfedcba9876543210ull);
  w.U32(3);
  w.U8(status);
  w.U64(40);
  w.U64(41);
  w.F64(1700000000.25);
  w.F64(12.5);
  w.F64(3.25);
  w.F64(11.75);
  w.Bytes("ValueError");
  w.Bytes("bad pixel \xff in\nrow 3"s);
  w.Bytes("Traceback (most recent call last):\n  File \"score.py\"\0\n"s);
  return w.Take();
}

TEST_CASE("DecodeResult: every field", "[worker_protocol]") {
  AttemptResult r;
  r.node = 2;
  r.process = "process003";
  REQUIRE(DecodeResult(ResultPayload(static_cast<uint8_t>(AttemptStatus::kRunException)), &r));
  CHECK(r.id == 0xfedcba9876543210ull);
  CHECK(r.attempt == 3);
  CHECK(r.status == AttemptStatus::kRunException);
  CHECK(r.total == 40);
  CHECK(r.returned == 41);
  CHECK(r.start_time == 1700000000.25);
  CHECK(r.elapsed_seconds == 12.5);
  CHECK(r.process_seconds == 3.25);
  CHECK(r.run_seconds == 11.75);
  CHECK(r.error_category == "ValueError");
  CHECK(r.error_message == "bad pixel \xff in\nrow 3"s);
  CHECK(r.traceback == "Traceback (most recent call last):\n  File \"score.py\"\0\n"s);
  CHECK(r.node == 2);
  CHECK(r.process == "process003");
}

TEST_CASE("DecodeResult: every known status, and no other", "[worker_protocol]") {
  for (AttemptStatus s :
       {AttemptStatus::kRunDone, AttemptStatus::kRunException, AttemptStatus::kRunTimeout,
        AttemptStatus::kInvalidReturn, AttemptStatus::kProcessDied, AttemptStatus::kInterrupted,
        AttemptStatus::kLeaseLost}) {
    INFO(AttemptStatusName(s));
    AttemptResult r;
    REQUIRE(DecodeResult(ResultPayload(static_cast<uint8_t>(s)), &r));
    CHECK(r.status == s);
  }
  for (int status : {7, 8, 0x10, 0x7f, 0x80, 0xff}) {
    INFO("status byte " << status);
    AttemptResult r;
    CHECK_FALSE(DecodeResult(ResultPayload(static_cast<uint8_t>(status)), &r));
  }
}

TEST_CASE("DecodeResult: truncated or with trailing bytes is refused", "[worker_protocol]") {
  CheckRefusesTruncatedAndTrailing<AttemptResult>(ResultPayload(0), DecodeResult);
}

TEST_CASE("DecodeResult: an unknown total", "[worker_protocol]") {
  WireWriter w;
  w.U64(5);
  w.U32(1);
  w.U8(static_cast<uint8_t>(AttemptStatus::kRunException));
  w.U64(kTotalUnknown);
  w.U64(0);
  for (int i = 0; i < 4; i++) w.F64(0);
  w.Bytes("OSError");
  w.Bytes("OSError: data.csv: expected 100 bytes at offset 0, read 10");
  w.Bytes("");
  AttemptResult r;
  REQUIRE(DecodeResult(w.data(), &r));
  CHECK(r.total == kTotalUnknown);
  CHECK(r.error_category == "OSError");
}

std::string LoadedPayload() {
  WireWriter w;
  w.U64(0x0102030405060708ull);
  w.U32(2);
  w.U64(123456789012ull);
  return w.Take();
}

TEST_CASE("DecodeLoaded: every field", "[worker_protocol]") {
  WorkerLoaded l;
  REQUIRE(DecodeLoaded(LoadedPayload(), &l));
  CHECK(l.id == 0x0102030405060708ull);
  CHECK(l.attempt == 2);
  CHECK(l.rows == 123456789012ull);
}

TEST_CASE("DecodeLoaded: truncated or with trailing bytes is refused", "[worker_protocol]") {
  CheckRefusesTruncatedAndTrailing<WorkerLoaded>(LoadedPayload(), DecodeLoaded);
}

std::string HelloPayload() {
  WireWriter w;
  w.U32(kWorkerProtocolVersion);
  w.U32(4242);
  w.Bytes("3.11.2 (main, Mar 13 2023)\n[GCC 12.2.0]");
  w.Bytes("/opt/py env/bin/python3");
  return w.Take();
}

TEST_CASE("DecodeHello: every field", "[worker_protocol]") {
  WorkerHello h;
  REQUIRE(DecodeHello(HelloPayload(), &h));
  CHECK(h.version == kWorkerProtocolVersion);
  CHECK(h.pid == 4242);
  CHECK(h.python_version == "3.11.2 (main, Mar 13 2023)\n[GCC 12.2.0]");
  CHECK(h.python_executable == "/opt/py env/bin/python3");
}

TEST_CASE("DecodeHello: a version the agent does not speak still decodes",
          "[worker_protocol]") {
  // Refusing it is the agent's job (with an ERROR naming both versions).
  WireWriter w;
  w.U32(99);
  w.U32(1);
  w.Bytes("");
  w.Bytes("");
  WorkerHello h;
  REQUIRE(DecodeHello(w.data(), &h));
  CHECK(h.version == 99);
}

TEST_CASE("DecodeHello: truncated or with trailing bytes is refused", "[worker_protocol]") {
  CheckRefusesTruncatedAndTrailing<WorkerHello>(HelloPayload(), DecodeHello);
}

std::string InitDonePayload(bool ok) {
  WireWriter w;
  w.U8(ok ? 1 : 0);
  w.F64(ok ? 0.5 : 2.75);
  w.Bytes(ok ? "" : "ModuleNotFoundError");
  w.Bytes(ok ? "" : "No module named 'torch'");
  w.Bytes(ok ? "" : "Traceback (most recent call last):\n  File \"score.py\", line 1\n");
  return w.Take();
}

TEST_CASE("DecodeInitDone: success and failure", "[worker_protocol]") {
  WorkerInitDone ok;
  REQUIRE(DecodeInitDone(InitDonePayload(true), &ok));
  CHECK(ok.ok);
  CHECK(ok.seconds == 0.5);
  CHECK(ok.error_category == "");
  CHECK(ok.error_message == "");
  CHECK(ok.traceback == "");

  WorkerInitDone failed;
  REQUIRE(DecodeInitDone(InitDonePayload(false), &failed));
  CHECK_FALSE(failed.ok);
  CHECK(failed.seconds == 2.75);
  CHECK(failed.error_category == "ModuleNotFoundError");
  CHECK(failed.error_message == "No module named 'torch'");
  CHECK(failed.traceback == "Traceback (most recent call last):\n  File \"score.py\", line 1\n");
}

TEST_CASE("DecodeInitDone: truncated or with trailing bytes is refused", "[worker_protocol]") {
  CheckRefusesTruncatedAndTrailing<WorkerInitDone>(InitDonePayload(false), DecodeInitDone);
  CheckRefusesTruncatedAndTrailing<WorkerInitDone>(InitDonePayload(true), DecodeInitDone);
}

std::string ShutdownDonePayload(bool ok) {
  WireWriter w;
  w.U8(ok ? 1 : 0);
  w.Bytes(ok ? "" : "RuntimeError");
  w.Bytes(ok ? "" : "could not flush \xff");
  w.Bytes(ok ? "" : "Traceback\n");
  return w.Take();
}

TEST_CASE("DecodeShutdownDone: success and failure", "[worker_protocol]") {
  WorkerShutdownDone ok;
  REQUIRE(DecodeShutdownDone(ShutdownDonePayload(true), &ok));
  CHECK(ok.ok);
  CHECK(ok.error_category == "");

  WorkerShutdownDone failed;
  REQUIRE(DecodeShutdownDone(ShutdownDonePayload(false), &failed));
  CHECK_FALSE(failed.ok);
  CHECK(failed.error_category == "RuntimeError");
  CHECK(failed.error_message == "could not flush \xff");
  CHECK(failed.traceback == "Traceback\n");
}

TEST_CASE("DecodeShutdownDone: truncated or with trailing bytes is refused",
          "[worker_protocol]") {
  CheckRefusesTruncatedAndTrailing<WorkerShutdownDone>(ShutdownDonePayload(false),
                                                       DecodeShutdownDone);
}

TEST_CASE("Worker messages: payloads survive framing", "[worker_protocol]") {
  std::string stream;
  AppendFrame(kWorkerHello, HelloPayload(), &stream);
  AppendFrame(kWorkerInitDone, InitDonePayload(true), &stream);
  AppendFrame(kWorkerLoaded, LoadedPayload(), &stream);
  AppendFrame(kWorkerResult, ResultPayload(0), &stream);
  AppendFrame(kWorkerShutdownDone, ShutdownDonePayload(true), &stream);
  FrameDecoder d(kMaxWorkerFrame);
  std::vector<Frame> frames;
  for (char c : stream) {  // as a pipe may deliver it
    d.Feed(&c, 1);
    Frame f;
    std::string error;
    FrameDecoder::Outcome o;
    while ((o = d.Next(&f, &error)) == FrameDecoder::Outcome::kFrame) frames.push_back(f);
    REQUIRE(o == FrameDecoder::Outcome::kNeedMore);
  }
  REQUIRE(frames.size() == 5);
  WorkerHello hello;
  WorkerInitDone init;
  WorkerLoaded loaded;
  AttemptResult result;
  WorkerShutdownDone shutdown;
  CHECK(frames[0].type == kWorkerHello);
  CHECK(DecodeHello(frames[0].payload, &hello));
  CHECK(frames[1].type == kWorkerInitDone);
  CHECK(DecodeInitDone(frames[1].payload, &init));
  CHECK(frames[2].type == kWorkerLoaded);
  CHECK(DecodeLoaded(frames[2].payload, &loaded));
  CHECK(loaded.rows == 123456789012ull);
  CHECK(frames[3].type == kWorkerResult);
  CHECK(DecodeResult(frames[3].payload, &result));
  CHECK(result.status == AttemptStatus::kRunDone);
  CHECK(frames[4].type == kWorkerShutdownDone);
  CHECK(DecodeShutdownDone(frames[4].payload, &shutdown));
}

}  // namespace
}  // namespace parallelrun
