#include "report/progress.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cmath>
#include <vector>

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

namespace {

std::string Total(uint64_t known, bool final) {
  return final ? fmt::format("{}", known) : fmt::format("{}+", known);
}

// The parts of the line, most important first.
struct Parts {
  std::string batches, items, failed, rate, eta, workers;
};

Parts MakeParts(const Progress::Snapshot& s) {
  Parts p;
  p.batches = fmt::format("{}/{}{} mini-batches", s.batches_processed,
                          Total(s.batches_known, s.total_final), s.total_final ? "" : " (listing)");
  p.items = fmt::format("{}/{} items ok", s.items_processed, Total(s.items_known, s.total_final));
  if (s.batches_failed > 0 || s.items_failed > 0) {
    p.failed = fmt::format("{} failed ({} items)", s.batches_failed, s.items_failed);
  }
  double rate = s.elapsed_seconds > 0 ? s.items_processed / s.elapsed_seconds : 0;
  p.rate = fmt::format("{:.1f} items/s", rate);
  if (s.total_final && s.batches_processed > 0 && s.batches_processed < s.batches_known) {
    double per = s.elapsed_seconds / static_cast<double>(s.batches_processed);
    p.eta = "ETA " + Progress::Duration(per * static_cast<double>(s.batches_known - s.batches_processed));
  }
  const Progress::Workers& w = s.workers;
  if (w.total() > 0) {
    std::string list;
    auto add = [&list](int n, const char* what) {
      if (n > 0) list += fmt::format("{}{} {}", list.empty() ? "" : ", ", n, what);
    };
    add(w.busy, "busy");
    add(w.idle, "idle");
    add(w.init, "in init()");
    add(w.starting, "starting");
    add(w.stopping, "stopping");
    p.workers = "workers: " + list;
  }
  return p;
}

std::string Join(const std::vector<const std::string*>& parts) {
  std::string out;
  for (const std::string* p : parts) {
    if (p->empty()) continue;
    out += (out.empty() ? "" : ", ") + *p;
  }
  return out;
}

}  // namespace

std::string Progress::Describe(const Snapshot& s) {
  Parts p = MakeParts(s);
  return Join({&p.batches, &p.items, &p.failed, &p.rate, &p.eta, &p.workers});
}

std::string Progress::Line(const Snapshot& s, int width) {
  size_t room = static_cast<size_t>(std::max(width, 2) - 1);
  Parts p = MakeParts(s);
  std::string elapsed = Duration(s.elapsed_seconds);
  // Dropped in this order until the line fits.
  std::vector<std::string*> droppable = {&p.workers, &p.rate, &p.eta, &p.items};
  std::string text;
  for (size_t dropped = 0;; dropped++) {
    text = elapsed + " " + Join({&p.batches, &p.failed, &p.items, &p.eta, &p.rate, &p.workers});
    if (text.size() <= room || dropped == droppable.size()) break;
    droppable[dropped]->clear();
  }
  // The bar takes what is left, if enough is left for it to mean something.
  size_t left = room > text.size() ? room - text.size() : 0;
  if (left >= 13) {
    size_t cells = std::min<size_t>(kBarWidth, left - 3);
    double frac = s.batches_known > 0 ? static_cast<double>(s.batches_processed) /
                                            static_cast<double>(s.batches_known)
                                      : 0;
    size_t filled = static_cast<size_t>(frac * static_cast<double>(cells));
    text = "[" + std::string(filled, '#') + std::string(cells - filled, '.') + "] " + text;
  }
  // Still too long (a very narrow terminal): cut. The text is ASCII but for
  // "…", which never appears here, so bytes are columns.
  if (text.size() > room) text.resize(room);
  return text;
}

int Progress::Width() const {
  struct winsize ws;
  if (ioctl(fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

void Progress::Update(const Snapshot& s) {
  if (mode_ == Mode::kNone) return;
  if (mode_ == Mode::kPlain) {
    if (last_plain_ >= 0 && s.elapsed_seconds - last_plain_ < kPlainEverySeconds) return;
    last_plain_ = s.elapsed_seconds;
    PutText(out_, fmt::format("parallelrun: {} {}\n", Duration(s.elapsed_seconds), Describe(s)));
    return;
  }
  // Asked at every redraw: a resized terminal (SIGWINCH) is followed
  // without a signal handler.
  PutText(out_, "\r\x1b[K" + Line(s, Width()));
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
