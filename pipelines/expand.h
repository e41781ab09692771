// Expansion: includes are read, template instances are flattened into their
// elements (ids "instance/inner"), params are substituted. The result is a
// plan of plain elements and links, not yet checked against the registry.
#pragma once

#include "description.h"
#include "params.h"

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace livepipe::pipelines {

// One end of a link: an element id and, optionally, a pad or pad template
// name ("" lets GStreamer choose).
struct Endpoint {
  std::string element;
  std::string pad;
  std::string to_string() const { return pad.empty() ? element : element + "." + pad; }
};

struct PlannedProperty {
  std::string name;
  Scalar value;
  Origin origin;
};

struct PlannedElement {
  std::string id;  // qualified: "enc/x264" for element "x264" of instance "enc"
  std::string factory;
  std::vector<PlannedProperty> properties;
  Origin origin;
};

struct PlannedLink {
  Endpoint from;
  Endpoint to;
  std::optional<std::string> caps;
  std::optional<std::string> media;
  Origin origin;
};

struct PlannedEnd {
  std::string name;
  Endpoint target;
  Origin origin;
};

struct Plan {
  std::string name;
  std::string summary;
  std::vector<PlannedElement> elements;
  std::vector<PlannedLink> links;
  std::vector<SlotDecl> slots;
  std::vector<PlannedEnd> inputs;  // a branch description's ghost pads
  std::vector<PlannedEnd> outputs;
  // Element ids that links refer to, including links with a problem at their
  // other end (so a typo in one end does not make the other look unused).
  std::set<std::string> mentioned;
  const PlannedElement *element(std::string_view id) const;
};

// The templates a description can use: its own and those of the files it
// includes, transitively.
struct Library {
  std::map<std::string, TemplateDecl> templates;
};

// Reads `description`'s includes (relative to its file, then `include_dirs`)
// and gathers their templates; include cycles and clashing names are problems.
Library load_library(const DescriptionDecl &description,
                     const std::vector<std::filesystem::path> &include_dirs, Problems &problems);

// Expands `description` with `scope` (its resolved params).
Plan expand(const DescriptionDecl &description, const Scope &scope, const Library &library,
            Problems &problems);

}  // namespace livepipe::pipelines
