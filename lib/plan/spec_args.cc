// Args templates: `parallel.args` (ParallelComponent) and
// `task.program_arguments` (v2) turned into the argv words of the entry script.
//
// A template is read in two layers. The spec layer marks placeholders and
// optional groups ({inputs.x}, [ … ] — or ${{inputs.x}}, $[[ … ]] in v2); the
// shell layer (POSIX quoting and word splitting) applies to the text between
// them. Values are never shell-interpreted: they are spliced into the word
// being built, so a path with spaces, quotes, newlines or bytes that are not
// UTF-8 stays exactly one word (or part of one). This differs from the
// original, which substituted first and then ran shlex.split over the result.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parallelrun/spec.h"

namespace parallelrun {
namespace {

// One piece of a template after the spec layer has been read.
struct Piece {
  enum class Kind { kText, kPlaceholder, kGroupOpen, kGroupClose };
  Kind kind = Kind::kText;
  std::string text;               // kText: template text, still in shell syntax
  ArgsPlaceholder placeholder;    // kPlaceholder
  int group = -1;                 // the optional group the piece belongs to, or -1
};

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9') || c == '-'; }

// Reads "inputs.x" / "outputs.y" (surrounding blanks allowed when `trim`).
std::optional<ArgsPlaceholder> ParsePlaceholderBody(std::string_view body, bool trim) {
  if (trim) {
    while (!body.empty() && (body.front() == ' ' || body.front() == '\t')) body.remove_prefix(1);
    while (!body.empty() && (body.back() == ' ' || body.back() == '\t')) body.remove_suffix(1);
  }
  ArgsPlaceholder p;
  constexpr std::string_view kInputs = "inputs.", kOutputs = "outputs.";
  if (body.substr(0, kInputs.size()) == kInputs) {
    body.remove_prefix(kInputs.size());
  } else if (body.substr(0, kOutputs.size()) == kOutputs) {
    body.remove_prefix(kOutputs.size());
    p.is_output = true;
  } else {
    return std::nullopt;
  }
  if (body.empty() || !IsNameStart(body.front())) return std::nullopt;
  for (char c : body) {
    if (!IsNameChar(c)) return std::nullopt;
  }
  p.name = std::string(body);
  return p;
}

// Splits the spec layer off a template: placeholders, group markers and the
// literal text between them (with the doubled-bracket escapes undone).
class TemplateLexer {
 public:
  TemplateLexer(const std::string& text, SpecFormat format, const std::string& what)
      : text_(text), format_(format), what_(what) {}

  Result<std::vector<Piece>> Lex() {
    Status s = format_ == SpecFormat::kV2Parallel ? LexV2() : LexComponent();
    if (!s.ok()) return s;
    if (group_ >= 0) {
      return Status::Usage(what_ + " has an optional group " + OpenMarker() +
                           " that is never closed" +
                           (format_ == SpecFormat::kV2Parallel
                                ? std::string()
                                : "; write [[ for a literal ["));
    }
    return std::move(pieces_);
  }

 private:
  std::string OpenMarker() const { return format_ == SpecFormat::kV2Parallel ? "$[[" : "["; }

  bool At(size_t i, std::string_view s) const { return text_.compare(i, s.size(), s) == 0; }

  void AddLiteral(std::string_view s) {
    if (pieces_.empty() || pieces_.back().kind != Piece::Kind::kText) {
      Piece p;
      p.group = group_;
      pieces_.push_back(p);
    }
    pieces_.back().text.append(s);
  }

  Status OpenGroup() {
    if (group_ >= 0) {
      return Status::Usage(what_ + " nests optional groups (" + OpenMarker() +
                           " inside " + OpenMarker() + "), which is not supported");
    }
    group_ = groups_++;
    Piece p;
    p.kind = Piece::Kind::kGroupOpen;
    p.group = group_;
    pieces_.push_back(p);
    return Status::Ok();
  }

