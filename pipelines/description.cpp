#include "description.h"

#include "params.h"
#include "suggest.h"
#include "util/gstptr.h"

#include <glib.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace livepipe::pipelines {

std::string Problem::to_string() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    if (line > 0) {
      out += ':' + std::to_string(line) + ':' + std::to_string(column);
    }
    out += ": ";
  }
  if (!path.empty()) {
    out += path + ": ";
  }
  out += message;
  return out;
}

void Problems::add(const Origin &origin, std::string message) {
  Problem problem;
  if (origin.doc) {
    problem.file = origin.doc->file;
    Position at = origin.doc->positions.find(origin.path);
    problem.line = at.line;
    problem.column = at.column;
  }
  problem.path = origin.path;
  problem.message = std::move(message);
  list_.push_back(std::move(problem));
}

void Problems::add_in_file(std::string file, std::string message) {
  Problem problem;
  problem.file = std::move(file);
  problem.message = std::move(message);
  list_.push_back(std::move(problem));
}

std::string to_text(const Scalar &value) {
  if (auto s = std::get_if<std::string>(&value)) {
    return *s;
  }
  if (auto i = std::get_if<int64_t>(&value)) {
    return std::to_string(*i);
  }
  if (auto b = std::get_if<bool>(&value)) {
    return *b ? "true" : "false";
  }
  double d = std::get<double>(value);
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, d);
  return std::string(buffer, result.ptr);
}

std::string to_display(const Scalar &value) {
  if (auto s = std::get_if<std::string>(&value)) {
    return '"' + *s + '"';
  }
  return to_text(value);
}

std::optional<Scalar> scalar_from_json(JsonNode *node) {
  if (!node || !JSON_NODE_HOLDS_VALUE(node)) {
    return std::nullopt;
  }
  GType type = json_node_get_value_type(node);
  if (type == G_TYPE_STRING) {
    return Scalar(std::string(json_node_get_string(node)));
  }
  if (type == G_TYPE_INT64) {
    return Scalar(static_cast<int64_t>(json_node_get_int(node)));
  }
  if (type == G_TYPE_BOOLEAN) {
    return Scalar(static_cast<bool>(json_node_get_boolean(node)));
  }
  return Scalar(json_node_get_double(node));
}

const char *param_type_name(ParamType type) {
  switch (type) {
    case ParamType::kString:
      return "string";
    case ParamType::kInt:
      return "int";
    case ParamType::kDouble:
      return "double";
    case ParamType::kBool:
      return "bool";
    case ParamType::kEnum:
      return "enum";
  }
  return "?";
}

const char *slot_kind_name(SlotKind kind) {
  return kind == SlotKind::kFanOut ? "fan-out" : "fan-in";
}

const ParamDecl *GraphDecl::param(std::string_view wanted) const {
  for (const auto &decl : params) {
    if (decl.name == wanted) {
      return &decl;
    }
  }
  return nullptr;
}

bool is_identifier(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return false;
  }
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = g_ascii_isalnum(c) || c == '_' || (i > 0 && c == '-');
    if (!ok) {
      return false;
    }
  }
  return true;
}

const std::vector<std::string> &known_members(ObjectKind kind) {
  static const std::vector<std::string> kDescription = {
      "$schema",   "name",     "summary", "doc",   "params", "include",
      "templates", "elements", "links",   "slots", "inputs", "outputs"};
  static const std::vector<std::string> kParam = {"type", "doc", "default", "required",
                                                  "min",  "max", "values",  "example"};
  static const std::vector<std::string> kElement = {"id",         "factory", "template",
                                                    "properties", "params",  "doc"};
  static const std::vector<std::string> kLink = {"from", "to", "caps", "media", "doc"};
  static const std::vector<std::string> kSlot = {"element", "kind", "doc", "caps"};
  static const std::vector<std::string> kTemplate = {"summary", "doc",    "params", "elements",
                                                     "links",   "inputs", "outputs"};
  switch (kind) {
    case ObjectKind::kDescription:
      return kDescription;
    case ObjectKind::kParam:
      return kParam;
    case ObjectKind::kElement:
      return kElement;
    case ObjectKind::kLink:
      return kLink;
    case ObjectKind::kSlot:
      return kSlot;
    case ObjectKind::kTemplate:
      return kTemplate;
  }
  return kDescription;
}

