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
