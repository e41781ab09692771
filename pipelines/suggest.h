// "Did you mean ...?": the closest names to a misspelt one.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace livepipe::pipelines {

// Levenshtein distance (insertions, deletions, substitutions of bytes).
size_t edit_distance(std::string_view a, std::string_view b);

// Up to `limit` candidates closest to `word`, best first: those within an
// edit distance of about a third of its length, else names that contain it
// or that it contains.
std::vector<std::string> closest_names(std::string_view word,
                                       const std::vector<std::string> &candidates,
                                       size_t limit = 3);

// " (closest: 'a', 'b')" or "" when there is none; for appending to messages.
std::string closest_hint(std::string_view word, const std::vector<std::string> &candidates);

// 'a', 'b', 'c' (for messages listing what is allowed).
std::string quoted_list(const std::vector<std::string> &names);

}  // namespace livepipe::pipelines