namespace {

// Nesting depth of objects and arrays outside strings, without parsing, so
// absurd nesting never reaches json-glib's recursive parser.
int nesting_depth(std::string_view text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      deepest = std::max(deepest, ++depth);
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return deepest;
}

// Reads one object's members with type checks, reporting each problem once.
class Reader {
 public:
  Reader(const DocumentPtr &doc, Problems &problems) : doc_(doc), problems_(problems) {}

  Origin at(const std::string &path) const { return Origin{doc_, path}; }
  void problem(const std::string &path, std::string message) {
    problems_.add(at(path), std::move(message));
  }

  // Reports members `object` has that `kind` does not accept.
  void check_members(JsonObject *object, const std::string &path, ObjectKind kind,
                     const char *what) {
    const auto &known = known_members(kind);
    GList *members = json_object_get_members(object);
    for (GList *l = members; l; l = l->next) {
      std::string name = static_cast<const char *>(l->data);
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        problem(path_member(path, name),
                "unknown member '" + name + "' in " + what + closest_hint(name, known));
      }
    }
    g_list_free(members);
  }

  JsonNode *member(JsonObject *object, const char *name) {
    return object && json_object_has_member(object, name) ? json_object_get_member(object, name)
                                                          : nullptr;
  }

  // A string member; `required` reports its absence at the object's path.
  std::optional<std::string> string(JsonObject *object, const std::string &path, const char *name,
                                    bool required) {
    JsonNode *node = member(object, name);
    if (!node) {
      if (required) {
        problem(path, std::string("missing required member '") + name + "'");
      }
      return std::nullopt;
    }
    if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
      problem(path_member(path, name),
              std::string("'") + name + "' must be a string, not " + json::type_name(node));
      return std::nullopt;
    }
    return std::string(json_node_get_string(node));
  }

  JsonObject *object(JsonObject *parent, const std::string &path, const char *name) {
    JsonNode *node = member(parent, name);
    if (!node) {
      return nullptr;
    }
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
      problem(path_member(path, name),
              std::string("'") + name + "' must be an object, not " + json::type_name(node));
      return nullptr;
    }
    return json_node_get_object(node);
  }

  JsonArray *array(JsonObject *parent, const std::string &path, const char *name) {
    JsonNode *node = member(parent, name);
    if (!node) {
      return nullptr;
    }
    if (!JSON_NODE_HOLDS_ARRAY(node)) {
      problem(path_member(path, name),
              std::string("'") + name + "' must be an array, not " + json::type_name(node));
      return nullptr;
    }
    return json_node_get_array(node);
  }

  std::optional<double> number(JsonObject *object, const std::string &path, const char *name) {
    JsonNode *node = member(object, name);
    if (!node) {
      return std::nullopt;
    }
    if (JSON_NODE_HOLDS_VALUE(node)) {
      GType type = json_node_get_value_type(node);
      if (type == G_TYPE_INT64) {
        return static_cast<double>(json_node_get_int(node));
      }
      if (type == G_TYPE_DOUBLE) {
        return json_node_get_double(node);
      }
    }
    problem(path_member(path, name),
            std::string("'") + name + "' must be a number, not " + json::type_name(node));
    return std::nullopt;
  }

  std::optional<bool> boolean(JsonObject *object, const std::string &path, const char *name) {
    JsonNode *node = member(object, name);
    if (!node) {
      return std::nullopt;
    }
    if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_BOOLEAN) {
      return json_node_get_boolean(node);
    }
    problem(path_member(path, name),
            std::string("'") + name + "' must be true or false, not " + json::type_name(node));
    return std::nullopt;
  }

  std::vector<ParamDecl> params(JsonObject *graph, const std::string &graph_path) {
    std::vector<ParamDecl> out;
    JsonObject *object = this->object(graph, graph_path, "params");
    if (!object) {
      return out;
    }
    std::string path = path_member(graph_path, "params");
    GList *members = json_object_get_members(object);
    for (GList *l = members; l; l = l->next) {
      std::string name = static_cast<const char *>(l->data);
      std::string param_path = path_member(path, name);
      if (auto decl = param(name, json_object_get_member(object, name.c_str()), param_path)) {
        out.push_back(std::move(*decl));
      }
    }
    g_list_free(members);
    return out;
  }

  std::optional<ParamDecl> param(const std::string &name, JsonNode *node, const std::string &path) {
    if (!is_identifier(name)) {
      problem(path, "param name '" + name +
                        "' is not an identifier (letters, digits, '_' and '-', not first)");
    }
    if (!JSON_NODE_HOLDS_OBJECT(node)) {
      problem(path, "param '" + name + "' must be an object, not " + json::type_name(node));
      return std::nullopt;
    }
    JsonObject *object = json_node_get_object(node);
    check_members(object, path, ObjectKind::kParam, "a param");
    ParamDecl decl;
    decl.name = name;
    decl.origin = at(path);
    bool ok = true;
    auto type = string(object, path, "type", true);
    if (!type) {
      ok = false;
    } else if (*type == "string") {
      decl.type = ParamType::kString;
    } else if (*type == "int") {
      decl.type = ParamType::kInt;
    } else if (*type == "double") {
      decl.type = ParamType::kDouble;
    } else if (*type == "bool") {
      decl.type = ParamType::kBool;
    } else if (*type == "enum") {
      decl.type = ParamType::kEnum;
    } else {
      problem(path_member(path, "type"),
              "unknown param type '" + *type + "'" +
                  closest_hint(*type, {"string", "int", "double", "bool", "enum"}) +
                  "; one of 'string', 'int', 'double', 'bool', 'enum'");
      ok = false;
    }
    auto doc = string(object, path, "doc", true);
    if (doc) {
      decl.doc = *doc;
      if (decl.doc.find('\n') != std::string::npos) {
        problem(path_member(path, "doc"), "a param's doc is one line");
      }
    }
    decl.required = boolean(object, path, "required").value_or(false);
    decl.min = number(object, path, "min");
    decl.max = number(object, path, "max");
    if ((decl.min || decl.max) && ok && decl.type != ParamType::kInt &&
        decl.type != ParamType::kDouble) {
      problem(path, "min and max apply to int and double params only");
    }
    if (decl.min && decl.max && *decl.min > *decl.max) {
      problem(path_member(path, "min"), "min is greater than max");
    }
    if (JsonArray *values = array(object, path, "values")) {
      std::string values_path = path_member(path, "values");
      for (guint i = 0; i < json_array_get_length(values); ++i) {
        auto value = scalar_from_json(json_array_get_element(values, i));
        if (!value || std::holds_alternative<bool>(*value)) {
          problem(path_index(values_path, i), "allowed values are strings or numbers");
          continue;
        }
        decl.values.push_back(to_text(*value));
      }
    }
    if (ok && decl.type == ParamType::kEnum && decl.values.empty()) {
      problem(path, "an enum param needs a non-empty 'values' list");
      ok = false;
    }
    if (ok && decl.type == ParamType::kBool && !decl.values.empty()) {
      problem(path_member(path, "values"), "a bool param takes no 'values'");
    }
    if (JsonNode *node = member(object, "default")) {
      auto value = scalar_from_json(node);
      std::string why;
      if (!value) {
        problem(path_member(path, "default"),
                std::string("a default must be a string, number or boolean, not ") +
                    json::type_name(node));
      } else if (ok) {
        if (auto typed = coerce_param(decl, *value, &why)) {
          decl.default_value = std::move(typed);
        } else {
          problem(path_member(path, "default"), "default " + why);
        }
      }
      if (decl.required) {
        problem(path_member(path, "required"), "a required param cannot have a default");
      }
    }
    if (JsonNode *node = member(object, "example")) {
      auto value = scalar_from_json(node);
      std::string why;
      if (!value) {
        problem(path_member(path, "example"), "an example must be a string, number or boolean");
      } else if (ok && !coerce_param(decl, *value, &why)) {
        problem(path_member(path, "example"), "example " + why);
      } else {
        decl.example = to_text(*value);
      }
    }
    if (!ok) {
      return std::nullopt;
    }
    return decl;
  }

  std::vector<ElementDecl> elements(JsonObject *graph, const std::string &graph_path,
                                    bool required) {
    std::vector<ElementDecl> out;
    JsonArray *array = this->array(graph, graph_path, "elements");
    if (!array) {
      if (required && !member(graph, "elements")) {
        problem(graph_path, "missing required member 'elements'");
      }
      return out;
    }
    std::string path = path_member(graph_path, "elements");
    if (required && json_array_get_length(array) == 0) {
      problem(path, "'elements' is empty");
    }
    for (guint i = 0; i < json_array_get_length(array); ++i) {
      std::string element_path = path_index(path, i);
      JsonNode *node = json_array_get_element(array, i);
      if (!JSON_NODE_HOLDS_OBJECT(node)) {
        problem(element_path,
                std::string("an element must be an object, not ") + json::type_name(node));
        continue;
      }
      JsonObject *object = json_node_get_object(node);
      check_members(object, element_path, ObjectKind::kElement, "an element");
      ElementDecl decl;
      decl.origin = at(element_path);
      auto id = string(object, element_path, "id", true);
      auto factory = string(object, element_path, "factory", false);
      auto template_name = string(object, element_path, "template", false);
      if (!id) {
        continue;
      }
      decl.id = *id;
      if (!is_identifier(decl.id)) {
        problem(
            path_member(element_path, "id"),
            "id '" + decl.id + "' is not an identifier (letters, digits, '_' and '-', not first)");
        continue;
      }
      if (factory && template_name) {
        problem(element_path, "an element has a 'factory' or a 'template', not both");
        continue;
      }
      if (!factory && !template_name) {
        if (!member(object, "factory") && !member(object, "template")) {
          problem(element_path, "missing required member 'factory' (or 'template')");
        }
        continue;
      }
      const char *values_member = factory ? "properties" : "params";
      const char *wrong_member = factory ? "params" : "properties";
      if (member(object, wrong_member)) {
        problem(path_member(element_path, wrong_member),
                factory ? "'params' belong to template instances; an element has 'properties'"
                        : "a template instance takes 'params', not 'properties'");
      }
      decl.factory = factory.value_or("");
      decl.template_name = template_name.value_or("");
      decl.values_path = path_member(element_path, values_member);
      if (JsonObject *values = this->object(object, element_path, values_member)) {
        GList *members = json_object_get_members(values);
        for (GList *l = members; l; l = l->next) {
          const char *name = static_cast<const char *>(l->data);
          JsonNode *value = json_object_get_member(values, name);
          if (!scalar_from_json(value)) {
            problem(path_member(decl.values_path, name),
                    std::string("a value must be a string, number or boolean, not ") +
                        json::type_name(value));
            continue;
          }
          decl.values.emplace_back(name, value);
        }
        g_list_free(members);
      }
      out.push_back(std::move(decl));
    }
    return out;
  }

  // "id" or "id.pad" with a well-formed id.
  bool endpoint_shape(const std::string &text, const std::string &path, bool allow_nested) {
    std::string id = text.substr(0, text.find('.'));
    bool ok = !id.empty();
    size_t start = 0;
    while (ok && start <= id.size()) {
      size_t slash = id.find('/', start);
      if (slash != std::string::npos && !allow_nested) {
        ok = false;
        break;
      }
      std::string part =
          id.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
      ok = is_identifier(part);
      if (slash == std::string::npos) {
        break;
      }
      start = slash + 1;
    }
    if (ok && text.find('.') != std::string::npos && text.size() == id.size() + 1) {
      ok = false;  // "id." with no pad
    }
    if (!ok) {
      problem(path, "'" + text + "' is not an element reference ('id' or 'id.pad')");
    }
    return ok;
  }

  std::vector<LinkDecl> links(JsonObject *graph, const std::string &graph_path) {
    std::vector<LinkDecl> out;
    JsonArray *array = this->array(graph, graph_path, "links");
    if (!array) {
      return out;
    }
    std::string path = path_member(graph_path, "links");
    for (guint i = 0; i < json_array_get_length(array); ++i) {
      std::string link_path = path_index(path, i);
      JsonNode *node = json_array_get_element(array, i);
      if (!JSON_NODE_HOLDS_OBJECT(node)) {
        problem(link_path, std::string("a link must be an object, not ") + json::type_name(node));
        continue;
      }
      JsonObject *object = json_node_get_object(node);
      check_members(object, link_path, ObjectKind::kLink, "a link");
      auto from = string(object, link_path, "from", true);
      auto to = string(object, link_path, "to", true);
      auto caps = string(object, link_path, "caps", false);
      auto media = string(object, link_path, "media", false);
      string(object, link_path, "doc", false);
      if (!from || !to || !endpoint_shape(*from, path_member(link_path, "from"), false) ||
          !endpoint_shape(*to, path_member(link_path, "to"), false)) {
        continue;
      }
      if (media && media->empty()) {
        problem(path_member(link_path, "media"), "'media' is empty");
        continue;
      }
      out.push_back(LinkDecl{*from, *to, caps, media, at(link_path)});
    }
    return out;
  }

  std::vector<EndpointDecl> endpoints(JsonObject *graph, const std::string &graph_path,
                                      const char *name) {
    std::vector<EndpointDecl> out;
    JsonObject *object = this->object(graph, graph_path, name);
    if (!object) {
      return out;
    }
    std::string path = path_member(graph_path, name);
    GList *members = json_object_get_members(object);
    for (GList *l = members; l; l = l->next) {
      std::string end = static_cast<const char *>(l->data);
      std::string end_path = path_member(path, end);
      if (!is_identifier(end)) {
        problem(end_path, "'" + end + "' is not an identifier");
        continue;
      }
      auto target = string(object, path, end.c_str(), true);
      if (target && endpoint_shape(*target, end_path, false)) {
        out.push_back(EndpointDecl{end, *target, at(end_path)});
      }
    }
    g_list_free(members);
    return out;
  }

  std::vector<SlotDecl> slots(JsonObject *root) {
    std::vector<SlotDecl> out;
    JsonObject *object = this->object(root, "$", "slots");
    if (!object) {
      return out;
    }
    std::string path = path_member(kRootPath, "slots");
    GList *members = json_object_get_members(object);
    for (GList *l = members; l; l = l->next) {
      std::string name = static_cast<const char *>(l->data);
      std::string slot_path = path_member(path, name);
      JsonNode *node = json_object_get_member(object, name.c_str());
      if (!is_identifier(name)) {
        problem(slot_path, "slot name '" + name + "' is not an identifier");
        continue;
      }
      if (!JSON_NODE_HOLDS_OBJECT(node)) {
        problem(slot_path, std::string("a slot must be an object, not ") + json::type_name(node));
        continue;
      }
      JsonObject *slot = json_node_get_object(node);
      check_members(slot, slot_path, ObjectKind::kSlot, "a slot");
      SlotDecl decl;
      decl.name = name;
      decl.origin = at(slot_path);
      auto element = string(slot, slot_path, "element", true);
      auto kind = string(slot, slot_path, "kind", false);
      decl.doc = string(slot, slot_path, "doc", false).value_or("");
      decl.caps = string(slot, slot_path, "caps", false).value_or("");
      if (!element || !endpoint_shape(*element, path_member(slot_path, "element"), true)) {
        continue;
      }
      if (element->find('.') != std::string::npos) {
        problem(path_member(slot_path, "element"), "a slot names an element, not a pad");
        continue;
      }
      decl.element = *element;
      if (kind) {
        if (*kind == "fan-out") {
          decl.kind = SlotKind::kFanOut;
        } else if (*kind == "fan-in") {
          decl.kind = SlotKind::kFanIn;
        } else {
          problem(path_member(slot_path, "kind"),
                  "unknown slot kind '" + *kind + "'; 'fan-out' (a tee) or 'fan-in' (a funnel)");
          continue;
        }
      }
      out.push_back(std::move(decl));
    }
    g_list_free(members);
    return out;
  }

  void graph(JsonObject *object, const std::string &path, GraphDecl &out, bool elements_required) {
    out.origin = at(path);
    out.params = params(object, path);
    out.elements = elements(object, path, elements_required);
    out.links = links(object, path);
    out.inputs = endpoints(object, path, "inputs");
    out.outputs = endpoints(object, path, "outputs");
    std::set<std::string> seen;
    for (const auto &decl : out.params) {
      if (!seen.insert(decl.name).second) {
        problem(decl.origin.path, "duplicate param '" + decl.name + "'");
      }
    }
  }

  std::vector<TemplateDecl> templates(JsonObject *root) {
    std::vector<TemplateDecl> out;
    JsonObject *object = this->object(root, "$", "templates");
    if (!object) {
      return out;
    }
    std::string path = path_member(kRootPath, "templates");
    GList *members = json_object_get_members(object);
    for (GList *l = members; l; l = l->next) {
      std::string name = static_cast<const char *>(l->data);
      std::string template_path = path_member(path, name);
      JsonNode *node = json_object_get_member(object, name.c_str());
      if (!is_identifier(name)) {
        problem(template_path, "template name '" + name + "' is not an identifier");
        continue;
      }
      if (!JSON_NODE_HOLDS_OBJECT(node)) {
        problem(template_path,
                std::string("a template must be an object, not ") + json::type_name(node));
        continue;
      }
      JsonObject *decl_object = json_node_get_object(node);
      check_members(decl_object, template_path, ObjectKind::kTemplate, "a template");
      TemplateDecl decl;
      decl.name = name;
      decl.summary = string(decl_object, template_path, "summary", true).value_or("");
      string(decl_object, template_path, "doc", false);
      graph(decl_object, template_path, decl, true);
      if (decl.inputs.empty() && decl.outputs.empty()) {
        problem(template_path, "a template needs 'inputs' or 'outputs' to be linked to");
      }
      out.push_back(std::move(decl));
    }
    g_list_free(members);
    return out;
  }

 private:
  DocumentPtr doc_;
  Problems &problems_;
};

}  // namespace

