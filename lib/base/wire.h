// Wire: the framing and field encoding shared by parallelrun's protocols
// (agent ⇄ worker pipes, master ⇄ agent links).
//
// Frame: | u32 length (little-endian) | u8 type | payload (length − 1 bytes) |
// `length` counts the type byte and the payload, so it is ≥ 1; a frame whose
// length exceeds the protocol's maximum is malformed (never buffered).
//
// Fields inside a payload, all little-endian, no padding:
//   u8, u32, u64, i64   fixed width
//   f64                 IEEE-754 binary64
//   bytes               u32 length + that many raw bytes (any bytes: file
//                       names that are not UTF-8 survive unchanged)
// Decoding is pure: bytes in, a frame or "need more" or "malformed: why" out,
// so that it can be fuzzed. A payload's fields are read with WireFields, whose
// reasons name the field and its offset.
#ifndef PARALLELRUN_BASE_WIRE_H_
#define PARALLELRUN_BASE_WIRE_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace parallelrun {

struct Frame {
  uint8_t type = 0;
  std::string payload;
};

// Appends fields to a payload, or whole frames to an output buffer.
class WireWriter {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) { Fixed(v); }
  void U64(uint64_t v) { Fixed(v); }
  void I64(int64_t v) { Fixed(static_cast<uint64_t>(v)); }
  void F64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    Fixed(bits);
  }
  void Bytes(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s.data(), s.size());
  }
  // Bytes as they are, no length before them.
  void Raw(std::string_view s) { out_.append(s.data(), s.size()); }
  void Reserve(size_t n) { out_.reserve(n); }
  const std::string& data() const { return out_; }
  std::string Take() { return std::move(out_); }
  size_t size() const { return out_.size(); }
  void Clear() { out_.clear(); }
  // Overwrites the u32 at byte `at`: a length or checksum known only once
  // what follows it is written. REQUIRES: at + 4 <= size().
  void PatchU32(size_t at, uint32_t v) {
    for (size_t i = 0; i < 4; i++) out_[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  }

 private:
  template <typename T>
  void Fixed(T v) {
    char bytes[sizeof(T)];
    for (size_t i = 0; i < sizeof(T); i++) bytes[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    out_.append(bytes, sizeof bytes);
  }
  std::string out_;
};

// Appends one frame (header + payload) to `out`.
void AppendFrame(uint8_t type, std::string_view payload, std::string* out);

// Reads the named fields of one payload in order and keeps the first reason
// it is malformed, naming the field and the offset where it starts:
//   "attempt at byte 8: payload ends after 2 of its 4 bytes"
//   "items at byte 30: 4294967295 cannot fit in the 0 bytes that follow"
//   "kind at byte 16: 4 is not a mini-batch kind"          (Fail, by the caller)
//   "3 bytes left over after the last field (at byte 40)"  (Done)
// After the first failure every read returns a zero value; check Done() once
// at the end. The field names are string literals (not copied).
class WireFields {
 public:
  explicit WireFields(std::string_view payload) : data_(payload) {}

  uint8_t U8(const char* field) { return Fixed<uint8_t>(field); }
  uint32_t U32(const char* field) { return Fixed<uint32_t>(field); }
  uint64_t U64(const char* field) { return Fixed<uint64_t>(field); }
  int64_t I64(const char* field) { return static_cast<int64_t>(Fixed<uint64_t>(field)); }
  double F64(const char* field) {
    uint64_t bits = Fixed<uint64_t>(field);
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  std::string Bytes(const char* field) {
    if (!ok()) return {};
    size_t at = pos_;
    if (data_.size() - pos_ < 4) {
      FailBytes(field, at, -1);
      return {};
    }
    uint32_t n = Fixed<uint32_t>(field);
    if (data_.size() - pos_ < n) {
      FailBytes(field, at, n);
      return {};
    }
    std::string s(data_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  // A u8 that must be 0 or 1.
  bool Bool(const char* field);
  // A u8 that must be at most `max`, the last value of an enum; else the
  // reason reads "<value> is not <what>" ("9 is not an attempt status").
  uint8_t Enum(const char* field, uint8_t max, std::string_view what);
  // A u32 count of elements that are each at least `min_bytes` long: a count
  // the rest of the payload cannot hold fails here, before any loop or
  // reserve() trusts it.
  uint32_t Count(const char* field, size_t min_bytes);

  // Records that `field`, which starts at byte `at`, is wrong: `why`.
  void Fail(const char* field, size_t at, std::string_view why);

  // Where the next field starts.
  size_t offset() const { return pos_; }
  bool ok() const { return why_.empty(); }
  // True when nothing failed and every byte was read; else *why says what is
  // wrong (the first failure, or the bytes left over).
  bool Done(std::string* why);
  // Done, with "<message>: " in front of the reason ("RESULT: status at …").
  bool Done(std::string_view message, std::string* why);

 private:
  template <typename T>
  T Fixed(const char* field) {
    if (!ok()) return 0;
    if (data_.size() - pos_ < sizeof(T)) {
      FailFixed(field, sizeof(T));
      return 0;
    }
    T v = 0;
    for (size_t i = 0; i < sizeof(T); i++)
      v |= static_cast<T>(static_cast<uint8_t>(data_[pos_ + i])) << (8 * i);
    pos_ += sizeof(T);
    return v;
  }
  void FailFixed(const char* field, size_t size);
  // n < 0: the length itself is cut.
  void FailBytes(const char* field, size_t at, int64_t n);

  std::string_view data_;
  size_t pos_ = 0;
  std::string why_;
};

// Splits a byte stream into frames. Feed it what arrives; Next() yields
// complete frames in order.
class FrameDecoder {
 public:
  enum class Outcome { kFrame, kNeedMore, kMalformed };

  explicit FrameDecoder(uint32_t max_frame) : max_frame_(max_frame) {}

  void Feed(const char* data, size_t n) { buf_.append(data, n); }

  // kFrame: *frame holds the next frame. kNeedMore: wait for more bytes.
  // kMalformed: *error says why; the stream cannot be resynchronised.
  Outcome Next(Frame* frame, std::string* error);

  // Bytes received but not yet part of a returned frame.
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  uint32_t max_frame_;
  std::string buf_;
  size_t pos_ = 0;
  bool broken_ = false;
  std::string broken_reason_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_BASE_WIRE_H_
