#include "suggest.h"

#include <algorithm>
#include <numeric>

namespace livepipe::pipelines {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::vector<std::string> closest_names(std::string_view word,
                                       const std::vector<std::string> &candidates, size_t limit) {
  const size_t threshold = std::max<size_t>(2, (word.size() + 2) / 3);
  std::vector<std::pair<size_t, const std::string *>> near;
  for (const auto &candidate : candidates) {
    if (candidate == word) {
      continue;
    }
    // Cheap bound first: lengths alone already exceed the threshold.
    size_t length_gap = candidate.size() > word.size() ? candidate.size() - word.size()
                                                       : word.size() - candidate.size();
    if (length_gap > threshold) {
      continue;
    }
    size_t distance = edit_distance(word, candidate);
    if (distance <= threshold) {
      near.emplace_back(distance, &candidate);
    }
  }
  if (near.empty() && word.size() >= 3) {
    for (const auto &candidate : candidates) {
      // One name inside the other: "x264" for x264enc, "integer" for int.
      if (candidate == word || candidate.size() < 3) {
        continue;
      }
      if (candidate.find(word) != std::string::npos) {
        near.emplace_back(candidate.size() - word.size(), &candidate);
      } else if (word.find(candidate) != std::string::npos) {
        near.emplace_back(word.size() - candidate.size(), &candidate);
      }
    }
  }
  std::stable_sort(near.begin(), near.end(), [](const auto &x, const auto &y) {
    return x.first != y.first ? x.first < y.first : *x.second < *y.second;
  });
  std::vector<std::string> out;
  for (const auto &[distance, name] : near) {
    if (out.size() == limit) {
      break;
    }
    out.push_back(*name);
  }
  return out;
}

std::string quoted_list(const std::vector<std::string> &names) {
  std::string out;
  for (const auto &name : names) {
    if (!out.empty()) {
      out += ", ";
    }
    out += '\'';
    out += name;
    out += '\'';
  }
  return out;
}

std::string closest_hint(std::string_view word, const std::vector<std::string> &candidates) {
  auto names = closest_names(word, candidates);
  return names.empty() ? std::string() : " (closest: " + quoted_list(names) + ")";
}

}  // namespace livepipe::pipelines
