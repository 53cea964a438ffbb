// How bytes are shown to people and written into the reports: one rule each,
// shared by the terminal, the logs and the CSVs; and how names a person typed
// are compared regardless of case.
#ifndef PARALLELRUN_BASE_TEXT_H_
#define PARALLELRUN_BASE_TEXT_H_

#include <cstdio>
#include <ctime>
#include <string>
#include <string_view>

namespace parallelrun {

// A byte string shown to a person on one line: printable UTF-8 as is,
// newline and tab as \n and \t, a backslash doubled, other bytes \xNN. Any
// file name survives it unambiguously.
std::string Printable(const std::string& bytes);

// Printable(bytes), cut to at most `max_chars` bytes with "..." after.
std::string PrintableShort(const std::string& bytes, size_t max_chars);

// Appends `text` to `out` as a JSON string ("…" with '"' and '\\' escaped,
// control bytes as \u00NN). Meant for Printable() text, which is valid UTF-8
// already: the reports write their JSON by hand with it, as a JSON library's
// document of every row was most of their cost.
void AppendJsonString(const std::string& text, std::string* out);

// AppendJsonString(Printable(bytes), out), without its two copies when
// `bytes` is plain ASCII (the common file name): the report's Mini-batch
// Detail writes one per item of every attempt.
void AppendJsonPrintable(std::string_view bytes, std::string* out);

// CSV field: quoted (quotes doubled) when it holds a comma, quote, CR or LF.
std::string CsvField(const std::string& s);

// Appends `s` to `out` as a quoted CSV field (quotes doubled), whatever it
// holds: CsvField of a text that has a quote, without the copy.
void AppendCsvQuoted(const std::string& s, std::string* out);

// ISO-8601 UTC with microseconds ("2026-12-01T00:50:42.123456"), as the
// original's Start Time column.
std::string IsoTime(double epoch_seconds);

// Appends fmt's "{:.6f}" of `v` to *out, the same text, made faster for
// what a report's seconds columns hold (0 to a million seconds): rounded to
// the microsecond by integer arithmetic where that cannot differ from the
// exact decimal rounding, by fmt otherwise (near a half, negative, large,
// not finite).
void AppendFixed6(double v, std::string* out);

// IsoTime's text for many times in a row, as a report writes them: the part
// up to the second is made once per second (gmtime_r and strftime were most
// of IsoTime's cost, paid on every mini-batch).
class IsoTimeWriter {
 public:
  // Appends IsoTime(epoch_seconds) to *out.
  void AppendTo(double epoch_seconds, std::string* out);

 private:
  time_t second_ = 0;
  std::string second_text_;  // IsoTime of second_ up to and with the '.'
};

// `s` with the ASCII letters A-Z made lower case; other bytes (UTF-8
// included) unchanged, whatever the locale.
std::string AsciiLower(std::string s);

// `s` quoted for a POSIX shell when it needs it ('…' with ' as '\'').
std::string ShellQuote(const std::string& s);

// Writes `text` to `out` (the terminal: stderr) and flushes, ignoring
// failures: a terminal that went away (EPIPE under `| head`, a closed
// stderr) must change neither the job's outcome nor its reports. fmt::print
// would throw instead.
void PutText(FILE* out, const std::string& text);

// Bounds on what a worker's failure may put in the reports: an exception's
// message (the CSV's Error Message, the terminal) and its traceback
// (job_error.txt). lib/node/worker_driver.py cuts to the same sizes before
// sending; the agent cuts again what it receives.
constexpr size_t kMaxErrorMessageBytes = 4096;
constexpr size_t kMaxTracebackBytes = 16384;

// `text` when it has at most `limit` bytes; else its head and tail,
// (limit - 64) / 2 bytes each (cut at UTF-8 character boundaries), around
// " … [12,345,678 bytes cut] … ": at most `limit` bytes, so that cutting
// again changes nothing.
std::string CutMiddle(const std::string& text, size_t limit);

}  // namespace parallelrun

#endif  // PARALLELRUN_BASE_TEXT_H_
