#include "master/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/crc32c.h"
#include "base/mini_batch_codec.h"
#include "base/wire.h"

namespace parallelrun {

namespace {

enum RecordType : uint8_t {
  kRunStarted = 1,
  kBatch = 2,
  kAttempt = 3,
  kAccepted = 4,
  kInputListed = 5,
  kNodeReport = 6,
  kRunEnded = 7,
};

}  // namespace

std::string EncodeJournalRecord(const JournalRecord& record) {
  WireWriter w;
  EncodeJournalRecordTo(record, &w);
  return w.Take();
}

void EncodeJournalRecordTo(const JournalRecord& record, WireWriter* out) {
  WireWriter& w = *out;
  std::visit(
      [&w](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, JournalRunStarted>) {
          w.U8(kRunStarted);
          w.U32(m.run);
          w.F64(m.start_time);
          w.Bytes(m.host);
          w.U32(m.pid);
          w.Bytes(m.request);
          w.Bytes(m.fingerprints);
        } else if constexpr (std::is_same_v<T, MiniBatch> ||
                             std::is_same_v<T, AttemptResult>) {
          EncodeJournalRecordTo(m, &w);
        } else if constexpr (std::is_same_v<T, JournalAccepted>) {
          w.U8(kAccepted);
          w.U64(m.id);
          w.U32(m.attempt);
          w.U64(m.bytes);
        } else if constexpr (std::is_same_v<T, JournalInputListed>) {
          w.U8(kInputListed);
          w.U32(m.input);
          w.U64(m.batches);
        } else if constexpr (std::is_same_v<T, NodeReport>) {
          w.U8(kNodeReport);
          w.U32(m.node);
          w.Bytes(m.host);
          w.U32(static_cast<uint32_t>(m.processes.size()));
          for (const ProcessReport& p : m.processes) {
            w.Bytes(p.process);
            w.U32(p.pid);
            w.F64(p.start_time);
            w.F64(p.end_time);
            w.U8(p.init_ok ? 1 : 0);
            w.F64(p.init_seconds);
            w.Bytes(p.exit);
          }
        } else {
          static_assert(std::is_same_v<T, JournalRunEnded>);
          w.U8(kRunEnded);
          w.U8(m.status_code);
          w.Bytes(m.message);
        }
      },
      record);
}

void EncodeJournalRecordTo(const MiniBatch& batch, WireWriter* out) {
  out->U8(kBatch);
  EncodeMiniBatch(batch, 0, out);
}

void EncodeJournalRecordTo(const AttemptResult& result, WireWriter* out) {
  out->U8(kAttempt);
  EncodeAttemptResult(result, out);
}

