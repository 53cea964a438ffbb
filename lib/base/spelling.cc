#include "base/spelling.h"

#include <algorithm>

#include "base/text.h"

namespace parallelrun {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string ClosestName(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 3;
  const std::string w = AsciiLower(word);
  for (const std::string& c : candidates) {
    const std::string lc = AsciiLower(c);
    size_t d = EditDistance(w, lc);
    bool prefix = std::min(w.size(), lc.size()) >= 3 &&
                  (lc.compare(0, w.size(), w) == 0 || w.compare(0, lc.size(), lc) == 0);
    if (prefix && d > 2) d = 2;
    if (!prefix && 2 * d > std::max(w.size(), lc.size())) continue;
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace parallelrun
