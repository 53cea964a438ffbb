// The agent ⇄ worker messages: what the agent sends is checked by decoding it
// by hand with WireFields, field by field as the header specifies; what the
// worker sends is built by hand with WireWriter and decoded. Every truncation
// and any trailing byte must be refused.
#include "node/worker_protocol.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/mini_batch_codec.h"

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

// Every proper prefix of a valid payload, and the payload plus a few bytes,
// must be refused by `decode` with a reason that starts with the message's
// name and says at which byte.
template <typename Message, typename Decode>
void CheckRefusesTruncatedAndTrailing(const std::string& payload, Decode decode,
                                      const std::string& name) {
  for (size_t n = 0; n < payload.size(); n++) {
    INFO("truncated to " << n << " of " << payload.size() << " bytes");
    Message m;
    std::string why;
    CHECK_FALSE(decode(payload.substr(0, n), &m, &why));
    CHECK(why.rfind(name + ": ", 0) == 0);
    CHECK(why.find(" at byte ") != std::string::npos);
  }
  for (const std::string& extra : {"\0"s, "x"s, "\xff\xff\xff\xff"s}) {
    INFO("trailing " << extra.size() << " bytes");
    Message m;
    std::string why;
    CHECK_FALSE(decode(payload + extra, &m, &why));
    CHECK(why == fmt::format("{}: {} bytes left over after the last field (at byte {})", name,
                             extra.size(), payload.size()));
  }
}

// Decodes `payload`, which must be refused; returns the reason.
template <typename Message, typename Decode>
std::string Refusal(Decode decode, const std::string& payload) {
  Message m;
  std::string why;
  CHECK_FALSE(decode(payload, &m, &why));
  return why;
}

// ---- agent → worker ----------------------------------------------------------

TEST_CASE("EncodeRun: an item holding a NUL sends every item as its own field",
          "[worker_protocol]") {
  MiniBatch batch;
  batch.id = 0x1122334455667788ull;
  batch.input = 3;
  batch.kind = MiniBatchKind::kTableRanges;
  batch.known_rows = 77;
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

  WireFields r(f.payload);
  CHECK(r.U64("mini_batch_id") == 0x1122334455667788ull);
  CHECK(r.U32("attempt") == 2);
  CHECK(r.U32("input_index") == 3);
  CHECK(r.U8("kind") == 1);  // kTableRanges
  CHECK(r.U32("partition keys") == 0);  // no partition
  CHECK(r.U64("known_rows") == 77);
  REQUIRE(r.U32("items") == batch.items.size());
  CHECK(r.U8("joined") == 0);
  for (const std::string& item : batch.items) {
    std::string got = r.Bytes("item");
    CHECK(got.size() == item.size());
    CHECK(got == item);
  }
  std::string why;
  CHECK(r.Done(&why));
}

TEST_CASE("EncodeRun: paths of any other bytes go as one block, NUL between each",
          "[worker_protocol]") {
  MiniBatch batch;
  batch.id = 5;
  batch.items = {
      "data/plain.png",
      "data/with space.png",
      "data/new\nline.png",
      "data/latin1-\xe9t\xe9.png",  // not UTF-8
      "data/cut-\xe2\x82",           // a UTF-8 sequence cut short
      "",
      "data/\xc3\xa4rger.txt",  // UTF-8
  };
  std::string out;
  EncodeRun(batch, 3, &out);
  Frame f = OnlyFrame(out);
  WireFields r(f.payload);
  CHECK(r.U64("mini_batch_id") == 5);
  CHECK(r.U32("attempt") == 3);
  CHECK(r.U32("input_index") == 0);
  CHECK(r.U8("kind") == 0);  // kFiles
  CHECK(r.U32("partition keys") == 0);
  CHECK(r.U64("known_rows") == 0);
  CHECK(r.U32("items") == 7);
  CHECK(r.U8("joined") == 1);
  CHECK(r.Bytes("joined items") ==
        "data/plain.png\0data/with space.png\0data/new\nline.png\0data/latin1-\xe9t\xe9.png\0"
        "data/cut-\xe2\x82\0\0data/\xc3\xa4rger.txt"s);
  std::string why;
  CHECK(r.Done(&why));

  // One empty path is a block of 0 bytes, as no path at all is; n tells them apart.
  batch.items = {""};
  out.clear();
  EncodeRun(batch, 1, &out);
  CHECK(out.substr(out.size() - 9) == "\x01\0\0\0"s "\x01"s "\0\0\0\0"s);
}

