// Small helpers over json-glib: owned nodes, parsing with error positions,
// typed member access and compact serialisation.
#pragma once

#include <json-glib/json-glib.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace livepipe::json {

struct NodeUnref {
  void operator()(JsonNode *node) const { json_node_unref(node); }
};
using NodePtr = std::unique_ptr<JsonNode, NodeUnref>;

struct ParseError {
  std::string message;  // json-glib's message, e.g. "unexpected character"
  int line = 0;         // 1-based, 0 when unknown
  int column = 0;       // 1-based, 0 when unknown
};

// Parses a whole document. Returns the root node, or nullptr and fills `error`.
NodePtr parse(std::string_view text, ParseError *error);

// Compact (pretty = false) or indented serialisation of any node.
std::string to_string(JsonNode *node, bool pretty = false);
std::string to_string(JsonObject *object, bool pretty = false);

// Typed member access. Each returns std::nullopt when the member is absent or
// holds another JSON type, so callers can tell "missing" from "wrong type".
std::optional<std::string> get_string(JsonObject *object, const char *member);
std::optional<int64_t> get_int(JsonObject *object, const char *member);
std::optional<double> get_double(JsonObject *object, const char *member);
std::optional<bool> get_bool(JsonObject *object, const char *member);
JsonObject *get_object(JsonObject *object, const char *member);  // nullptr if not an object
JsonArray *get_array(JsonObject *object, const char *member);    // nullptr if not an array

// Name of a node's JSON type for error messages: "object", "string", ...
const char *type_name(JsonNode *node);

// Builds `{...}` documents without the JsonBuilder ceremony.
class ObjectBuilder {
 public:
  ObjectBuilder();
  ObjectBuilder &set(const char *member, std::string_view value);
  ObjectBuilder &set(const char *member, const char *value);
  ObjectBuilder &set(const char *member, int64_t value);
  ObjectBuilder &set(const char *member, int value) { return set(member, int64_t{value}); }
  ObjectBuilder &set(const char *member, double value);
  ObjectBuilder &set(const char *member, bool value);
  ObjectBuilder &set_null(const char *member);
  ObjectBuilder &set(const char *member, NodePtr value);  // takes ownership
  NodePtr build();
  std::string to_string(bool pretty = false);

 private:
  NodePtr node_;
};

}  // namespace livepipe::json