  void CloseGroup() {
    Piece p;
    p.kind = Piece::Kind::kGroupClose;
    p.group = group_;
    pieces_.push_back(p);
    group_ = -1;
  }

  void AddPlaceholder(ArgsPlaceholder placeholder) {
    placeholder.in_optional_group = group_ >= 0;
    Piece p;
    p.kind = Piece::Kind::kPlaceholder;
    p.placeholder = std::move(placeholder);
    p.group = group_;
    pieces_.push_back(std::move(p));
  }

  // {inputs.x}, [ … ]; doubled brackets and braces are literal.
  Status LexComponent() {
    size_t i = 0;
    while (i < text_.size()) {
      char c = text_[i];
      bool doubled = i + 1 < text_.size() && text_[i + 1] == c;
      if ((c == '[' || c == ']' || c == '{' || c == '}') && doubled) {
        AddLiteral(std::string_view(&text_[i], 1));
        i += 2;
      } else if (c == '[') {
        Status s = OpenGroup();
        if (!s.ok()) return s;
        ++i;
      } else if (c == ']') {
        if (group_ < 0) {
          return Status::Usage(what_ + " has ']' without a matching '['; write ]] for a literal ]");
        }
        CloseGroup();
        ++i;
      } else if (c == '{') {
        size_t end = text_.find('}', i + 1);
        if (end == std::string::npos) {
          return Status::Usage(what_ + " has '{' without a matching '}'; write {{ for a literal {");
        }
        std::string written = text_.substr(i, end + 1 - i);
        std::optional<ArgsPlaceholder> p =
            ParsePlaceholderBody(std::string_view(text_).substr(i + 1, end - i - 1), false);
        if (!p) {
          return Status::Usage(what_ + " has " + written +
                               ", which is not a placeholder {inputs.NAME} or {outputs.NAME}; "
                               "write {{ and }} for literal braces");
        }
        p->written = written;
        AddPlaceholder(std::move(*p));
        i = end + 1;
      } else if (c == '}') {
        return Status::Usage(what_ + " has '}' without a matching '{'; write }} for a literal }");
      } else {
        AddLiteral(std::string_view(&text_[i], 1));
        ++i;
      }
    }
    return Status::Ok();
  }

  // ${{inputs.x}}, $[[ … ]]; everything else is literal.
  Status LexV2() {
    size_t i = 0;
    while (i < text_.size()) {
      if (At(i, "$[[")) {
        Status s = OpenGroup();
        if (!s.ok()) return s;
        i += 3;
      } else if (group_ >= 0 && At(i, "]]")) {
        CloseGroup();
        i += 2;
      } else if (At(i, "${{")) {
        size_t end = text_.find("}}", i + 3);
        if (end == std::string::npos) {
          return Status::Usage(what_ + " has '${{' without a matching '}}'");
        }
        std::string written = text_.substr(i, end + 2 - i);
        std::optional<ArgsPlaceholder> p =
            ParsePlaceholderBody(std::string_view(text_).substr(i + 3, end - i - 3), true);
        if (!p) {
          return Status::Usage(what_ + " has " + written +
                               ", which is not ${{inputs.NAME}} or ${{outputs.NAME}}");
        }
        p->written = written;
        AddPlaceholder(std::move(*p));
        i = end + 2;
      } else {
        AddLiteral(std::string_view(&text_[i], 1));
        ++i;
      }
    }
    return Status::Ok();
  }

  const std::string& text_;
  SpecFormat format_;
  const std::string& what_;
  std::vector<Piece> pieces_;
  int group_ = -1;  // the open group, or -1
  int groups_ = 0;
};

// The shell layer: POSIX quoting and word splitting over template text, with
// values spliced in verbatim. No expansions ($, `, ~, globs) and no comments,
// as with shlex.split(comments=False).
class WordSplitter {
 public:
  enum class Quote { kNone, kSingle, kDouble };
  // Where the shell reader is; an optional group may only be cut out of the
  // text between two equal states, or the remaining text would read differently.
  struct State {
    Quote quote = Quote::kNone;
    bool escape = false;  // a backslash waits for the next character
    bool operator==(const State& o) const { return quote == o.quote && escape == o.escape; }
  };

