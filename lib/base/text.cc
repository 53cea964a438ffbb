#include "base/text.h"

#include <time.h>

#include <cmath>
#include <cstdint>
#include <iterator>

#include <fmt/compile.h>
#include <fmt/format.h>

namespace parallelrun {

std::string Printable(const std::string& bytes) {
  std::string out;
  size_t i = 0, n = bytes.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '\n') { out += "\\n"; i++; continue; }
    if (c == '\t') { out += "\\t"; i++; continue; }
    if (c == '\\') { out += "\\\\"; i++; continue; }
    if (c < 0x20 || c == 0x7f) { out += fmt::format("\\x{:02x}", c); i++; continue; }
    if (c < 0x80) { out += static_cast<char>(c); i++; continue; }
    size_t len = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
    bool valid = len > 0 && i + len <= n;
    for (size_t k = 1; valid && k < len; k++) {
      valid = (static_cast<unsigned char>(bytes[i + k]) & 0xc0) == 0x80;
    }
    if (valid && len == 2 && c < 0xc2) valid = false;  // overlong
    if (valid) {
      out.append(bytes, i, len);
      i += len;
    } else {
      out += fmt::format("\\x{:02x}", c);
      i++;
    }
  }
  return out;
}

std::string PrintableShort(const std::string& bytes, size_t max_chars) {
  std::string out = Printable(bytes);
  if (out.size() > max_chars) {
    out.resize(max_chars);
    out += "...";
  }
  return out;
}

void AppendJsonString(const std::string& text, std::string* out) {
  out->push_back('"');
  for (char c : text) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (u < 0x20) {
      fmt::format_to(std::back_inserter(*out), "\\u{:04x}", u);
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

void AppendJsonPrintable(std::string_view bytes, std::string* out) {
  for (char c : bytes) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      AppendJsonString(Printable(std::string(bytes)), out);
      return;
    }
  }
  out->push_back('"');
  out->append(bytes);
  out->push_back('"');
}

void AppendCsvQuoted(const std::string& s, std::string* out) {
  out->push_back('"');
  size_t from = 0;
  for (size_t q = s.find('"'); q != std::string::npos; q = s.find('"', q + 1)) {
    out->append(s, from, q + 1 - from);
    out->push_back('"');
    from = q + 1;
  }
  out->append(s, from, std::string::npos);
  out->push_back('"');
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string IsoTime(double epoch_seconds) {
  time_t secs = static_cast<time_t>(epoch_seconds);
  int micros = static_cast<int>((epoch_seconds - static_cast<double>(secs)) * 1e6);
  if (micros < 0) micros = 0;
  if (micros > 999999) micros = 999999;
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:06d}", buf, micros);
}

void AppendFixed6(double v, std::string* out) {
  // v * 1e6 is within 1.2e-4 of the exact product for v < 1e6 (half an ulp
  // of a number below 2^40), floor() and the subtraction are exact: away
  // from .5 by more than 1e-3 the rounding is the exact one.
  if (v >= 0 && v < 1e6 && !std::signbit(v)) {
    double scaled = v * 1e6;
    double whole = std::floor(scaled);
    double frac = scaled - whole;
    if (std::fabs(frac - 0.5) > 1e-3) {
      uint64_t micros = static_cast<uint64_t>(whole) + (frac > 0.5 ? 1 : 0);
      uint64_t secs = micros / 1000000;
      uint32_t rest = static_cast<uint32_t>(micros % 1000000);
      char buf[24];
      char* end = buf + sizeof buf;
      char* p = end;
      for (int i = 0; i < 6; i++) {
        *--p = static_cast<char>('0' + rest % 10);
        rest /= 10;
      }
      *--p = '.';
      do {
        *--p = static_cast<char>('0' + secs % 10);
        secs /= 10;
      } while (secs > 0);
      out->append(p, static_cast<size_t>(end - p));
      return;
    }
  }
  fmt::format_to(std::back_inserter(*out), FMT_COMPILE("{:.6f}"), v);
}

void IsoTimeWriter::AppendTo(double epoch_seconds, std::string* out) {
  // As IsoTime computes them.
  time_t secs = static_cast<time_t>(epoch_seconds);
  int micros = static_cast<int>((epoch_seconds - static_cast<double>(secs)) * 1e6);
  if (micros < 0) micros = 0;
  if (micros > 999999) micros = 999999;
  if (second_text_.empty() || secs != second_) {
    second_text_ = IsoTime(static_cast<double>(secs));
    second_text_.resize(second_text_.size() - 6);  // "….000000" → "…."
    second_ = secs;
  }
  out->append(second_text_);
  char digits[6];
  for (int i = 5; i >= 0; i--) {
    digits[i] = static_cast<char>('0' + micros % 10);
    micros /= 10;
  }
  out->append(digits, 6);
}

std::string AsciiLower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string ShellQuote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                         "0123456789_-./=:,+@%") == std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string CutMiddle(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  auto continuation = [&](size_t i) {
    return i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
  };
  // Room for the note, so that the result has at most `limit` bytes and
  // cutting it again changes nothing.
  size_t keep = limit > 64 ? (limit - 64) / 2 : 0;
  size_t head = keep;
  while (head > 0 && continuation(head)) head--;
  size_t tail = text.size() - keep;
  while (continuation(tail)) tail++;
  std::string cut = std::to_string(tail - head);
  for (int i = static_cast<int>(cut.size()) - 3; i > 0; i -= 3) cut.insert(static_cast<size_t>(i), ",");
  return text.substr(0, head) + " … [" + cut + " bytes cut] … " + text.substr(tail);
}

void PutText(FILE* out, const std::string& text) {
  if (!out) return;
  fwrite(text.data(), 1, text.size(), out);
  fflush(out);
  clearerr(out);
}

}  // namespace parallelrun
