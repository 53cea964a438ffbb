// The one encoding of a mini-batch sent to be run: the payload of the
// link's LEASE (master → agent, link/link_codec.h) and the journal's
// mini-batch record. The worker protocol's RUN (agent → worker,
// node/worker_protocol.h) begins with the same fields up to known_rows and
// lays its items out its own way, for lib/node/worker_driver.py (keep it in
// step).
//
// Fields in order (encodings as in wire.h; nothing before or after):
//   u64 mini_batch_id
//   u32 attempt                 1 for the first try
//   u32 input_index             into the job's input_data list
//   u8  kind                    MiniBatchKind 0–3
//   u32 k, k × (bytes key, bytes value)
//                               the partition's key values, in partition_keys
//                               order (k = 0 outside partitions)
//   u64 known_rows              rows known before reading, 0 when unknown
//   u32 n, n × bytes item       paths (bytes exactly as on disk), or table
//                               range descriptors (data/table_source.h)
//
// Decoding is strict: a kind out of range, a count the remaining bytes cannot
// hold, a payload that ends inside a field or has bytes left over is refused
// with a reason that names the field and its offset ("kind at byte 16: 4 is
// not a mini-batch kind").
#ifndef PARALLELRUN_BASE_MINI_BATCH_CODEC_H_
#define PARALLELRUN_BASE_MINI_BATCH_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "base/mini_batch.h"
#include "base/wire.h"

namespace parallelrun {

// Appends `batch`, to be run as try `attempt`, to `w`.
void EncodeMiniBatch(const MiniBatch& batch, uint32_t attempt, WireWriter* w);

// The fields before the items (mini_batch_id … known_rows), which the worker
// protocol's RUN shares and follows with items of its own layout.
void EncodeMiniBatchHead(const MiniBatch& batch, uint32_t attempt, WireWriter* w);

// Reads a whole payload into *batch and *attempt. False, with *why saying
// what is wrong, when it is malformed.
bool DecodeMiniBatch(std::string_view payload, MiniBatch* batch, uint32_t* attempt,
                     std::string* why);

// The one encoding of an attempt's result: the link's RESULT (agent →
// master) and the journal's attempt record (master/journal.h). Fields:
//   u64 mini_batch_id, u32 attempt, u8 status (AttemptStatus 0–6),
//   u64 total, u64 succeeded, u64 returned,
//   f64 start_time, f64 elapsed_seconds, f64 process_seconds, f64 run_seconds,
//   u32 node, bytes process, bytes error_category, bytes error_message,
//   bytes traceback
void EncodeAttemptResult(const AttemptResult& r, WireWriter* w);
// Reads those fields from `f` (the caller checks f->Done for what follows).
void ReadAttemptResult(WireFields* f, AttemptResult* r);

}  // namespace parallelrun

#endif  // PARALLELRUN_BASE_MINI_BATCH_CODEC_H_
