#include "json.h"

#include "gstptr.h"

#include <cstdio>
#include <utility>
#include <vector>

namespace livepipe::json {

namespace {

// Why the first string (member name or value) below `root` that is not
// UTF-8 is refused, naming where it is ("$.a[2].b"), or empty. json-glib
// decodes escapes such as "\377" and lone surrogates into raw bytes, so valid
// input text can still yield strings no JSON generator may write back.
std::string invalid_utf8(JsonNode *root) {
  std::vector<std::pair<JsonNode *, std::string>> pending{{root, "$"}};
  while (!pending.empty()) {
    auto [node, path] = std::move(pending.back());
    pending.pop_back();
    switch (json_node_get_node_type(node)) {
      case JSON_NODE_OBJECT: {
        JsonObjectIter iter;
        const char *name = nullptr;
        JsonNode *member = nullptr;
        json_object_iter_init(&iter, json_node_get_object(node));
        while (json_object_iter_next(&iter, &name, &member)) {
          if (!g_utf8_validate(name, -1, nullptr)) {
            return "a member name in " + path + " is not valid UTF-8";
          }
          pending.emplace_back(member, path + "." + name);
        }
        break;
      }
      case JSON_NODE_ARRAY: {
        JsonArray *array = json_node_get_array(node);
        for (guint i = 0, n = json_array_get_length(array); i < n; ++i) {
          pending.emplace_back(json_array_get_element(array, i),
                               path + "[" + std::to_string(i) + "]");
        }
        break;
      }
      case JSON_NODE_VALUE:
        if (json_node_get_value_type(node) == G_TYPE_STRING &&
            !g_utf8_validate(json_node_get_string(node), -1, nullptr)) {
          return path + " is not valid UTF-8";
        }
        break;
      case JSON_NODE_NULL:
        break;
    }
  }
  return {};
}

}  // namespace

NodePtr parse(std::string_view text, ParseError *error) {
  GObjPtr<JsonParser> parser(json_parser_new_immutable());
  GError *gerror = nullptr;
  if (!json_parser_load_from_data(parser.get(), text.data(), static_cast<gssize>(text.size()),
                                  &gerror)) {
    if (error) {
      // json-glib reports the position only inside its message:
      // "<data>:LINE:COLUMN: Parse error: ...".
      const std::string text = gerror ? gerror->message : "invalid JSON";
      int line = 0, column = 0, consumed = 0;
      if (std::sscanf(text.c_str(), "<data>:%d:%d: %n", &line, &column, &consumed) == 2 &&
          consumed > 0) {
        error->message = text.substr(static_cast<size_t>(consumed));
      } else {
        error->message = text;
      }
      error->line = line;
      error->column = column;
    }
    g_clear_error(&gerror);
    return nullptr;
  }
  JsonNode *root = json_parser_get_root(parser.get());
  if (!root) {
    if (error) {
      *error = ParseError{"empty document", 1, 1};
    }
    return nullptr;
  }
  if (std::string problem = invalid_utf8(root); !problem.empty()) {
    if (error) {
      *error = ParseError{std::move(problem), 0, 0};
    }
    return nullptr;
  }
  return NodePtr(json_node_copy(root));
}

std::string to_string(JsonNode *node, bool pretty) {
  GObjPtr<JsonGenerator> generator(json_generator_new());
  json_generator_set_pretty(generator.get(), pretty);
  json_generator_set_root(generator.get(), node);
  GCharPtr text(json_generator_to_data(generator.get(), nullptr));
  return text.get();
}

std::string to_string(JsonObject *object, bool pretty) {
  NodePtr node(json_node_new(JSON_NODE_OBJECT));
  json_node_set_object(node.get(), object);
  return to_string(node.get(), pretty);
}

namespace {

JsonNode *member_value(JsonObject *object, const char *member, GType type) {
  if (!object || !json_object_has_member(object, member)) {
    return nullptr;
  }
  JsonNode *node = json_object_get_member(object, member);
  if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != type) {
    return nullptr;
  }
  return node;
}

}  // namespace

