// JSON paths and where they are in a document's text.
//
// The parsed tree keeps no source positions: most loads report no problem
// and should not pay for them. When a problem needs one, PositionMap scans
// the same text and records, for every value, the JSONPath-like path the
// loader uses ($.elements[2].properties.bitrate) and its line and column. It
// never fails: on text it cannot follow it keeps what it recorded so far.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace livepipe::pipelines {

// "$" is the root; members are ".name", or ["na.me"] when the name is not a
// plain word; array items are "[3]".
inline constexpr std::string_view kRootPath = "$";
std::string path_member(std::string_view parent, std::string_view key);
std::string path_index(std::string_view parent, size_t index);
// The path one level up ("$.a[2].b" -> "$.a[2]"); "$" stays "$".
std::string path_parent(std::string_view path);

struct Position {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based, in characters (UTF-8 code points)
  bool known() const { return line > 0; }
};

class PositionMap {
 public:
  // Deeper nesting than this is not followed (the loader rejects it anyway).
  static constexpr int kMaxDepth = 256;

  static PositionMap scan(std::string_view text);

  // Where `path` is: an object member's key, an array item's or the root's
  // first character. A path the text does not have resolves to its nearest
  // ancestor that it does have.
  Position find(std::string_view path) const;

  // Members that appear twice in one object (the reader keeps the last).
  const std::vector<std::string> &duplicate_keys() const { return duplicates_; }

  // Deepest nesting of objects and arrays seen (how far the scan got).
  int max_depth() const { return max_depth_; }
  // False when the scan stopped early (malformed text or too deep).
  bool complete() const { return complete_; }

 private:
  std::unordered_map<std::string, Position> positions_;
  std::vector<std::string> duplicates_;
  int max_depth_ = 0;
  bool complete_ = false;
};

}  // namespace livepipe::pipelines
