// The parsed form of description files (docs/pipeline-format.md): what a file
// declares, checked for shape but not yet expanded, substituted or checked
// against GStreamer's registry.
#pragma once

#include "json_text.h"
#include "positions.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace livepipe::pipelines {

// One JSON file as read.
struct Document {
  std::string file;  // as named to the loader, for messages
  std::string text;
  std::unique_ptr<JsonValue> root;
  bool duplicate_members = false;  // some object has a member twice
  // Where each path is in `text`, scanned the first time a problem needs it.
  const PositionMap &positions() const;

 private:
  mutable std::once_flag scanned_;
  mutable PositionMap positions_;
};
using DocumentPtr = std::shared_ptr<const Document>;

// Where something was declared.
struct Origin {
  DocumentPtr doc;
  std::string path;  // JSON path inside doc
};

// One thing wrong with a description.
struct Problem {
  std::string file;  // the file, or "" when the problem is not in one
  std::string path;  // JSON path, or ""
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;
  std::string message;
  // "file:line:column: $.path: message", with the parts that are known.
  std::string to_string() const;
};

class Problems {
 public:
  void add(const Origin &origin, std::string message);
  void add_in_file(std::string file, std::string message);
  void add(Problem problem) { list_.push_back(std::move(problem)); }
  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  const std::vector<Problem> &list() const { return list_; }
  std::vector<Problem> take() { return std::move(list_); }

 private:
  std::vector<Problem> list_;
};

// A typed value: what a param holds and what a property value is after
// substitution.
using Scalar = std::variant<std::string, int64_t, double, bool>;
std::string to_text(const Scalar &value);     // canonical text: 42, 0.5, true, abc
std::string to_display(const Scalar &value);  // for messages: strings quoted
std::optional<Scalar> scalar_from_json(
    const JsonValue *value);  // nullopt for null, objects, arrays

enum class ParamType { kString, kInt, kDouble, kBool, kEnum };
const char *param_type_name(ParamType type);

struct ParamDecl {
  std::string name;
  ParamType type = ParamType::kString;
  std::optional<Scalar> default_value;  // already of `type`
  bool required = false;
  std::optional<double> min, max;   // int and double
  std::vector<std::string> values;  // allowed values, as text (enum: required)
  std::string doc;                  // one line
  std::optional<std::string> example;
  Origin origin;
};

struct ElementDecl {
  std::string id;
  std::string factory;        // a GStreamer factory (may hold ${param}), or
  std::string template_name;  // a template to instantiate
  std::vector<std::pair<std::string, const JsonValue *>> values;  // properties / template params
  std::string values_path;                                        // JSON path of that object
  Origin origin;
};

struct LinkDecl {
  std::string from;  // id or id.pad
  std::string to;
  std::optional<std::string> caps;   // caps filter (may hold ${param})
  std::optional<std::string> media;  // dynamic pads: choose by media type of caps
  Origin origin;
};

// A named end of a template or of a branch description: "id" or "id.pad".
struct EndpointDecl {
  std::string name;
  std::string target;
  Origin origin;
};

enum class SlotKind { kFanOut, kFanIn };
const char *slot_kind_name(SlotKind kind);

struct SlotDecl {
  std::string name;
  std::string element;           // id (template members as "instance/id")
  std::optional<SlotKind> kind;  // inferred from the element when absent
  std::string doc;
  std::string caps;  // what flows through, as documentation for integrators
  Origin origin;
};

// What descriptions and templates share: params, elements, links, ends.
struct GraphDecl {
  std::string name;
  std::string summary;
  std::vector<ParamDecl> params;
  std::vector<ElementDecl> elements;
  std::vector<LinkDecl> links;
  std::vector<EndpointDecl> inputs;
  std::vector<EndpointDecl> outputs;
  Origin origin;
  const ParamDecl *param(std::string_view name) const;
};

struct TemplateDecl : GraphDecl {};

struct IncludeDecl {
  std::string file;
  Origin origin;
};

struct DescriptionDecl : GraphDecl {
  std::vector<IncludeDecl> includes;
  std::vector<TemplateDecl> templates;
  std::vector<SlotDecl> slots;
  DocumentPtr doc;
};

// Descriptions larger than this are refused before parsing.
inline constexpr size_t kMaxDescriptionBytes = 1 << 20;
// Objects and arrays nested deeper than this are refused.
inline constexpr int kMaxNesting = 32;

// Parses text as a description document. On malformed JSON adds a problem
// with the line and column where the text goes wrong and returns nullptr.
DocumentPtr parse_document(std::string_view text, std::string file, Problems &problems);
// Reads and parses a file.
DocumentPtr read_document(const std::filesystem::path &file, Problems &problems);

// Checks the shape of every member and collects all problems; returns what
// could be understood even when there are problems.
DescriptionDecl parse_description(const DocumentPtr &doc, Problems &problems);

// The members each kind of object accepts (the JSON Schema lists the same).
enum class ObjectKind { kDescription, kParam, kElement, kLink, kSlot, kTemplate };
const std::vector<std::string> &known_members(ObjectKind kind);

// Identifiers: element ids, param, template, slot and endpoint names.
bool is_identifier(std::string_view name);

}  // namespace livepipe::pipelines
