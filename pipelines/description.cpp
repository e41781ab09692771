#include "description.h"

#include "json_text.h"
#include "params.h"
#include "suggest.h"
#include "util/gstptr.h"

#include <glib.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace livepipe::pipelines {

const PositionMap &Document::positions() const {
  std::call_once(scanned_, [this] { positions_ = PositionMap::scan(text); });
  return positions_;
}

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
    Position at = origin.doc->positions().find(origin.path);
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

std::optional<Scalar> scalar_from_json(const JsonValue *value) {
  if (!value) {
    return std::nullopt;
  }
  switch (value->kind()) {
    case JsonValue::Kind::kString:
      return Scalar(value->string());
    case JsonValue::Kind::kInt:
      return Scalar(value->integer());
    case JsonValue::Kind::kDouble:
      return Scalar(value->number());
    case JsonValue::Kind::kBool:
      return Scalar(value->boolean());
    default:
      return std::nullopt;
  }
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

// Reads one object's members with type checks, reporting each problem once.
class Reader {
 public:
  Reader(const DocumentPtr &doc, Problems &problems) : doc_(doc), problems_(problems) {}

  Origin at(const std::string &path) const { return Origin{doc_, path}; }
  void problem(const std::string &path, std::string message) {
    problems_.add(at(path), std::move(message));
  }

  // Reports members `object` has that `kind` does not accept.
  void check_members(const JsonValue *object, const std::string &path, ObjectKind kind,
                     const char *what) {
    const auto &known = known_members(kind);
    for (const auto &[name, value] : object->members()) {
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        problem(path_member(path, name),
                "unknown member '" + name + "' in " + what + closest_hint(name, known));
      }
    }
  }

  // Calls `each(name, object, path)` for each member of `parent`'s member
  // `member` that is an object with an identifier for a name (checking its
  // members against `kind`); reports the members that are not.
  template <typename Each>
  void named_objects(const JsonValue *parent, const std::string &parent_path, const char *member,
                     ObjectKind kind, const std::string &what, Each each) {
    const JsonValue *object = this->object(parent, parent_path, member);
    if (!object) {
      return;
    }
    std::string path = path_member(parent_path, member);
    for (const auto &[name, value] : object->members()) {
      std::string item_path = path_member(path, name);
      if (!is_identifier(name)) {
        problem(item_path, what + " name '" + name +
                               "' is not an identifier (letters, digits, '_' and '-', not first)");
        continue;
      }
      if (!value.is(JsonValue::Kind::kObject)) {
        problem(item_path, "a " + what + " must be an object, not " + value.type_name());
        continue;
      }
      check_members(&value, item_path, kind, ("a " + what).c_str());
      each(name, &value, item_path);
    }
  }

  const JsonValue *member(const JsonValue *object, const char *name) {
    return object ? object->find(name) : nullptr;
  }

  // A string member; `required` reports its absence at the object's path.
  std::optional<std::string> string(const JsonValue *object, const std::string &path,
                                    const char *name, bool required) {
    const JsonValue *node = member(object, name);
    if (!node) {
      if (required) {
        problem(path, std::string("missing required member '") + name + "'");
      }
      return std::nullopt;
    }
    if (!node->is(JsonValue::Kind::kString)) {
      problem(path_member(path, name),
              std::string("'") + name + "' must be a string, not " + node->type_name());
      return std::nullopt;
    }
    return node->string();
  }

  const JsonValue *object(const JsonValue *parent, const std::string &path, const char *name) {
    const JsonValue *node = member(parent, name);
    if (!node) {
      return nullptr;
    }
    if (!node->is(JsonValue::Kind::kObject)) {
      problem(path_member(path, name),
              std::string("'") + name + "' must be an object, not " + node->type_name());
      return nullptr;
    }
    return node;
  }

  const JsonValue *array(const JsonValue *parent, const std::string &path, const char *name) {
    const JsonValue *node = member(parent, name);
    if (!node) {
      return nullptr;
    }
    if (!node->is(JsonValue::Kind::kArray)) {
      problem(path_member(path, name),
              std::string("'") + name + "' must be an array, not " + node->type_name());
      return nullptr;
    }
    return node;
  }

  std::optional<double> number(const JsonValue *object, const std::string &path, const char *name) {
    const JsonValue *node = member(object, name);
    if (!node) {
      return std::nullopt;
    }
    if (node->is(JsonValue::Kind::kInt) || node->is(JsonValue::Kind::kDouble)) {
      if (!std::isfinite(node->number())) {
        problem(path_member(path, name), std::string("'") + name + "' is out of range");
        return std::nullopt;
      }
      return node->number();
    }
    problem(path_member(path, name),
            std::string("'") + name + "' must be a number, not " + node->type_name());
    return std::nullopt;
  }

  std::optional<bool> boolean(const JsonValue *object, const std::string &path, const char *name) {
    const JsonValue *node = member(object, name);
    if (!node) {
      return std::nullopt;
    }
    if (node->is(JsonValue::Kind::kBool)) {
      return node->boolean();
    }
    problem(path_member(path, name),
            std::string("'") + name + "' must be true or false, not " + node->type_name());
    return std::nullopt;
  }

  std::vector<ParamDecl> params(const JsonValue *graph, const std::string &graph_path) {
    std::vector<ParamDecl> out;
    named_objects(graph, graph_path, "params", ObjectKind::kParam, "param",
                  [&](const std::string &name, const JsonValue *object, const std::string &path) {
                    if (auto decl = param(name, object, path)) {
                      out.push_back(std::move(*decl));
                    }
                  });
    return out;
  }

  std::optional<ParamDecl> param(const std::string &name, const JsonValue *object,
                                 const std::string &path) {
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
    // 2^63: the first double outside int64_t.
    constexpr double kInt64Limit = 9223372036854775808.0;
    for (auto [bound, name] : {std::pair{decl.min, "min"}, std::pair{decl.max, "max"}}) {
      if (bound && decl.type == ParamType::kInt &&
          (*bound < -kInt64Limit || *bound >= kInt64Limit)) {
        problem(path_member(path, name),
                std::string(name) + " of an int param must be a 64-bit integer");
      }
    }
    if (const JsonValue *values = array(object, path, "values")) {
      std::string values_path = path_member(path, "values");
      for (size_t i = 0; i < values->items().size(); ++i) {
        auto value = scalar_from_json(&values->items()[i]);
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
    if (const JsonValue *node = member(object, "default")) {
      auto value = scalar_from_json(node);
      std::string why;
      if (!value) {
        problem(
            path_member(path, "default"),
            std::string("a default must be a string, number or boolean, not ") + node->type_name());
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
    if (const JsonValue *node = member(object, "example")) {
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

  std::vector<ElementDecl> elements(const JsonValue *graph, const std::string &graph_path,
                                    bool required) {
    std::vector<ElementDecl> out;
    const JsonValue *array = this->array(graph, graph_path, "elements");
    if (!array) {
      if (required && !member(graph, "elements")) {
        problem(graph_path, "missing required member 'elements'");
      }
      return out;
    }
    std::string path = path_member(graph_path, "elements");
    if (required && array->items().empty()) {
      problem(path, "'elements' is empty");
    }
    for (size_t i = 0; i < array->items().size(); ++i) {
      std::string element_path = path_index(path, i);
      const JsonValue *node = &array->items()[i];
      if (!node->is(JsonValue::Kind::kObject)) {
        problem(element_path,
                std::string("an element must be an object, not ") + node->type_name());
        continue;
      }
      const JsonValue *object = node;
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
      if (const JsonValue *values = this->object(object, element_path, values_member)) {
        for (const auto &[name, member] : values->members()) {
          const JsonValue *value = &member;
          if (!scalar_from_json(value)) {
            problem(path_member(decl.values_path, name),
                    std::string("a value must be a string, number or boolean, not ") +
                        value->type_name());
            continue;
          }
          decl.values.emplace_back(name, value);
        }
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

  std::vector<LinkDecl> links(const JsonValue *graph, const std::string &graph_path) {
    std::vector<LinkDecl> out;
    const JsonValue *array = this->array(graph, graph_path, "links");
    if (!array) {
      return out;
    }
    std::string path = path_member(graph_path, "links");
    for (size_t i = 0; i < array->items().size(); ++i) {
      std::string link_path = path_index(path, i);
      const JsonValue *node = &array->items()[i];
      if (!node->is(JsonValue::Kind::kObject)) {
        problem(link_path, std::string("a link must be an object, not ") + node->type_name());
        continue;
      }
      const JsonValue *object = node;
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

  std::vector<EndpointDecl> endpoints(const JsonValue *graph, const std::string &graph_path,
                                      const char *name) {
    std::vector<EndpointDecl> out;
    const JsonValue *object = this->object(graph, graph_path, name);
    if (!object) {
      return out;
    }
    std::string path = path_member(graph_path, name);
    for (const auto &[end, value] : object->members()) {
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
    return out;
  }

  std::vector<SlotDecl> slots(const JsonValue *root) {
    std::vector<SlotDecl> out;
    named_objects(
        root, "$", "slots", ObjectKind::kSlot, "slot",
        [&](const std::string &name, const JsonValue *slot, const std::string &slot_path) {
          SlotDecl decl;
          decl.name = name;
          decl.origin = at(slot_path);
          auto element = string(slot, slot_path, "element", true);
          auto kind = string(slot, slot_path, "kind", false);
          decl.doc = string(slot, slot_path, "doc", false).value_or("");
          decl.caps = string(slot, slot_path, "caps", false).value_or("");
          if (!element || !endpoint_shape(*element, path_member(slot_path, "element"), true)) {
            return;
          }
          if (element->find('.') != std::string::npos) {
            problem(path_member(slot_path, "element"), "a slot names an element, not a pad");
            return;
          }
          decl.element = *element;
          if (kind) {
            if (*kind == "fan-out") {
              decl.kind = SlotKind::kFanOut;
            } else if (*kind == "fan-in") {
              decl.kind = SlotKind::kFanIn;
            } else {
              problem(
                  path_member(slot_path, "kind"),
                  "unknown slot kind '" + *kind + "'; 'fan-out' (a tee) or 'fan-in' (a funnel)");
              return;
            }
          }
          out.push_back(std::move(decl));
        });
    return out;
  }

  void graph(const JsonValue *object, const std::string &path, GraphDecl &out,
             bool elements_required) {
    out.origin = at(path);
    out.params = params(object, path);
    out.elements = elements(object, path, elements_required);
    out.links = links(object, path);
    out.inputs = endpoints(object, path, "inputs");
    out.outputs = endpoints(object, path, "outputs");
  }

  std::vector<TemplateDecl> templates(const JsonValue *root) {
    std::vector<TemplateDecl> out;
    named_objects(root, "$", "templates", ObjectKind::kTemplate, "template",
                  [&](const std::string &name, const JsonValue *decl_object,
                      const std::string &template_path) {
                    TemplateDecl decl;
                    decl.name = name;
                    decl.summary = string(decl_object, template_path, "summary", true).value_or("");
                    string(decl_object, template_path, "doc", false);
                    graph(decl_object, template_path, decl, true);
                    if (decl.inputs.empty() && decl.outputs.empty()) {
                      problem(template_path,
                              "a template needs 'inputs' or 'outputs' to be linked to");
                    }
                    out.push_back(std::move(decl));
                  });
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
  JsonTextError error;
  JsonText json = parse_json(text, kMaxNesting, &error);
  if (!json.root) {
    Problem problem;
    problem.file = std::move(file);
    problem.line = error.at.line;
    problem.column = error.at.column;
    problem.message = "invalid JSON: " + error.message;
    problems.add(std::move(problem));
    return nullptr;
  }
  auto doc = std::make_shared<Document>();
  doc->file = std::move(file);
  doc->text = std::string(text);
  doc->root = std::move(json.root);
  doc->duplicate_members = json.duplicate_members;
  return doc;
}

DocumentPtr read_document(const std::filesystem::path &file, Problems &problems) {
  FILE *in = std::fopen(file.c_str(), "rb");
  if (!in) {
    problems.add_in_file(file.string(), "cannot read file: " + std::string(g_strerror(errno)));
    return nullptr;
  }
  // One byte more than allowed is enough to know the file is too large, and
  // keeps endless files (/dev/zero, /proc) from being read to the end.
  std::string text;
  char buffer[16384];
  size_t size;
  while (text.size() <= kMaxDescriptionBytes &&
         (size = std::fread(buffer, 1, sizeof buffer, in)) > 0) {
    text.append(buffer, size);
  }
  bool failed = std::ferror(in);
  std::fclose(in);
  if (failed) {
    problems.add_in_file(file.string(), "cannot read file");
    return nullptr;
  }
  return parse_document(text, file.string(), problems);
}

DescriptionDecl parse_description(const DocumentPtr &doc, Problems &problems) {
  DescriptionDecl out;
  out.doc = doc;
  Reader reader(doc, problems);
  const JsonValue *root = doc->root.get();
  if (!root->is(JsonValue::Kind::kObject)) {
    reader.problem("$",
                   std::string("a description must be a JSON object, not ") + root->type_name());
    return out;
  }
  const JsonValue *object = root;
  reader.check_members(object, "$", ObjectKind::kDescription, "a description");
  if (doc->duplicate_members) {
    for (const auto &duplicate : doc->positions().duplicate_keys()) {
      reader.problem(duplicate, "member appears twice in one object");
    }
  }
  out.name = reader.string(object, "$", "name", true).value_or("");
  out.summary = reader.string(object, "$", "summary", true).value_or("");
  reader.string(object, "$", "doc", false);
  reader.string(object, "$", "$schema", false);
  if (!out.name.empty() && !is_identifier(out.name)) {
    reader.problem("$.name", "name '" + out.name + "' is not an identifier");
  }
  if (const JsonValue *includes = reader.array(object, "$", "include")) {
    for (size_t i = 0; i < includes->items().size(); ++i) {
      std::string path = path_index("$.include", i);
      const JsonValue *node = &includes->items()[i];
      if (!node->is(JsonValue::Kind::kString)) {
        reader.problem(path,
                       std::string("an include is a file name (string), not ") + node->type_name());
        continue;
      }
      out.includes.push_back(IncludeDecl{node->string(), reader.at(path)});
    }
  }
  out.templates = reader.templates(object);
  // A file that only provides templates needs no elements.
  bool library = out.templates.size() > 0 && !object->find("elements");
  reader.graph(object, "$", out, !library);
  out.slots = reader.slots(object);
  return out;
}

}  // namespace livepipe::pipelines
