#include "base/wire.h"

#include <fmt/format.h>

namespace parallelrun {

void AppendFrame(uint8_t type, std::string_view payload, std::string* out) {
  uint32_t len = static_cast<uint32_t>(payload.size() + 1);
  char header[5];
  for (int i = 0; i < 4; i++) header[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  header[4] = static_cast<char>(type);
  out->append(header, sizeof header);
  out->append(payload.data(), payload.size());
}

bool WireFields::Bool(const char* field) {
  size_t at = pos_;
  uint8_t v = Fixed<uint8_t>(field);
  if (ok() && v > 1) Fail(field, at, fmt::format("{} is not 0 or 1", v));
  return v == 1;
}

uint8_t WireFields::Enum(const char* field, uint8_t max, std::string_view what) {
  size_t at = pos_;
  uint8_t v = Fixed<uint8_t>(field);
  if (ok() && v > max) Fail(field, at, fmt::format("{} is not {}", v, what));
  return v;
}

uint32_t WireFields::Count(const char* field, size_t min_bytes) {
  size_t at = pos_;
  uint32_t n = Fixed<uint32_t>(field);
  if (!ok()) return 0;
  size_t left = data_.size() - pos_;
  if (static_cast<uint64_t>(n) * min_bytes > left) {
    Fail(field, at, fmt::format("{} cannot fit in the {} bytes that follow", n, left));
    return 0;
  }
  return n;
}

void WireFields::Fail(const char* field, size_t at, std::string_view why) {
  if (ok()) why_ = fmt::format("{} at byte {}: {}", field, at, why);
}

void WireFields::FailFixed(const char* field, size_t size) {
  Fail(field, pos_,
       fmt::format("payload ends after {} of its {} bytes", data_.size() - pos_, size));
}

void WireFields::FailBytes(const char* field, size_t at, int64_t n) {
  size_t left = data_.size() - pos_;
  if (n < 0) {
    Fail(field, at, fmt::format("payload ends after {} of the 4 bytes of its length", left));
  } else {
    Fail(field, at, fmt::format("length {}, but {} bytes follow", n, left));
  }
}

bool WireFields::Done(std::string* why) {
  if (ok() && pos_ != data_.size()) {
    why_ = fmt::format("{} bytes left over after the last field (at byte {})",
                       data_.size() - pos_, pos_);
  }
  if (ok()) return true;
  *why = why_;
  return false;
}

bool WireFields::Done(std::string_view message, std::string* why) {
  if (Done(why)) return true;
  *why = fmt::format("{}: {}", message, *why);
  return false;
}

FrameDecoder::Outcome FrameDecoder::Next(Frame* frame, std::string* error) {
  if (broken_) {
    *error = broken_reason_;
    return Outcome::kMalformed;
  }
  size_t avail = buf_.size() - pos_;
  if (avail < 4) {
    // Compact lazily: only when the consumed prefix dominates the buffer.
    if (pos_ > 0 && pos_ >= buf_.size() / 2) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    return Outcome::kNeedMore;
  }
  uint32_t len = 0;
  for (int i = 0; i < 4; i++) len |= static_cast<uint32_t>(static_cast<uint8_t>(buf_[pos_ + i])) << (8 * i);
  if (len == 0 || len > max_frame_) {
    broken_ = true;
    broken_reason_ = len == 0 ? "frame of length 0 (no type byte)"
                              : fmt::format("frame of {} bytes exceeds the maximum of {}", len,
                                            max_frame_);
    *error = broken_reason_;
    return Outcome::kMalformed;
  }
  if (avail - 4 < len) {
    if (pos_ > 0 && pos_ >= buf_.size() / 2) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    return Outcome::kNeedMore;
  }
  frame->type = static_cast<uint8_t>(buf_[pos_ + 4]);
  frame->payload.assign(buf_, pos_ + 5, len - 1);
  pos_ += 4 + len;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return Outcome::kFrame;
}

}  // namespace parallelrun