DocumentPtr parse_document(std::string_view text, std::string file, Problems &problems) {
  if (text.size() > kMaxDescriptionBytes) {
    problems.add_in_file(
        file, "description is larger than " + std::to_string(kMaxDescriptionBytes) + " bytes");
    return nullptr;
  }
  if (nesting_depth(text) > kMaxNesting) {
    problems.add_in_file(
        file, "objects and arrays nest deeper than " + std::to_string(kMaxNesting) + " levels");
    return nullptr;
  }
  json::ParseError error;
  json::NodePtr root = json::parse(text, &error);
  if (!root) {
    Problem problem;
    problem.file = std::move(file);
    problem.line = error.line;
    problem.column = error.column;
    problem.message = "invalid JSON: " + error.message;
    problems.add(std::move(problem));
    return nullptr;
  }
  auto doc = std::make_shared<Document>();
  doc->file = std::move(file);
  doc->root = std::move(root);
  doc->positions = PositionMap::scan(text);
  return doc;
}

DocumentPtr read_document(const std::filesystem::path &file, Problems &problems) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    problems.add_in_file(file.string(), "cannot read file: " + std::string(g_strerror(errno)));
    return nullptr;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_document(text.str(), file.string(), problems);
}

DescriptionDecl parse_description(const DocumentPtr &doc, Problems &problems) {
  DescriptionDecl out;
  out.doc = doc;
  Reader reader(doc, problems);
  JsonNode *root = doc->root.get();
  if (!JSON_NODE_HOLDS_OBJECT(root)) {
    reader.problem(
        "$", std::string("a description must be a JSON object, not ") + json::type_name(root));
    return out;
  }
  JsonObject *object = json_node_get_object(root);
  reader.check_members(object, "$", ObjectKind::kDescription, "a description");
  for (const auto &duplicate : doc->positions.duplicate_keys()) {
    reader.problem(duplicate, "member appears twice in one object");
  }
  out.name = reader.string(object, "$", "name", true).value_or("");
  out.summary = reader.string(object, "$", "summary", true).value_or("");
  reader.string(object, "$", "doc", false);
  reader.string(object, "$", "$schema", false);
  if (!out.name.empty() && !is_identifier(out.name)) {
    reader.problem("$.name", "name '" + out.name + "' is not an identifier");
  }
  if (JsonArray *includes = reader.array(object, "$", "include")) {
    for (guint i = 0; i < json_array_get_length(includes); ++i) {
      std::string path = path_index("$.include", i);
      JsonNode *node = json_array_get_element(includes, i);
      if (!JSON_NODE_HOLDS_VALUE(node) || json_node_get_value_type(node) != G_TYPE_STRING) {
        reader.problem(
            path, std::string("an include is a file name (string), not ") + json::type_name(node));
        continue;
      }
      out.includes.push_back(IncludeDecl{json_node_get_string(node), reader.at(path)});
    }
  }
  out.templates = reader.templates(object);
  // A file that only provides templates needs no elements.
  bool library = out.templates.size() > 0 && !json_object_has_member(object, "elements");
  reader.graph(object, "$", out, !library);
  out.slots = reader.slots(object);
  return out;
}

}  // namespace livepipe::pipelines
