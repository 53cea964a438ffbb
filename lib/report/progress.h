// Progress: what the terminal shows while a job runs — mini-batches processed
// of those known so far (the total grows while the input is still being
// listed), the rate, an estimate of the time left — and the closing summary.
// On a TTY a line redrawn in place that never wraps (the width is asked of
// the terminal at each redraw, so a resize is followed); otherwise a plain
// line every few seconds, so that CI logs stay readable. Writes to one FILE (stderr), loop thread only.
#ifndef PARALLELRUN_REPORT_PROGRESS_H_
#define PARALLELRUN_REPORT_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <string>

namespace parallelrun {

class Progress {
 public:
  enum class Mode { kBar, kPlain, kNone };

  // "auto" picks kBar on a terminal, kPlain otherwise. Returns false for an
  // unknown name.
  static bool ParseMode(const std::string& name, bool is_tty, Mode* mode);

  // What the worker processes of every node are doing: the master's own
  // node as it is, the others as their agents last said (Workers messages,
  // at most half a second old).
  struct Workers {
    int starting = 0;  // spawned, Python not yet talking
    int init = 0;      // in init()
    int busy = 0;      // running a mini-batch
    int idle = 0;      // waiting for work
    int stopping = 0;  // in shutdown(), being stopped, or exited
    int total() const { return starting + init + busy + idle + stopping; }
  };

  struct Snapshot {
    double elapsed_seconds = 0;
    uint64_t batches_processed = 0;  // finished (done or failed after all tries)
    uint64_t batches_known = 0;      // formed so far
    bool total_final = false;        // listing finished: batches_known is the total
    uint64_t items_processed = 0;    // succeeded items of finished mini-batches
    uint64_t items_known = 0;        // items of the mini-batches formed so far
    uint64_t items_failed = 0;
    uint64_t batches_failed = 0;
    Workers workers;
  };

  Progress(Mode mode, FILE* out) : mode_(mode), out_(out) {}

  // Called about every 200 ms; draws when the mode says so.
  void Update(const Snapshot& s);
  // Clears the bar (if any) so that the next line starts clean.
  void Clear();
  // One line, whatever the mode (start, end, warnings): "parallelrun: …".
  void Say(const std::string& line);

  // "0:01:23" (h:mm:ss).
  static std::string Duration(double seconds);
  // The progress text without decoration, also used in the overview log.
  static std::string Describe(const Snapshot& s);
  // The live line for a terminal `width` columns wide: at most width − 1
  // characters (a line that fills the last column wraps on some terminals,
  // and a wrapped line cannot be redrawn in place), the least important
  // parts dropped first: the bar, the workers, the rate.
  static std::string Line(const Snapshot& s, int width);

 private:
  // The terminal's columns (TIOCGWINSZ on `out_`), 80 when it does not say.
  int Width() const;

  Mode mode_;
  FILE* out_;
  double last_plain_ = 0;  // the first plain line comes after a few seconds
  bool bar_drawn_ = false;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_REPORT_PROGRESS_H_
