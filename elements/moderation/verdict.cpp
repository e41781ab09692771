#include "verdict.h"

#include "util/json.h"

#include <cmath>

namespace livepipe::moderation {

const char *action_name(Action action) {
  switch (action) {
    case Action::Allow:
      return "allow";
    case Action::Blur:
      return "blur";
    case Action::Block:
      return "block";
    case Action::End:
      return "end";
  }
  return "allow";
}

std::optional<Action> action_from_name(std::string_view name) {
  for (Action action : {Action::Allow, Action::Blur, Action::Block, Action::End}) {
    if (name == action_name(action)) {
      return action;
    }
  }
  return std::nullopt;
}

namespace {

bool fail(std::string *error, std::string message) {
  if (error) {
    *error = std::move(message);
  }
  return false;
}

// Accepts integral JSON numbers only (5 or 5.0), within [min, max].
bool integer_member(JsonObject *object, const char *member, int64_t min, int64_t max,
                    int64_t *value, std::string *error, const std::string &where) {
  if (!json_object_has_member(object, member)) {
    return fail(error, where + "\"" + member + "\" is missing");
  }
  std::optional<double> number = json::get_double(object, member);
  if (!number || !std::isfinite(*number) || std::floor(*number) != *number) {
    return fail(error, where + "\"" + member + "\" must be an integer, got " +
                           json::type_name(json_object_get_member(object, member)));
  }
  if (*number < static_cast<double>(min) || *number > static_cast<double>(max)) {
    return fail(error, where + "\"" + member + "\" is out of range [" + std::to_string(min) + ", " +
                           std::to_string(max) + "]");
  }
  *value = static_cast<int64_t>(*number);
  return true;
}

}  // namespace

bool parse_verdict(std::string_view text, Verdict *verdict, std::string *error) {
  if (text.size() > kMaxReplyBytes) {
    return fail(error, "reply of " + std::to_string(text.size()) + " bytes exceeds " +
                           std::to_string(kMaxReplyBytes));
  }
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return fail(error, "empty reply");
  }
  json::ParseError parse_error;
  json::NodePtr root = json::parse(text, &parse_error);
  if (!root) {
    return fail(error, "invalid JSON at " + std::to_string(parse_error.line) + ":" +
                           std::to_string(parse_error.column) + ": " + parse_error.message);
  }
  if (!JSON_NODE_HOLDS_OBJECT(root.get())) {
    return fail(error,
                std::string("reply must be a JSON object, got ") + json::type_name(root.get()));
  }
  JsonObject *object = json_node_get_object(root.get());

  Verdict result;
  std::optional<std::string> name = json::get_string(object, "verdict");
  if (!name) {
    return fail(error, json_object_has_member(object, "verdict") ? "\"verdict\" must be a string"
                                                                 : "\"verdict\" is missing");
  }
  std::optional<Action> action = action_from_name(*name);
  if (!action) {
    return fail(error, "unknown verdict \"" + name->substr(0, 32) +
                           "\" (expected allow, blur, block or end)");
  }
  result.action = *action;

  if (json_object_has_member(object, "reason")) {
    std::optional<std::string> reason = json::get_string(object, "reason");
    if (!reason) {
      return fail(error, "\"reason\" must be a string");
    }
    if (reason->size() > kMaxReasonBytes) {
      return fail(error, "\"reason\" is longer than " + std::to_string(kMaxReasonBytes) + " bytes");
    }
    result.reason = std::move(*reason);
  }

  if (json_object_has_member(object, "regions") &&
      !JSON_NODE_HOLDS_NULL(json_object_get_member(object, "regions"))) {
    JsonArray *regions = json::get_array(object, "regions");
    if (!regions) {
      return fail(error, "\"regions\" must be an array");
    }
    const guint count = json_array_get_length(regions);
    if (count > kMaxRegions) {
      return fail(error, "more than " + std::to_string(kMaxRegions) + " regions");
    }
    for (guint i = 0; i < count; ++i) {
      const std::string where = "regions[" + std::to_string(i) + "]: ";
      JsonNode *node = json_array_get_element(regions, i);
      if (!JSON_NODE_HOLDS_OBJECT(node)) {
        return fail(error, where + "must be an object");
      }
      JsonObject *item = json_node_get_object(node);
      int64_t x, y, w, h;
      if (!integer_member(item, "x", 0, kMaxCoordinate, &x, error, where) ||
          !integer_member(item, "y", 0, kMaxCoordinate, &y, error, where) ||
          !integer_member(item, "w", 1, kMaxCoordinate, &w, error, where) ||
          !integer_member(item, "h", 1, kMaxCoordinate, &h, error, where)) {
        return false;
      }
      result.regions.push_back(Region{static_cast<int>(x), static_cast<int>(y), static_cast<int>(w),
                                      static_cast<int>(h)});
    }
  }

  if (json_object_has_member(object, "expires_ms") &&
      !JSON_NODE_HOLDS_NULL(json_object_get_member(object, "expires_ms"))) {
    int64_t expires;
    if (!integer_member(object, "expires_ms", 1, kMaxExpiresMs, &expires, error, "")) {
      return false;
    }
    result.expires_ms = expires;
  }

  *verdict = std::move(result);
  return true;
}

}  // namespace livepipe::moderation
