// Writes the seed corpus of frame_fuzz into the folder given as argv[1]: one
// file per frame kind of both protocols, a multi-frame stream, and a few
// broken inputs. The seeds in fuzz/corpus/ were made with it:
//   g++ -std=c++17 -Ilib -Iinclude fuzz/make_seeds.cc lib/base/wire.cc \
//       lib/base/mini_batch_codec.cc lib/link/link_codec.cc lib/base/hmac.cc \
//       lib/node/worker_protocol.cc -lfmt -lcrypto -o /tmp/make_seeds && /tmp/make_seeds fuzz/corpus
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "base/wire.h"
#include "link/link_codec.h"
#include "node/worker_protocol.h"

using namespace parallelrun;

namespace {

void Write(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
}

std::string Frame1(const LinkFrame& f) {
  std::string out;
  EncodeLinkFrame(f, &out);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  const std::string odd = std::string("caf\xe9 \xff\0\n", 8);

  AttemptResult r;
  r.id = 17;
  r.attempt = 2;
  r.status = AttemptStatus::kRunException;
  r.total = 3;
  r.start_time = 1.5;
  r.process = "process001";
  r.error_category = "ValueError";
  r.error_message = odd;
  r.traceback = "Traceback (most recent call last):\n";
  MiniBatch batch;
  batch.id = 5;
  batch.input = 1;
  batch.items = {"a.png", odd, ""};
  MiniBatch partition;
  partition.id = 6;
  partition.kind = MiniBatchKind::kTablePartition;
  partition.partition = {{"country", odd}, {"year", "2024"}};
  partition.known_rows = 1000;
  partition.items = {std::string("\x01\0range", 7)};
  ByeMsg bye;
  bye.report.node = 2;
  bye.report.host = "n2";
  bye.report.processes.push_back(ProcessReport{"process000", 99, 1, 2, true, 0.25, "exit code 0"});

  std::vector<std::pair<std::string, LinkFrame>> frames = {
      {"link_master_hello", MasterHelloFrame{kLinkProtocolVersion, 0, std::string(32, 'n')}},
      {"link_agent_hello",
       AgentHelloFrame{kLinkProtocolVersion, 0, 1, 4, "n1", std::string(32, 'a'), std::string(32, 'p')}},
      {"link_welcome", WelcomeFrame{0, 2000, 30000, std::string(32, 'w')}},
      {"link_heartbeat", HeartbeatFrame{}},
      {"link_goodbye", GoodbyeFrame{}},
      {"link_error", ErrorFrame{"authentication failed"}},
      {"link_hello", LinkMessage(HelloMsg{1, 4, "n1"})},
      {"link_pull", LinkMessage(PullMsg{3})},
      {"link_lease", LinkMessage(LeaseMsg{batch, 1})},
      {"link_result", LinkMessage(ResultMsg{r})},
      {"link_give_back", LinkMessage(GiveBackMsg{5, 1})},
      {"link_drain", LinkMessage(DrainMsg{})},
      {"link_stop", LinkMessage(StopMsg{true, "error_threshold exceeded"})},
      {"link_node_failed", LinkMessage(NodeFailedMsg{"init() failed"})},
      {"link_bye", LinkMessage(bye)},
      {"link_workers", LinkMessage(WorkersMsg{0, 1, 2, 1, 0})},
      {"link_init_failed", LinkMessage(InitFailedMsg{"process001", "process001: init() raised "
                                                                   "ValueError: no model"})},
      {"link_standby_offer", LinkMessage(StandbyOfferMsg{"10.0.0.2", 29500})},
      {"link_standby", LinkMessage(StandbyMsg{true, 1, "10.0.0.2", 29500})},
      {"link_journal_copy", LinkMessage(JournalCopyMsg{0, "PRJNL001" + odd})},
      {"link_part_copy", LinkMessage(PartCopyMsg{5, 1, odd, true})},
  };
  std::string stream;
  for (const auto& [name, f] : frames) {
    Write(dir, name, Frame1(f));
    stream += Frame1(f);
  }
  Write(dir, "link_stream", stream);

  // agent → worker frames, as the agent encodes them.
  WorkerStart config;
  config.entry_script = "score.py";
  config.logging_level = "INFO";
  config.argv = {"--x", odd};
  config.append_row_dir = "/job/parts";
  config.tabular = true;
  config.process_name = "process000";
  config.stdout_log = "/logs/process000.stdout.txt";
  std::string start;
  EncodeStart(config, &start);
  Write(dir, "worker_start", start);
  std::string run;
  EncodeRun(batch, 1, &run);
  Write(dir, "worker_run", run);
  run.clear();
  EncodeRun(partition, 2, &run);
  Write(dir, "worker_run_partition", run);
  // worker → agent frames, laid out as worker_protocol.h says.
  WireWriter hello;
  hello.U32(kWorkerProtocolVersion);
  hello.U32(1234);
  hello.Bytes("3.11.2");
  hello.Bytes("/usr/bin/python3");
  std::string out;
  AppendFrame(kWorkerHello, hello.data(), &out);
  Write(dir, "worker_hello", out);
  WireWriter init;
  init.U8(1);
  init.F64(0.5);
  init.Bytes("");
  init.Bytes("");
  init.Bytes("");
  out.clear();
  AppendFrame(kWorkerInitDone, init.data(), &out);
  Write(dir, "worker_init_done", out);
  WireWriter result;
  result.U64(17);
  result.U32(1);
  result.U8(0);
  result.U64(3);
  result.U64(3);
  for (int i = 0; i < 4; i++) result.F64(0.125 * i);
  result.Bytes("");
  result.Bytes("");
  result.Bytes("");
  out.clear();
  AppendFrame(kWorkerResult, result.data(), &out);
  Write(dir, "worker_result", out);
  WireWriter loaded;
  loaded.U64(17);
  loaded.U32(1);
  loaded.U64(250);
  out.clear();
  AppendFrame(kWorkerLoaded, loaded.data(), &out);
  Write(dir, "worker_loaded", out);

  // Broken inputs.
  Write(dir, "broken_truncated", Frame1(LinkMessage(LeaseMsg{batch, 1})).substr(0, 20));
  Write(dir, "broken_oversized", std::string("\xff\xff\xff\xff\x12", 5));
  Write(dir, "broken_http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  Write(dir, "broken_count", std::string("\x15\0\0\0\x12", 5) + std::string(16, '\0') +
                                 std::string("\xff\xff\xff\xff", 4));
  return 0;
}