TEST_CASE("EncodeRun: a mini-batch without items", "[worker_protocol]") {
  MiniBatch batch;
  batch.id = 7;
  std::string out;
  EncodeRun(batch, 1, &out);
  CHECK(out == "\x27\0\0\0\x10"s                 // length 39, RUN
                   "\x07\0\0\0\0\0\0\0"s         // id
                   "\x01\0\0\0"s "\0\0\0\0"s     // attempt, input
                   "\0"s                          // kind: files
                   "\0\0\0\0"s                   // no partition
                   "\0\0\0\0\0\0\0\0"s           // known_rows
                   "\0\0\0\0"s                   // no items
                   "\x01"s                       // joined
                   "\0\0\0\0"s);                 // an empty block
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
  WireFields r(f.payload);
  CHECK(r.U64("mini_batch_id") == 9);
  CHECK(r.U32("attempt") == 4);
  CHECK(r.U32("input_index") == 1);
  CHECK(r.U8("kind") == 2);  // kFilePartition
  REQUIRE(r.U32("partition keys") == 3);
  for (const auto& [key, value] : batch.partition) {
    CHECK(r.Bytes("partition key") == key);
    CHECK(r.Bytes("partition value") == value);
  }
  CHECK(r.U64("known_rows") == 0);
  REQUIRE(r.U32("items") == 1);
  CHECK(r.U8("joined") == 1);
  CHECK(r.Bytes("joined items") == "/d/a.csv");
  std::string why;
  CHECK(r.Done(&why));
}

TEST_CASE("EncodeRun: the fields before the items are the mini-batch codec's",
          "[worker_protocol]") {
  MiniBatch batch;
  batch.id = 11;
  batch.kind = MiniBatchKind::kTablePartition;
  batch.partition = {{"k", "v"}};
  batch.known_rows = 1000;
  batch.items = {"d"};
  std::string out;
  EncodeRun(batch, 2, &out);
  Frame f = OnlyFrame(out);
  WireWriter head;
  EncodeMiniBatchHead(batch, 2, &head);
  CHECK(f.payload == head.data() + "\x01\0\0\0"s "\x01"s "\x01\0\0\0d"s);
}

TEST_CASE("EncodeStart: version then every field in the documented order",
          "[worker_protocol]") {
  WorkerStart s;
  s.entry_script = "/src/score.py";
  s.code_dir = "/src";
  s.output_dir = "/out\xff";
  s.logging_level = "DEBUG";
  s.argv = {"--model", "x y\n\0z"s, ""};
  s.append_row_dir = "/job/parts";
  s.tabular = true;
  s.partitioned = false;
  s.process_name = "process003";
  s.node_id = "1";
  s.stdout_log = "/logs/out.txt";
  s.error_log = "/logs/err.txt";
  s.entry_log = "/logs/entry.txt";
  s.log_dir = "/logs";
  s.nice = 7;
  s.profiling_module = "cProfile";
  s.profile_path = "/logs/process003.profile";
  s.cuda_visible_devices = "1";
  std::string out;
  EncodeStart(s, &out);
  Frame f = OnlyFrame(out);
  CHECK(f.type == kWorkerStart);
  WireFields r(f.payload);
  CHECK(r.U32("version") == kWorkerProtocolVersion);
  CHECK(r.Bytes("entry_script") == "/src/score.py");
  CHECK(r.Bytes("code_dir") == "/src");
  CHECK(r.Bytes("output_dir") == "/out\xff");
  CHECK(r.Bytes("logging_level") == "DEBUG");
  REQUIRE(r.U32("argv") == 3);
  for (const std::string& a : s.argv) CHECK(r.Bytes("arg") == a);
  CHECK(r.U8("has append_row_dir") == 1);
  CHECK(r.Bytes("append_row_dir") == "/job/parts");
  CHECK(r.U8("tabular") == 1);
  CHECK(r.U8("partitioned") == 0);
  CHECK(r.Bytes("process_name") == "process003");
  CHECK(r.Bytes("node_id") == "1");
  CHECK(r.Bytes("stdout_log") == "/logs/out.txt");
  CHECK(r.Bytes("error_log") == "/logs/err.txt");
  CHECK(r.Bytes("entry_log") == "/logs/entry.txt");
  CHECK(r.Bytes("log_dir") == "/logs");
  CHECK(r.U8("nice") == 7);
  CHECK(r.Bytes("profiling_module") == "cProfile");
  CHECK(r.Bytes("profile_path") == "/logs/process003.profile");
  CHECK(r.U8("gpu") == 1);
  CHECK(r.Bytes("cuda_visible_devices") == "1");
  std::string why;
  CHECK(r.Done(&why));
}

