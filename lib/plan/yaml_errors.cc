#include "plan/yaml_errors.h"

#include <vector>

#include <fmt/format.h>

namespace parallelrun {

namespace {

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

int Indent(const std::string& line) {
  size_t n = line.find_first_not_of(' ');
  return n == std::string::npos ? static_cast<int>(line.size()) : static_cast<int>(n);
}

// Blank lines, comments and the document markers say nothing about structure.
bool Meaningful(const std::string& line) {
  size_t n = line.find_first_not_of(" \t");
  return n != std::string::npos && line[n] != '#' && line.compare(0, 3, "---") != 0;
}

// "key" of a "  key: value" or "  key:" line; "" when the line is no key.
std::string KeyOf(const std::string& line) {
  size_t start = line.find_first_not_of(' ');
  if (start == std::string::npos) return "";
  if (line.compare(start, 2, "- ") == 0) start += 2;
  size_t colon = line.find(':', start);
  if (colon == std::string::npos) return "";
  if (colon + 1 < line.size() && line[colon + 1] != ' ') return "";
  return line.substr(start, colon - start);
}

// The key line's value is given on that line ("key: value").
bool HasInlineValue(const std::string& line) {
  size_t colon = line.find(": ");
  return colon != std::string::npos && line.find_first_not_of(' ', colon + 1) != std::string::npos &&
         line[line.find_first_not_of(' ', colon + 1)] != '#';
}

int Previous(const std::vector<std::string>& lines, int from) {
  for (int i = from - 1; i >= 0; i--) {
    if (Meaningful(lines[i])) return i;
  }
  return -1;
}

std::string Spaces(int n) { return fmt::format("{} space{}", n, n == 1 ? "" : "s"); }

}  // namespace

YamlErrorPlace ExplainYamlError(const std::string& text, int line, int column,
                                const std::string& message) {
  std::vector<std::string> lines = SplitLines(text);
  YamlErrorPlace place{line, column, "invalid YAML: " + message};
  if (line < 0 || line >= static_cast<int>(lines.size())) return place;

  // YAML indents with spaces only.
  for (int i = 0; i <= line; i++) {
    const std::string& l = lines[i];
    size_t lead = l.find_first_not_of(" \t");
    size_t tab = l.find('\t');
    if (tab != std::string::npos && (lead == std::string::npos || tab < lead) && Meaningful(l)) {
      return {i, static_cast<int>(tab), "a tab in the indentation: YAML indents with spaces only"};
    }
  }

  const std::string& here = lines[line];
  int indent = Indent(here);
  int prev = Previous(lines, line);

  if (message == "end of sequence flow not found" || message == "end of map flow not found") {
    char open = message == "end of sequence flow not found" ? '[' : '{';
    char close = open == '[' ? ']' : '}';
    for (int i = line; i >= 0; i--) {
      size_t at = lines[i].rfind(open);
      if (at != std::string::npos && lines[i].find(close, at) == std::string::npos) {
        return {i, static_cast<int>(at),
                open == '['
                    ? "this '[' is not closed: end the list with ']' on the same line, or write "
                      "one '- item' per line"
                    : "this '{' is not closed: end the mapping with '}' on the same line, or "
                      "write one 'key: value' per line"};
      }
    }
    return place;
  }

  // A word alone on the line before: a key that lost its colon. yaml-cpp
  // reads it and the next line as one text and fails on the next line.
  if (prev >= 0 && message == "illegal map value") {
    const std::string& p = lines[prev];
    std::string word = p.substr(static_cast<size_t>(Indent(p)));
    if (KeyOf(p).empty() && word.find(':') == std::string::npos && word.compare(0, 2, "- ") != 0 &&
        word.find(' ') == std::string::npos) {
      return {prev, static_cast<int>(p.size()),
              fmt::format("'{}' needs a colon to be a key: '{}:'", word, word)};
    }
    if (indent > Indent(p) && HasInlineValue(p) && !KeyOf(p).empty()) {
      return {line, indent,
              fmt::format("this line is indented more than '{}:' above it, whose value is already "
                          "given; to make '{}' a key beside it, indent it {} like '{}:'",
                          KeyOf(p), KeyOf(here), Spaces(Indent(p)), KeyOf(p))};
    }
    if (!KeyOf(here).empty()) {
      size_t colon = here.find(": ");
      size_t second = colon == std::string::npos ? colon : here.find(": ", colon + 2);
      if (second != std::string::npos) {
        return {line, static_cast<int>(second),
                "a value that holds ': ' must be quoted: '" + KeyOf(here) + ": \"…\"'"};
      }
    }
  }

  if (message == "end of map not found" && prev >= 0) {
    if (here.compare(static_cast<size_t>(indent), 2, "- ") == 0) {
      return {line, indent,
              "a list item ('- …') among keys: a mapping's entries are either all 'key: value' "
              "or all '- item'"};
    }
    // The indents that would be right here: the line above's, then each of
    // its parents' (the nearest line above indented less).
    std::vector<std::pair<int, std::string>> levels;
    int level = 1 << 30;
    for (int i = prev; i >= 0; i--) {
      if (!Meaningful(lines[i]) || Indent(lines[i]) >= level) continue;
      level = Indent(lines[i]);
      levels.emplace_back(level, KeyOf(lines[i]));
      if (level == 0) break;
    }
    const std::pair<int, std::string>* above = nullptr;  // the nearest deeper level
    const std::pair<int, std::string>* below = nullptr;  // the nearest shallower level
    for (const auto& l : levels) {
      if (l.first > indent) above = &l;
      if (l.first < indent && !below) below = &l;
    }
    auto like = [](const std::pair<int, std::string>* l) {
      return l->second.empty() ? fmt::format("{}", Spaces(l->first))
                               : fmt::format("'{}:' ({})", l->second, Spaces(l->first));
    };
    std::string choices;
    if (above && below) choices = "like " + like(above) + " or " + like(below);
    else if (above) choices = "like " + like(above);
    else if (below) choices = "like " + like(below);
    if (!choices.empty()) {
      return {line, indent,
              fmt::format("this line is indented {}, which matches no key above it; indent it {}",
                          Spaces(indent), choices)};
    }
  }
  return place;
}

}  // namespace parallelrun