bool DecodeJournalRecord(std::string_view body, JournalRecord* out, std::string* why) {
  if (body.empty()) {
    if (why) *why = "an empty record";
    return false;
  }
  uint8_t type = static_cast<uint8_t>(body[0]);
  if (type == kBatch) {
    // The one encoding of a mini-batch (base/mini_batch_codec.h).
    MiniBatch b;
    uint32_t attempt = 0;
    std::string reason;
    if (!DecodeMiniBatch(body.substr(1), &b, &attempt, &reason)) {
      if (why) *why = "mini-batch: " + reason;
      return false;
    }
    // A formed mini-batch has no attempt yet: one encoding per record.
    if (attempt != 0) {
      if (why) *why = "mini-batch: attempt at byte 8: " + std::to_string(attempt) + " is not 0";
      return false;
    }
    *out = std::move(b);
    return true;
  }
  WireFields f(body.substr(1));
  switch (type) {
    case kRunStarted: {
      JournalRunStarted m;
      m.run = f.U32("run");
      m.start_time = f.F64("start_time");
      m.host = f.Bytes("host");
      m.pid = f.U32("pid");
      m.request = f.Bytes("request");
      m.fingerprints = f.Bytes("fingerprints");
      *out = std::move(m);
      break;
    }
    case kAttempt: {
      AttemptResult r;
      ReadAttemptResult(&f, &r);
      *out = std::move(r);
      break;
    }
    case kAccepted: {
      JournalAccepted m;
      m.id = f.U64("id");
      m.attempt = f.U32("attempt");
      m.bytes = f.U64("bytes");
      *out = m;
      break;
    }
    case kInputListed: {
      JournalInputListed m;
      m.input = f.U32("input");
      m.batches = f.U64("batches");
      *out = m;
      break;
    }
    case kNodeReport: {
      NodeReport m;
      m.node = f.U32("node");
      m.host = f.Bytes("host");
      uint32_t n = f.Count("processes", 4 + 4 + 8 + 8 + 1 + 8 + 4);
      for (uint32_t i = 0; i < n && f.ok(); i++) {
        ProcessReport p;
        p.process = f.Bytes("process");
        p.pid = f.U32("pid");
        p.start_time = f.F64("start_time");
        p.end_time = f.F64("end_time");
        p.init_ok = f.Bool("init_ok");
        p.init_seconds = f.F64("init_seconds");
        p.exit = f.Bytes("exit");
        m.processes.push_back(std::move(p));
      }
      *out = std::move(m);
      break;
    }
    case kRunEnded: {
      JournalRunEnded m;
      m.status_code = f.U8("status code");
      m.message = f.Bytes("message");
      *out = std::move(m);
      break;
    }
    default:
      if (why) *why = fmt::format("unknown record type {}", type);
      return false;
  }
  return f.Done(why);
}

Result<JournalReadSummary> ReadJournal(const std::string& path,
                                       const std::function<Status(JournalRecord&&)>& visit) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::Infrastructure(ErrnoMessage(path, errno));
  JournalReadSummary summary;
  // Streams through a buffer: a journal can be larger than memory should hold.
  std::string buf;
  size_t pos = 0;
  bool eof = false;
  auto fill = [&](size_t need) -> Status {
    while (buf.size() - pos < need && !eof) {
      if (pos > (1u << 20)) {
        buf.erase(0, pos);
        pos = 0;
      }
      char chunk[1 << 16];
      ssize_t n = read(fd.get(), chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::Infrastructure(ErrnoMessage(path, errno));
      if (n == 0) eof = true;
      buf.append(chunk, static_cast<size_t>(n));
      summary.file_bytes += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  };
  Status s = fill(kJournalHeaderBytes);
  if (!s.ok()) return s;
  if (buf.size() < kJournalHeaderBytes ||
      std::memcmp(buf.data(), kJournalMagic, kJournalHeaderBytes) != 0) {
    // An empty file is a journal whose creation was cut short.
    if (buf.empty()) {
      summary.torn_tail = "the file is empty (its header was never written)";
      return summary;
    }
    return Status::Usage(path + ": not a parallelrun journal (its first bytes are not " +
                         std::string(kJournalMagic) + ")");
  }
  pos = kJournalHeaderBytes;
  summary.valid_bytes = kJournalHeaderBytes;
  for (;;) {
    s = fill(8);
    if (!s.ok()) return s;
    size_t left = buf.size() - pos;
    if (left == 0) break;
    if (left < 8) {
      summary.torn_tail = fmt::format("record at byte {}: {} bytes of its 8-byte head",
                                      summary.valid_bytes, left);
      break;
    }
    WireFields head(std::string_view(buf).substr(pos, 8));
    uint32_t length = head.U32("length");
    uint32_t crc = head.U32("checksum");
    if (length == 0 || length > kMaxJournalRecord) {
      summary.torn_tail = fmt::format("record at byte {}: length {} is not a record's",
                                      summary.valid_bytes, length);
      break;
    }
    s = fill(8 + static_cast<size_t>(length));
    if (!s.ok()) return s;
    if (buf.size() - pos < 8 + static_cast<size_t>(length)) {
      summary.torn_tail = fmt::format("record at byte {}: {} of its {} bytes",
                                      summary.valid_bytes, buf.size() - pos - 8, length);
      break;
    }
    std::string_view body(buf.data() + pos + 8, length);
    if (Crc32c(body) != crc) {
      summary.torn_tail = fmt::format("record at byte {}: checksum mismatch", summary.valid_bytes);
      break;
    }
    JournalRecord record;
    std::string why;
    if (!DecodeJournalRecord(body, &record, &why)) {
      // Whole and checksummed, yet not decodable: written by another version.
      return Status::Infrastructure(fmt::format("{}: record at byte {} does not decode: {}", path,
                                                summary.valid_bytes, why));
    }
    pos += 8 + length;
    summary.valid_bytes += 8 + length;
    summary.records++;
    s = visit(std::move(record));
    if (!s.ok()) return s;
  }
  return summary;
}

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& path,
                                               JournalReadSummary* existing) {
  JournalReadSummary summary;
  struct stat st;
  bool exists = stat(path.c_str(), &st) == 0;
  if (exists) {
    auto read = ReadJournal(path, [](JournalRecord&&) { return Status::Ok(); });
    if (!read.ok()) return read.status();
    summary = *read;
  }
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  if (!fd.valid()) return Status::Infrastructure(ErrnoMessage(path, errno));
  uint64_t end = summary.valid_bytes;
  if (!exists || summary.valid_bytes == 0) {
    if (ftruncate(fd.get(), 0) != 0 ||
        !WriteAll(fd.get(), kJournalMagic, kJournalHeaderBytes)) {
      return Status::Infrastructure(ErrnoMessage(path, errno));
    }
    end = kJournalHeaderBytes;
  } else if (summary.valid_bytes < summary.file_bytes &&
             ftruncate(fd.get(), static_cast<off_t>(summary.valid_bytes)) != 0) {
    return Status::Infrastructure(ErrnoMessage(path, errno));
  }
  if (lseek(fd.get(), static_cast<off_t>(end), SEEK_SET) < 0) {
    return Status::Infrastructure(ErrnoMessage(path, errno));
  }
  if (existing) *existing = summary;
  return std::unique_ptr<Journal>(new Journal(path, std::move(fd), end));
}