TEST_CASE("EncodeStart: without append_row its folder is not sent", "[worker_protocol]") {
  WorkerStart s;
  std::string out;
  EncodeStart(s, &out);
  // version, 4 empty texts, no argv, append_row 0, tabular 0, partitioned 0,
  // 6 empty texts, nice 0, 2 empty texts, gpu 0.
  CHECK(out == "\x3e\0\0\0\x03"s + "\x05\0\0\0"s + std::string(4 * 4 + 4, '\0') +
                   std::string(3, '\0') + std::string(6 * 4, '\0') + std::string(1 + 2 * 4 + 1, '\0'));
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
  std::string why;
  AttemptResult r;
  r.node = 2;
  r.process = "process003";
  REQUIRE(DecodeResult(ResultPayload(static_cast<uint8_t>(AttemptStatus::kRunException)), &r,
                       &why));
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
  std::string why;
  for (AttemptStatus s :
       {AttemptStatus::kRunDone, AttemptStatus::kRunException, AttemptStatus::kRunTimeout,
        AttemptStatus::kInvalidReturn, AttemptStatus::kProcessDied, AttemptStatus::kInterrupted,
        AttemptStatus::kLeaseLost}) {
    INFO(AttemptStatusName(s));
    AttemptResult r;
    REQUIRE(DecodeResult(ResultPayload(static_cast<uint8_t>(s)), &r, &why));
    CHECK(r.status == s);
  }
  for (int status : {7, 8, 0x10, 0x7f, 0x80, 0xff}) {
    INFO("status byte " << status);
    AttemptResult r;
    CHECK_FALSE(DecodeResult(ResultPayload(static_cast<uint8_t>(status)), &r, &why));
    CHECK(why == fmt::format("RESULT: status at byte 12: {} is not an attempt status", status));
  }
}

TEST_CASE("DecodeResult: truncated or with trailing bytes is refused", "[worker_protocol]") {
  CheckRefusesTruncatedAndTrailing<AttemptResult>(ResultPayload(0), DecodeResult, "RESULT");
}

TEST_CASE("DecodeResult: an unknown total", "[worker_protocol]") {
  std::string why;
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
  REQUIRE(DecodeResult(w.data(), &r, &why));
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
  std::string why;
  WorkerLoaded l;
  REQUIRE(DecodeLoaded(LoadedPayload(), &l, &why));
  CHECK(l.id == 0x0102030405060708ull);
  CHECK(l.attempt == 2);
  CHECK(l.rows == 123456789012ull);
}

TEST_CASE("DecodeLoaded: truncated or with trailing bytes is refused", "[worker_protocol]") {
  CheckRefusesTruncatedAndTrailing<WorkerLoaded>(LoadedPayload(), DecodeLoaded, "LOADED");
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
  std::string why;
  WorkerHello h;
  REQUIRE(DecodeHello(HelloPayload(), &h, &why));
  CHECK(h.version == kWorkerProtocolVersion);
  CHECK(h.pid == 4242);
  CHECK(h.python_version == "3.11.2 (main, Mar 13 2023)\n[GCC 12.2.0]");
  CHECK(h.python_executable == "/opt/py env/bin/python3");
}