  State state() const { return state_; }

  void AddText(std::string_view text) {
    for (char c : text) AddChar(c);
  }

  void AddValue(std::string_view value) {
    // A backslash right before a placeholder has nothing of the template's
    // to escape; it stays a literal backslash.
    if (state_.escape) {
      word_ += '\\';
      state_.escape = false;
    }
    word_.append(value);
    in_word_ = true;
  }

  Status Finish(const std::string& what, std::vector<std::string>* words) {
    if (state_.quote == Quote::kSingle) {
      return Status::Usage(what + " has an unterminated ' quote");
    }
    if (state_.quote == Quote::kDouble) {
      return Status::Usage(what + " has an unterminated \" quote");
    }
    if (state_.escape) {
      return Status::Usage(what + " ends with a backslash that escapes nothing");
    }
    EndWord();
    *words = std::move(words_);
    return Status::Ok();
  }

 private:
  void AddChar(char c) {
    if (state_.escape) {
      state_.escape = false;
      if (c == '\n') return;  // line continuation, in and outside double quotes
      // Inside double quotes a backslash escapes only these; before any other
      // character it is itself literal.
      if (state_.quote == Quote::kDouble && c != '"' && c != '\\' && c != '$' && c != '`') {
        word_ += '\\';
      }
      word_ += c;
      in_word_ = true;
      return;
    }
    switch (state_.quote) {
      case Quote::kSingle:
        if (c == '\'') {
          state_.quote = Quote::kNone;
        } else {
          word_ += c;
        }
        return;
      case Quote::kDouble:
        if (c == '"') {
          state_.quote = Quote::kNone;
        } else if (c == '\\') {
          state_.escape = true;
        } else {
          word_ += c;
        }
        return;
      case Quote::kNone:
        break;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      EndWord();
    } else if (c == '\'') {
      state_.quote = Quote::kSingle;
      in_word_ = true;  // '' is an empty word
    } else if (c == '"') {
      state_.quote = Quote::kDouble;
      in_word_ = true;
    } else if (c == '\\') {
      state_.escape = true;
    } else {
      word_ += c;
      in_word_ = true;
    }
  }

  void EndWord() {
    if (in_word_) words_.push_back(std::move(word_));
    word_.clear();
    in_word_ = false;
  }

