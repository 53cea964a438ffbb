// libFuzzer target for every decoder that reads bytes from another process:
// wire.h's FrameDecoder, link_codec.h's LinkDecoder and DecodeLinkFrame
// (master ⇄ agent, from the network), mini_batch_codec.h's DecodeMiniBatch
// and worker_protocol.h's decoders (agent ⇐ worker pipes), and journal.h's
// record decoder (a job dir's journal, read back after a crash). None may
// crash, hang, read out of bounds or allocate without bound on any input.
// Build and run with fuzz/run.sh.
//
// Besides "no crash", it checks two properties: a link message, a mini-batch
// or a journal record that decodes encodes back to exactly the bytes it came from
// (decoding is strict, so there is one encoding per message), and every
// refusal says why. A mismatch aborts, which libFuzzer
// reports like a crash.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <variant>

#include "base/mini_batch_codec.h"
#include "base/wire.h"
#include "link/link_codec.h"
#include "master/journal.h"
#include "node/worker_protocol.h"

namespace parallelrun {
namespace {

// Feeds `data` in chunks whose sizes come from the input itself, so that
// every way a stream can be split is explored.
template <typename Decoder, typename OnItem>
void FeedInChunks(Decoder* d, const uint8_t* data, size_t size, OnItem on_item) {
  size_t pos = 0;
  size_t chunk = size > 0 ? (data[0] % 17) + 1 : 1;
  while (pos < size) {
    size_t n = std::min(chunk, size - pos);
    d->Feed(reinterpret_cast<const char*>(data) + pos, n);
    pos += n;
    if (!on_item(d)) return;
    chunk = (chunk * 7 + 3) % 4099 + 1;
  }
}

void CheckReencodes(const Frame& frame, const LinkFrame& decoded) {
  auto* message = std::get_if<LinkMessage>(&decoded);
  if (!message) return;
  std::string original;
  AppendFrame(frame.type, frame.payload, &original);
  std::string again;
  EncodeLinkMessage(*message, &again);
  if (again != original) {
    std::fprintf(stderr, "re-encoding %s gave different bytes (%zu vs %zu)\n",
                 LinkFrameName(frame.type).c_str(), again.size(), original.size());
    std::abort();
  }
}

// A journal record that decodes encodes back to the same bytes; a refusal
// says why.
void CheckJournalRecord(std::string_view body) {
  JournalRecord record;
  std::string why;
  if (DecodeJournalRecord(body, &record, &why)) {
    if (EncodeJournalRecord(record) != body) {
      std::fprintf(stderr, "re-encoding a journal record gave different bytes\n");
      std::abort();
    }
  } else if (why.empty()) {
    std::abort();
  }
}

void FuzzOne(const uint8_t* data, size_t size) {
  // 1. The link decoder, with the handshake limit and with the full limit.
  for (uint32_t limit : {kMaxGreetingFrame, kMaxLinkFrame}) {
    LinkDecoder d(limit);
    FeedInChunks(&d, data, size, [](LinkDecoder* dec) {
      for (;;) {
        LinkFrame f;
        std::string why;
        switch (dec->Next(&f, &why)) {
          case LinkDecoder::Outcome::kFrame:
            continue;
          case LinkDecoder::Outcome::kNeedMore:
            return true;
          case LinkDecoder::Outcome::kMalformed:
            if (why.empty()) std::abort();  // a refusal always says why
            return false;
        }
      }
    });
  }

  // 2. Raw frames: every payload through DecodeLinkFrame (with the
  // round-trip check) and through each worker-protocol decoder.
  FrameDecoder frames(kMaxWorkerFrame);
  FeedInChunks(&frames, data, size, [](FrameDecoder* dec) {
    for (;;) {
      Frame frame;
      std::string error;
      FrameDecoder::Outcome o = dec->Next(&frame, &error);
      if (o == FrameDecoder::Outcome::kNeedMore) return true;
      if (o == FrameDecoder::Outcome::kMalformed) return false;
      LinkFrame decoded;
      std::string why;
      if (DecodeLinkFrame(frame, &decoded, &why)) {
        CheckReencodes(frame, decoded);
      } else if (why.empty()) {
        std::abort();
      }
      MiniBatch batch;
      uint32_t attempt = 0;
      if (DecodeMiniBatch(frame.payload, &batch, &attempt, &why)) {
        WireWriter again;
        EncodeMiniBatch(batch, attempt, &again);
        if (again.data() != frame.payload) {
          std::fprintf(stderr, "re-encoding a mini-batch gave different bytes\n");
          std::abort();
        }
      } else if (why.empty()) {
        std::abort();
      }
      // A refusal always says why.
      auto said_why = [&why](bool ok) {
        if (!ok && why.empty()) std::abort();
        why.clear();
      };
      WorkerHello hello;
      said_why(DecodeHello(frame.payload, &hello, &why));
      WorkerInitDone init;
      said_why(DecodeInitDone(frame.payload, &init, &why));
      AttemptResult result;
      said_why(DecodeResult(frame.payload, &result, &why));
      WorkerLoaded loaded;
      said_why(DecodeLoaded(frame.payload, &loaded, &why));
      WorkerShutdownDone shutdown;
      said_why(DecodeShutdownDone(frame.payload, &shutdown, &why));
      std::string message;
      said_why(DecodeError(frame.payload, &message, &why));
      CheckJournalRecord(frame.payload);
    }
  });
  // 3. The bytes as one journal record's body (read back from a job dir's
  // journal after a crash: master/journal.h).
  CheckJournalRecord(std::string_view(reinterpret_cast<const char*>(data), size));
}

}  // namespace
}  // namespace parallelrun

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  parallelrun::FuzzOne(data, size);
  return 0;
}