namespace {

// Encodes `record` in place behind a head whose length and checksum follow.
template <typename R>
void AppendRecord(const R& record, WireWriter* buffer) {
  size_t head = buffer->size();
  buffer->U32(0);
  buffer->U32(0);
  EncodeJournalRecordTo(record, buffer);
  size_t body = head + 8;
  uint32_t length = static_cast<uint32_t>(buffer->size() - body);
  buffer->PatchU32(head, length);
  buffer->PatchU32(head + 4, Crc32c(std::string_view(buffer->data()).substr(body, length)));
}

}  // namespace

void Journal::Append(const JournalRecord& record) { AppendRecord(record, &buffer_); }
void Journal::Append(const MiniBatch& batch) { AppendRecord(batch, &buffer_); }
void Journal::Append(const AttemptResult& result) { AppendRecord(result, &buffer_); }

Status Journal::Commit() {
  if (!error_.ok()) return error_;
  if (buffer_.size() == 0) return Status::Ok();
  if (!WriteAll(fd_.get(), buffer_.data().data(), buffer_.size())) {
    error_ = Status::Infrastructure(fmt::format("cannot write the job's journal {}: {}", path_,
                                                ErrnoText(errno)));
    return error_;
  }
  uint64_t offset = size_;
  size_ += buffer_.size();
  if (!committed_) {
    buffer_.Clear();
    return Status::Ok();
  }
  // The buffer is emptied before the hook runs: a hook that appends and
  // commits again (the master choosing another standby) writes only its own
  // records, never these a second time.
  std::string written = buffer_.Take();
  buffer_.Clear();
  committed_(offset, written);
  return Status::Ok();
}

Status Journal::Sync() {
  Status s = Commit();
  if (!s.ok()) return s;
  if (fdatasync(fd_.get()) != 0) {
    error_ = Status::Infrastructure(fmt::format("cannot write the job's journal {}: {}", path_,
                                                ErrnoText(errno)));
  }
  return error_;
}

}  // namespace parallelrun