  State state_;
  bool in_word_ = false;
  std::string word_;
  std::vector<std::string> words_;
};

// Lexes and checks the quoting of every optional group with all groups kept,
// so that dropping any of them later leaves well-formed text.
Result<std::vector<Piece>> LexAndCheck(const std::string& text, SpecFormat format,
                                       const std::string& what) {
  Result<std::vector<Piece>> pieces = TemplateLexer(text, format, what).Lex();
  if (!pieces.ok()) return pieces;
  WordSplitter splitter;
  WordSplitter::State at_open;
  for (const Piece& p : *pieces) {
    switch (p.kind) {
      case Piece::Kind::kText:
        splitter.AddText(p.text);
        break;
      case Piece::Kind::kPlaceholder:
        splitter.AddValue("x");
        break;
      case Piece::Kind::kGroupOpen:
        at_open = splitter.state();
        break;
      case Piece::Kind::kGroupClose:
        if (!(splitter.state() == at_open)) {
          return Status::Usage(what + " has an optional group that starts and ends in "
                               "different quoting; open and close quotes inside the group");
        }
        break;
    }
  }
  std::vector<std::string> words;
  Status s = splitter.Finish(what, &words);
  if (!s.ok()) return s;
  return pieces;
}

std::string WhatOf(const Spec& spec) {
  return spec.format == SpecFormat::kV2Parallel ? "program_arguments" : "args";
}

// "file:line:col: " for errors in the template itself, when the spec says where it is.
Status AtArgs(const Spec& spec, const Status& s) {
  if (s.ok() || spec.args_where.line <= 0) return s;
  return Status::Usage(spec.args_where.file + ":" + std::to_string(spec.args_where.line) +
                       ":" + std::to_string(spec.args_where.column) + ": " + s.message());
}

}  // namespace

Result<std::vector<ArgsPlaceholder>> ScanArgsTemplate(const std::string& text,
                                                      SpecFormat format,
                                                      const std::string& what) {
  Result<std::vector<Piece>> pieces = LexAndCheck(text, format, what);
  if (!pieces.ok()) return pieces.status();
  std::vector<ArgsPlaceholder> placeholders;
  for (const Piece& p : *pieces) {
    if (p.kind == Piece::Kind::kPlaceholder) placeholders.push_back(p.placeholder);
  }
  return placeholders;
}

Result<std::vector<std::string>> ResolveArgs(
    const Spec& spec, const std::map<std::string, std::string>& values) {
  const std::string what = WhatOf(spec);
  Result<std::vector<Piece>> pieces = LexAndCheck(spec.args_template, spec.format, what);
  if (!pieces.ok()) return AtArgs(spec, pieces.status());

  // A group is dropped as a whole when any placeholder in it has no value.
  std::vector<bool> dropped;
  for (const Piece& p : *pieces) {
    if (p.group >= static_cast<int>(dropped.size())) dropped.resize(p.group + 1, false);
    if (p.kind != Piece::Kind::kPlaceholder) continue;
    const ArgsPlaceholder& ph = p.placeholder;
    const Port* port = ph.is_output ? spec.FindOutput(ph.name) : spec.FindInput(ph.name);
    if (port == nullptr) {
      return AtArgs(spec, Status::Usage(what + " refers to " + ph.written + ", which is not " +
                                        (ph.is_output ? "an output" : "an input")));
    }
    if (p.group >= 0 && values.count(ph.name) == 0) dropped[p.group] = true;
  }

  WordSplitter splitter;
  for (const Piece& p : *pieces) {
    if (p.group >= 0 && dropped[p.group]) continue;
    if (p.kind == Piece::Kind::kText) {
      splitter.AddText(p.text);
    } else if (p.kind == Piece::Kind::kPlaceholder) {
      const ArgsPlaceholder& ph = p.placeholder;
      auto it = values.find(ph.name);
      if (it == values.end()) {
        const Port* port = ph.is_output ? spec.FindOutput(ph.name) : spec.FindInput(ph.name);
        std::string hint = ph.is_output ? "-o " + ph.name + "=PATH"
                                        : "-i " + ph.name + (port->is_data ? "=PATH" : "=VALUE");
        return Status::Usage(what + " use " + ph.written + ", which has no value; give it with " +
                             hint);
      }
      splitter.AddValue(it->second);
    }
  }
  std::vector<std::string> words;
  Status s = splitter.Finish(what, &words);
  if (!s.ok()) return AtArgs(spec, s);
  return words;
}

std::vector<std::string> V1PlaceholdersInV2(const std::string& text) {
  std::vector<std::string> found;
  for (size_t i = 0; (i = text.find('{', i)) != std::string::npos; i++) {
    // "${{inputs.x}}" and "{{" hold a '{' after another '{' or '$'.
    if ((i > 0 && (text[i - 1] == '{' || text[i - 1] == '$')) ||
        (i + 1 < text.size() && text[i + 1] == '{')) {
      continue;
    }
    size_t end = text.find('}', i);
    if (end == std::string::npos) break;
    std::optional<ArgsPlaceholder> p =
        ParsePlaceholderBody(std::string_view(text).substr(i + 1, end - i - 1), false);
    if (p) found.push_back(text.substr(i, end + 1 - i));
  }
  return found;
}

}  // namespace parallelrun
