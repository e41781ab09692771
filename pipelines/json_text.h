// JSON text to a small read-only tree, for descriptions.
//
// json-glib's parser tokenizes with GScanner and its tree costs a hash table
// and several allocations per member; together they cost about as much as
// building the pipeline a description names, and loading must stay within
// 10% of gst_parse_launch (bench/). This reader builds a plain tree several
// times faster, says exactly where malformed text goes wrong, and notices
// members given twice (json-glib silently keeps the last).
#pragma once

#include "positions.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace livepipe::pipelines {

class JsonValue {
 public:
  enum class Kind { kNull, kBool, kInt, kDouble, kString, kArray, kObject };
  using Member = std::pair<std::string, JsonValue>;

  Kind kind() const { return kind_; }
  bool is(Kind kind) const { return kind_ == kind; }
  bool is_scalar() const { return kind_ != Kind::kArray && kind_ != Kind::kObject; }
  // "object", "array", "string", "integer", "number", "boolean", "null"
  const char *type_name() const;

  bool boolean() const { return boolean_; }
  int64_t integer() const { return integer_; }
  double number() const { return kind_ == Kind::kInt ? static_cast<double>(integer_) : number_; }
  const std::string &string() const { return string_; }
  const std::vector<JsonValue> &items() const { return items_; }
  // In document order; a name given twice appears once, with its last value.
  const std::vector<Member> &members() const { return members_; }
  // The member called `name`, or null (also when this is not an object).
  const JsonValue *find(std::string_view name) const;

 private:
  friend class JsonReader;
  Kind kind_ = Kind::kNull;
  bool boolean_ = false;
  int64_t integer_ = 0;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<Member> members_;
};

struct JsonTextError {
  std::string message;
  Position at;
};

struct JsonText {
  std::unique_ptr<JsonValue> root;  // null on error
  bool duplicate_members = false;   // an object has a member twice
};

// Parses a whole document (RFC 8259, UTF-8; strings may not hold \u0000).
// Objects and arrays nested deeper than `max_depth` are an error, which
// bounds the reader's recursion.
JsonText parse_json(std::string_view text, int max_depth, JsonTextError *error);

}  // namespace livepipe::pipelines
