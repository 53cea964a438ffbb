#include "report/progress.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "base/text.h"

namespace parallelrun {

namespace {
constexpr double kPlainEverySeconds = 5;
constexpr int kBarWidth = 24;
}  // namespace

bool Progress::ParseMode(const std::string& name, bool is_tty, Mode* mode) {
  if (name == "auto") *mode = is_tty ? Mode::kBar : Mode::kPlain;
  else if (name == "bar") *mode = Mode::kBar;
  else if (name == "plain") *mode = Mode::kPlain;
  else if (name == "none") *mode = Mode::kNone;
  else return false;
  return true;
}

std::string Progress::Duration(double seconds) {
  long s = static_cast<long>(std::max(0.0, std::round(seconds)));
  return fmt::format("{}:{:02d}:{:02d}", s / 3600, static_cast<int>((s / 60) % 60),
                     static_cast<int>(s % 60));
}

std::string Progress::Describe(const Snapshot& s) {
  std::string total = s.total_final ? fmt::format("{}", s.batches_known)
                                    : fmt::format("{}+ (listing)", s.batches_known);
  double rate = s.elapsed_seconds > 0 ? s.items_processed / s.elapsed_seconds : 0;
  std::string text = fmt::format("{}/{} mini-batches, {} items, {:.0f} items/s", s.batches_processed,
                                 total, s.items_processed, rate);
  if (s.batches_failed > 0 || s.items_failed > 0) {
    text += fmt::format(", {} failed mini-batches, {} failed items", s.batches_failed, s.items_failed);
  }
  if (s.total_final && s.batches_processed > 0 && s.batches_processed < s.batches_known) {
    double per = s.elapsed_seconds / static_cast<double>(s.batches_processed);
    text += ", ETA " + Duration(per * static_cast<double>(s.batches_known - s.batches_processed));
  }
  return text;
}

void Progress::Update(const Snapshot& s) {
  if (mode_ == Mode::kNone) return;
  if (mode_ == Mode::kPlain) {
    if (last_plain_ >= 0 && s.elapsed_seconds - last_plain_ < kPlainEverySeconds) return;
    last_plain_ = s.elapsed_seconds;
    PutText(out_, fmt::format("parallelrun: {} {}\n", Duration(s.elapsed_seconds), Describe(s)));
    return;
  }
  double frac = s.batches_known > 0 ? static_cast<double>(s.batches_processed) /
                                          static_cast<double>(s.batches_known)
                                    : 0;
  int filled = static_cast<int>(frac * kBarWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kBarWidth - filled), '.');
  PutText(out_, fmt::format("\r\x1b[K[{}] {} {}", bar, Duration(s.elapsed_seconds), Describe(s)));
  bar_drawn_ = true;
}

void Progress::Clear() {
  if (bar_drawn_) {
    PutText(out_, "\r\x1b[K");
    bar_drawn_ = false;
  }
}

void Progress::Say(const std::string& line) {
  Clear();
  PutText(out_, fmt::format("parallelrun: {}\n", line));
}

}  // namespace parallelrun
