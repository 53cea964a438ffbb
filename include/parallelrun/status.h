// The one error type of parallelrun: a Status says whether an operation worked
// and, if not, what kind of failure it was and a message a person can act on.
// Result<T> is a value or a Status. Messages read "context: detail", e.g.
// "input images_to_score ./data: No such file or directory".
#ifndef PARALLELRUN_STATUS_H_
#define PARALLELRUN_STATUS_H_

#include <optional>
#include <string>
#include <utility>

namespace parallelrun {

class Status {
 public:
  // The kinds map onto exit codes in exit_codes.h; only app/ does that mapping.
  enum class Code {
    kOk,
    kUsage,           // bad command line, spec or setting: nothing ran
    kJobFailed,       // the job ran and failed (threshold, unprocessed mini-batches)
    kInfrastructure,  // no Python, lost master, internal error
    kInterrupted,     // Ctrl-C / SIGTERM
  };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status Usage(std::string msg) { return Status(Code::kUsage, std::move(msg)); }
  static Status JobFailed(std::string msg) { return Status(Code::kJobFailed, std::move(msg)); }
  static Status Infrastructure(std::string msg) {
    return Status(Code::kInfrastructure, std::move(msg));
  }
  static Status Interrupted(std::string msg) {
    return Status(Code::kInterrupted, std::move(msg));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // Returns a Status of the same code whose message is "context: <message>".
  Status WithContext(const std::string& context) const {
    if (ok()) return *this;
    return Status(code_, context + ": " + message_);
  }

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status that says why there is none.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: REQUIRES: !status.ok()

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace parallelrun

#endif  // PARALLELRUN_STATUS_H_
