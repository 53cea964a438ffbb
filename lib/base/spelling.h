// Spelling: "did you mean …?" for every place that names a key, setting,
// input or flag a person typed — one rule, so that suggestions read alike.
#ifndef PARALLELRUN_BASE_SPELLING_H_
#define PARALLELRUN_BASE_SPELLING_H_

#include <cstddef>
#include <string>
#include <vector>

namespace parallelrun {

// Optimal string alignment distance: Levenshtein plus adjacent
// transpositions, so that "mini_batch_sise" and "tpye" are one edit away.
size_t EditDistance(const std::string& a, const std::string& b);

// The candidate `word` is most likely a misspelling of: within two edits
// (ignoring case) that leave at least half of the longer word, or one a
// prefix of the other (3+ characters); "" if none.
std::string ClosestName(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace parallelrun

#endif  // PARALLELRUN_BASE_SPELLING_H_