TEST_CASE("DecodeHello: a version the agent does not speak still decodes",
          "[worker_protocol]") {
  std::string why;
  // Refusing it is the agent's job (with an ERROR naming both versions).
  WireWriter w;
  w.U32(99);
  w.U32(1);
  w.Bytes("");
  w.Bytes("");
  WorkerHello h;
  REQUIRE(DecodeHello(w.data(), &h, &why));
  CHECK(h.version == 99);
}

TEST_CASE("DecodeHello: truncated or with trailing bytes is refused", "[worker_protocol]") {
  CheckRefusesTruncatedAndTrailing<WorkerHello>(HelloPayload(), DecodeHello, "HELLO");
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
  std::string why;
  WorkerInitDone ok;
  REQUIRE(DecodeInitDone(InitDonePayload(true), &ok, &why));
  CHECK(ok.ok);
  CHECK(ok.seconds == 0.5);
  CHECK(ok.error_category == "");
  CHECK(ok.error_message == "");
  CHECK(ok.traceback == "");

  WorkerInitDone failed;
  REQUIRE(DecodeInitDone(InitDonePayload(false), &failed, &why));
  CHECK_FALSE(failed.ok);
  CHECK(failed.seconds == 2.75);
  CHECK(failed.error_category == "ModuleNotFoundError");
  CHECK(failed.error_message == "No module named 'torch'");
  CHECK(failed.traceback == "Traceback (most recent call last):\n  File \"score.py\", line 1\n");
}

TEST_CASE("DecodeInitDone: truncated or with trailing bytes is refused", "[worker_protocol]") {
  CheckRefusesTruncatedAndTrailing<WorkerInitDone>(InitDonePayload(false), DecodeInitDone,
                                                   "INIT_DONE");
  CheckRefusesTruncatedAndTrailing<WorkerInitDone>(InitDonePayload(true), DecodeInitDone,
                                                   "INIT_DONE");
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
  std::string why;
  WorkerShutdownDone ok;
  REQUIRE(DecodeShutdownDone(ShutdownDonePayload(true), &ok, &why));
  CHECK(ok.ok);
  CHECK(ok.error_category == "");

  WorkerShutdownDone failed;
  REQUIRE(DecodeShutdownDone(ShutdownDonePayload(false), &failed, &why));
  CHECK_FALSE(failed.ok);
  CHECK(failed.error_category == "RuntimeError");
  CHECK(failed.error_message == "could not flush \xff");
  CHECK(failed.traceback == "Traceback\n");
}

TEST_CASE("DecodeShutdownDone: truncated or with trailing bytes is refused",
          "[worker_protocol]") {
  CheckRefusesTruncatedAndTrailing<WorkerShutdownDone>(ShutdownDonePayload(false),
                                                       DecodeShutdownDone, "SHUTDOWN_DONE");
}

