#include "data/table_paths.h"

#include <utility>

namespace parallelrun {

// ---- globs and path lists ------------------------------------------------------------------

namespace {

// Matches one character class at pattern[*p] ('[' already seen at *p).
// Returns false when the class is malformed (then '[' is literal).
bool MatchClass(std::string_view pattern, size_t* p, char c, bool* matched) {
  size_t i = *p + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    i++;
  }
  bool found = false;
  bool first = true;
  while (i < pattern.size() && (first || pattern[i] != ']')) {
    first = false;
    char lo = pattern[i];
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      char hi = pattern[i + 2];
      if (c >= lo && c <= hi) found = true;
      i += 3;
    } else {
      if (c == lo) found = true;
      i++;
    }
  }
  if (i >= pattern.size()) return false;
  *p = i + 1;
  *matched = found != negate && c != '/';
  return true;
}

bool Glob(std::string_view pat, size_t p, std::string_view path, size_t s) {
  while (p < pat.size()) {
    char pc = pat[p];
    if (pc == '*') {
      if (p + 1 < pat.size() && pat[p + 1] == '*') {
        size_t next = p + 2;
        // "**/" may also match no folder at all.
        if (next < pat.size() && pat[next] == '/' && Glob(pat, next + 1, path, s)) return true;
        for (size_t k = s; k <= path.size(); k++) {
          if (Glob(pat, next, path, k)) return true;
        }
        return false;
      }
      for (size_t k = s;; k++) {
        if (Glob(pat, p + 1, path, k)) return true;
        if (k == path.size() || path[k] == '/') return false;
      }
    }
    if (s == path.size()) return false;
    if (pc == '?') {
      if (path[s] == '/') return false;
      p++;
      s++;
      continue;
    }
    if (pc == '[') {
      size_t q = p;
      bool matched = false;
      if (MatchClass(pat, &q, path[s], &matched)) {
        if (!matched) return false;
        p = q;
        s++;
        continue;
      }
    }
    if (pc != path[s]) return false;
    p++;
    s++;
  }
  return s == path.size();
}

// The folder to list for a pattern: up to the last '/' before its first wildcard.
std::string PatternRoot(const std::string& pattern) {
  size_t wild = pattern.find_first_of("*?[");
  std::string prefix = pattern.substr(0, wild);
  size_t slash = prefix.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return prefix.substr(0, slash);
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view path) {
  return Glob(pattern, 0, path, 0);
}

TablePathLister::TablePathLister(std::vector<TablePath> paths, std::function<void()> notify,
                                 std::vector<std::string> exclude)
    : paths_(std::move(paths)), notify_(std::move(notify)), exclude_(std::move(exclude)) {
  StartNext();
}

TablePathLister::~TablePathLister() = default;

bool TablePathLister::StartNext() {
  lister_.reset();
  current_ = nullptr;
  while (next_ < paths_.size()) {
    const TablePath& p = paths_[next_++];
    std::string root = p.kind == TablePath::Kind::kPattern ? PatternRoot(p.value) : p.value;
    Status s = CheckInputPath(root);
    if (!s.ok()) {
      errors_.push_back(p.kind == TablePath::Kind::kPattern
                            ? p.value + ": the pattern matched no file (" + s.message() + ")"
                            : s.message());
      continue;
    }
    current_ = &p;
    current_matches_ = 0;
    FileLister::Options options;
    options.exclude = exclude_;
    lister_ = std::make_unique<FileLister>(root, std::move(options), notify_);
    return true;
  }
  return false;
}

size_t TablePathLister::Take(size_t max, std::vector<std::string>* out) {
  size_t taken = 0;
  while (taken < max && lister_) {
    scratch_.clear();
    size_t n = lister_->Take(max - taken, &scratch_);
    for (auto& path : scratch_) {
      if (current_->kind == TablePath::Kind::kPattern && !GlobMatch(current_->value, path)) continue;
      out->push_back(std::move(path));
      taken++;
      current_matches_++;
    }
    if (n > 0) continue;
    if (!lister_->finished()) break;  // more later; notify says when
    for (const auto& e : lister_->errors()) errors_.push_back(e);
    for (const auto& e : lister_->excluded()) excluded_.push_back(e);
    if (current_->kind == TablePath::Kind::kPattern && current_matches_ == 0) {
      errors_.push_back(current_->value + ": the pattern matched no file");
    }
    StartNext();
  }
  return taken;
}

bool TablePathLister::finished() const { return !lister_ && next_ >= paths_.size(); }

}  // namespace parallelrun