std::optional<std::string> get_string(JsonObject *object, const char *member) {
  JsonNode *node = member_value(object, member, G_TYPE_STRING);
  return node ? std::optional<std::string>(json_node_get_string(node)) : std::nullopt;
}

std::optional<int64_t> get_int(JsonObject *object, const char *member) {
  JsonNode *node = member_value(object, member, G_TYPE_INT64);
  return node ? std::optional<int64_t>(json_node_get_int(node)) : std::nullopt;
}

std::optional<double> get_double(JsonObject *object, const char *member) {
  if (JsonNode *node = member_value(object, member, G_TYPE_DOUBLE)) {
    return json_node_get_double(node);
  }
  if (JsonNode *node = member_value(object, member, G_TYPE_INT64)) {
    return static_cast<double>(json_node_get_int(node));
  }
  return std::nullopt;
}

std::optional<bool> get_bool(JsonObject *object, const char *member) {
  JsonNode *node = member_value(object, member, G_TYPE_BOOLEAN);
  return node ? std::optional<bool>(json_node_get_boolean(node)) : std::nullopt;
}

JsonObject *get_object(JsonObject *object, const char *member) {
  if (!object || !json_object_has_member(object, member)) {
    return nullptr;
  }
  JsonNode *node = json_object_get_member(object, member);
  return JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : nullptr;
}

JsonArray *get_array(JsonObject *object, const char *member) {
  if (!object || !json_object_has_member(object, member)) {
    return nullptr;
  }
  JsonNode *node = json_object_get_member(object, member);
  return JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : nullptr;
}

const char *type_name(JsonNode *node) {
  if (!node) {
    return "nothing";
  }
  switch (json_node_get_node_type(node)) {
    case JSON_NODE_OBJECT:
      return "object";
    case JSON_NODE_ARRAY:
      return "array";
    case JSON_NODE_NULL:
      return "null";
    case JSON_NODE_VALUE:
      break;
  }
  GType type = json_node_get_value_type(node);
  if (type == G_TYPE_STRING) {
    return "string";
  }
  if (type == G_TYPE_BOOLEAN) {
    return "boolean";
  }
  if (type == G_TYPE_INT64) {
    return "integer";
  }
  return "number";
}

ObjectBuilder::ObjectBuilder() : node_(json_node_new(JSON_NODE_OBJECT)) {
  JsonObject *object = json_object_new();
  json_node_take_object(node_.get(), object);
}

ObjectBuilder &ObjectBuilder::set(const char *member, std::string_view value) {
  json_object_set_string_member(json_node_get_object(node_.get()), member,
                                std::string(value).c_str());
  return *this;
}

ObjectBuilder &ObjectBuilder::set(const char *member, const char *value) {
  return set(member, std::string_view(value ? value : ""));
}

ObjectBuilder &ObjectBuilder::set(const char *member, int64_t value) {
  json_object_set_int_member(json_node_get_object(node_.get()), member, value);
  return *this;
}

ObjectBuilder &ObjectBuilder::set(const char *member, double value) {
  json_object_set_double_member(json_node_get_object(node_.get()), member, value);
  return *this;
}

ObjectBuilder &ObjectBuilder::set(const char *member, bool value) {
  json_object_set_boolean_member(json_node_get_object(node_.get()), member, value);
  return *this;
}

ObjectBuilder &ObjectBuilder::set_null(const char *member) {
  json_object_set_null_member(json_node_get_object(node_.get()), member);
  return *this;
}

ObjectBuilder &ObjectBuilder::set(const char *member, NodePtr value) {
  json_object_set_member(json_node_get_object(node_.get()), member, value.release());
  return *this;
}

NodePtr ObjectBuilder::build() {
  return std::move(node_);
}

std::string ObjectBuilder::to_string(bool pretty) {
  return json::to_string(node_.get(), pretty);
}

}  // namespace livepipe::json