TEST_CASE("Worker decoders: each reason names the message, the field and the offset",
          "[worker_protocol]") {
  // HELLO: u32 version 0, u32 pid 4, python_version 8, python_executable …
  std::string hello = HelloPayload();
  CHECK(Refusal<WorkerHello>(DecodeHello, hello.substr(0, 6)) ==
        "HELLO: pid at byte 4: payload ends after 2 of its 4 bytes");
  CHECK(Refusal<WorkerHello>(DecodeHello, hello.substr(0, 10)) ==
        "HELLO: python_version at byte 8: payload ends after 2 of the 4 bytes of its length");
  CHECK(Refusal<WorkerHello>(DecodeHello, hello.substr(0, 20)) ==
        "HELLO: python_version at byte 8: length 39, but 8 bytes follow");
  CHECK(Refusal<WorkerHello>(DecodeHello, hello + "zz") ==
        fmt::format("HELLO: 2 bytes left over after the last field (at byte {})", hello.size()));

  // INIT_DONE: u8 ok 0, f64 seconds 1, texts from 9.
  std::string init = InitDonePayload(true);
  init[0] = 2;
  CHECK(Refusal<WorkerInitDone>(DecodeInitDone, init) == "INIT_DONE: ok at byte 0: 2 is not 0 or 1");
  CHECK(Refusal<WorkerInitDone>(DecodeInitDone, InitDonePayload(true).substr(0, 5)) ==
        "INIT_DONE: seconds at byte 1: payload ends after 4 of its 8 bytes");
  CHECK(Refusal<WorkerInitDone>(DecodeInitDone, InitDonePayload(true).substr(0, 19)) ==
        "INIT_DONE: traceback at byte 17: payload ends after 2 of the 4 bytes of its length");

  // RESULT: u64 id 0, u32 attempt 8, u8 status 12, u64 total 13, u64 returned 21,
  // 4 × f64 from 29, texts from 61.
  std::string result = ResultPayload(9);
  CHECK(Refusal<AttemptResult>(DecodeResult, result) ==
        "RESULT: status at byte 12: 9 is not an attempt status");
  CHECK(Refusal<AttemptResult>(DecodeResult, ResultPayload(0).substr(0, 30)) ==
        "RESULT: start_time at byte 29: payload ends after 1 of its 8 bytes");
  std::string long_traceback = ResultPayload(0);
  long_traceback.pop_back();
  size_t tb = "Traceback (most recent call last):\n  File \"score.py\"\0\n"s.size();
  CHECK(Refusal<AttemptResult>(DecodeResult, long_traceback) ==
        fmt::format("RESULT: traceback at byte {}: length {}, but {} bytes follow",
                    long_traceback.size() + 1 - tb - 4, tb, tb - 1));

  // LOADED: u64 id 0, u32 attempt 8, u64 rows 12.
  CHECK(Refusal<WorkerLoaded>(DecodeLoaded, LoadedPayload().substr(0, 15)) ==
        "LOADED: rows at byte 12: payload ends after 3 of its 8 bytes");
  CHECK(Refusal<WorkerLoaded>(DecodeLoaded, LoadedPayload() + "x") ==
        "LOADED: 1 bytes left over after the last field (at byte 20)");

  // SHUTDOWN_DONE: u8 ok 0, texts from 1.
  std::string shutdown = ShutdownDonePayload(false);
  shutdown[0] = 7;
  CHECK(Refusal<WorkerShutdownDone>(DecodeShutdownDone, shutdown) ==
        "SHUTDOWN_DONE: ok at byte 0: 7 is not 0 or 1");
  CHECK(Refusal<WorkerShutdownDone>(DecodeShutdownDone, "\x01\x05\0\0\0ab"s) ==
        "SHUTDOWN_DONE: error_category at byte 1: length 5, but 2 bytes follow");

  // ERROR: bytes message.
  CHECK(Refusal<std::string>(DecodeError, "") ==
        "ERROR: message at byte 0: payload ends after 0 of the 4 bytes of its length");
  std::string message, why;
  REQUIRE(DecodeError("\x02\0\0\0no"s, &message, &why));
  CHECK(message == "no");
}

TEST_CASE("Worker messages: payloads survive framing", "[worker_protocol]") {
  std::string why;
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
  CHECK(DecodeHello(frames[0].payload, &hello, &why));
  CHECK(frames[1].type == kWorkerInitDone);
  CHECK(DecodeInitDone(frames[1].payload, &init, &why));
  CHECK(frames[2].type == kWorkerLoaded);
  CHECK(DecodeLoaded(frames[2].payload, &loaded, &why));
  CHECK(loaded.rows == 123456789012ull);
  CHECK(frames[3].type == kWorkerResult);
  CHECK(DecodeResult(frames[3].payload, &result, &why));
  CHECK(result.status == AttemptStatus::kRunDone);
  CHECK(frames[4].type == kWorkerShutdownDone);
  CHECK(DecodeShutdownDone(frames[4].payload, &shutdown, &why));
}

}  // namespace
}  // namespace parallelrun
