#include "expand.h"

#include "suggest.h"

#include <algorithm>
#include <functional>
#include <system_error>

namespace livepipe::pipelines {
namespace {

namespace fs = std::filesystem;

// Template instances nest at most this deep.
constexpr int kMaxTemplateDepth = 8;

fs::path canonical_or_same(const fs::path &path) {
  std::error_code ec;
  fs::path out = fs::weakly_canonical(path, ec);
  return ec ? path : out;
}

class LibraryLoader {
 public:
  LibraryLoader(const std::vector<fs::path> &dirs, Library &library, Problems &problems)
      : dirs_(dirs), library_(library), problems_(problems) {}

  void add(const DescriptionDecl &description) {
    fs::path self = canonical_or_same(description.doc->file);
    stack_.push_back(self);
    loaded_.push_back(self);
    add_templates(description);
    for (const auto &include : description.includes) {
      follow(include, fs::path(description.doc->file).parent_path());
    }
    stack_.pop_back();
  }

 private:
  void add_templates(const DescriptionDecl &description) {
    for (const auto &decl : description.templates) {
      auto [it, inserted] = library_.templates.emplace(decl.name, decl);
      if (!inserted) {
        problems_.add(decl.origin, "template '" + decl.name + "' is also defined in " +
                                       it->second.origin.doc->file);
      }
    }
  }

  void follow(const IncludeDecl &include, const fs::path &base) {
    std::vector<fs::path> candidates;
    fs::path name(include.file);
    if (name.is_absolute()) {
      candidates.push_back(name);
    } else {
      candidates.push_back(base / name);
      for (const auto &dir : dirs_) {
        candidates.push_back(dir / name);
      }
    }
    std::error_code ec;
    auto found = std::find_if(candidates.begin(), candidates.end(),
                              [&](const fs::path &p) { return fs::is_regular_file(p, ec); });
    if (found == candidates.end()) {
      std::string looked;
      for (const auto &candidate : candidates) {
        looked += (looked.empty() ? "" : ", ") + candidate.parent_path().string();
      }
      problems_.add(include.origin,
                    "cannot find include '" + include.file + "' (looked in " + looked + ")");
      return;
    }
    fs::path canonical = canonical_or_same(*found);
    if (std::find(stack_.begin(), stack_.end(), canonical) != stack_.end()) {
      std::string chain;
      for (const auto &file : stack_) {
        chain += file.filename().string() + " -> ";
      }
      problems_.add(include.origin, "include cycle: " + chain + canonical.filename().string());
      return;
    }
    if (std::find(loaded_.begin(), loaded_.end(), canonical) != loaded_.end()) {
      return;  // included twice through different files: once is enough
    }
    DocumentPtr doc = read_document(*found, problems_);
    if (!doc) {
      return;
    }
    DescriptionDecl included = parse_description(doc, problems_);
    add(included);
  }

  const std::vector<fs::path> &dirs_;
  Library &library_;
  Problems &problems_;
  std::vector<fs::path> stack_;
  std::vector<fs::path> loaded_;
};

// The resolved ends of an expanded graph (a template instance's inputs and
// outputs, or a branch description's).
struct Ends {
  std::vector<PlannedEnd> inputs;
  std::vector<PlannedEnd> outputs;
};

// What an id in one graph stands for.
struct LocalId {
  std::string qualified;     // an element's qualified id, or
  std::optional<Ends> ends;  // a template instance's ends
  Origin origin;
};

class Expander {
 public:
  Expander(const Library &library, Plan &plan, Problems &problems)
      : library_(library), plan_(plan), problems_(problems) {}

  Ends graph(const GraphDecl &graph, const std::string &prefix, const Scope &scope) {
    std::map<std::string, LocalId> ids;
    for (const auto &decl : graph.elements) {
      auto seen = ids.find(decl.id);
      if (seen != ids.end()) {
        problems_.add(Origin{decl.origin.doc, path_member(decl.origin.path, "id")},
                      "duplicate id '" + decl.id + "' (also at " + seen->second.origin.path + ")");
        continue;
      }
      LocalId local;
      local.origin = decl.origin;
      if (!decl.factory.empty()) {
        local.qualified = prefix + decl.id;
        element(decl, local.qualified, scope);
      } else {
        local.ends = instance(decl, prefix + decl.id, scope);
      }
      ids.emplace(decl.id, std::move(local));
    }
    for (const auto &decl : graph.links) {
      PlannedLink link;
      link.origin = decl.origin;
      auto from = endpoint(decl.from, true, ids,
                           Origin{decl.origin.doc, path_member(decl.origin.path, "from")});
      auto to = endpoint(decl.to, false, ids,
                         Origin{decl.origin.doc, path_member(decl.origin.path, "to")});
      for (const auto &end : {from, to}) {
        if (end) {
          plan_.mentioned.insert(end->element);
        }
      }
      bool ok = from && to;
      if (decl.caps) {
        auto caps = scope.substitute_text(
            *decl.caps, Origin{decl.origin.doc, path_member(decl.origin.path, "caps")}, problems_);
        ok = ok && caps;
        link.caps = caps;
      }
      if (decl.media) {
        auto media = scope.substitute_text(
            *decl.media, Origin{decl.origin.doc, path_member(decl.origin.path, "media")},
            problems_);
        ok = ok && media;
        link.media = media;
      }
      if (ok) {
        link.from = *from;
        link.to = *to;
        plan_.links.push_back(std::move(link));
      }
    }
    Ends ends;
    for (const auto &end : graph.inputs) {
      if (auto target = endpoint(end.target, false, ids, end.origin)) {
        ends.inputs.push_back(PlannedEnd{end.name, *target, end.origin});
      }
    }
    for (const auto &end : graph.outputs) {
      if (auto target = endpoint(end.target, true, ids, end.origin)) {
        ends.outputs.push_back(PlannedEnd{end.name, *target, end.origin});
      }
    }
    return ends;
  }

 private:
  void element(const ElementDecl &decl, const std::string &qualified, const Scope &scope) {
    PlannedElement element;
    element.id = qualified;
    element.origin = decl.origin;
    auto factory = scope.substitute_text(
        decl.factory, Origin{decl.origin.doc, path_member(decl.origin.path, "factory")}, problems_);
    element.factory = factory.value_or("");
    for (const auto &[name, node] : decl.values) {
      Origin origin{decl.origin.doc, path_member(decl.values_path, name)};
      Substituted value = scope.substitute(*scalar_from_json(node), origin, problems_);
      if (value.value) {
        element.properties.push_back(PlannedProperty{name, *value.value, origin});
      }
    }
    if (factory) {
      plan_.elements.push_back(std::move(element));
    }
  }

  std::optional<Ends> instance(const ElementDecl &decl, const std::string &qualified,
                               const Scope &scope) {
    Origin at{decl.origin.doc, path_member(decl.origin.path, "template")};
    // A param may choose the template (one block per codec, say).
    auto substituted = scope.substitute_text(decl.template_name, at, problems_);
    if (!substituted) {
      return std::nullopt;
    }
    const std::string template_name = *substituted;
    auto found = library_.templates.find(template_name);
    if (found == library_.templates.end()) {
      std::vector<std::string> names;
      for (const auto &[name, t] : library_.templates) {
        names.push_back(name);
      }
      problems_.add(at, "unknown template '" + template_name + "'" +
                            closest_hint(template_name, names) +
                            (names.empty() ? "; include the file that defines it" : ""));
      return std::nullopt;
    }
    const TemplateDecl &decl_template = found->second;
    if (std::find(stack_.begin(), stack_.end(), template_name) != stack_.end()) {
      problems_.add(at, "template '" + template_name + "' instantiates itself");
      return std::nullopt;
    }
    if (static_cast<int>(stack_.size()) >= kMaxTemplateDepth) {
      problems_.add(at, "templates nest deeper than " + std::to_string(kMaxTemplateDepth));
      return std::nullopt;
    }
    std::vector<GivenParam> given;
    bool ok = true;
    for (const auto &[name, node] : decl.values) {
      Origin origin{decl.origin.doc, path_member(decl.values_path, name)};
      Substituted value = scope.substitute(*scalar_from_json(node), origin, problems_);
      if (value.value) {
        given.push_back(GivenParam{name, *value.value, origin});
      }
      ok = ok && (value.value || value.unset);
    }
    Scope inner = Scope::resolve(decl_template, given, decl.origin, false, problems_);
    stack_.push_back(template_name);
    Ends ends = graph(decl_template, qualified + "/", inner);
    stack_.pop_back();
    if (!ok) {
      return std::nullopt;
    }
    return ends;
  }

  // Resolves "id" or "id.pad" in one graph; template instances resolve to
  // their inner ends.
  std::optional<Endpoint> endpoint(const std::string &text, bool source,
                                   const std::map<std::string, LocalId> &ids,
                                   const Origin &origin) {
    size_t dot = text.find('.');
    std::string id = text.substr(0, dot);
    std::string pad = dot == std::string::npos ? "" : text.substr(dot + 1);
    auto found = ids.find(id);
    if (found == ids.end()) {
      std::vector<std::string> names;
      for (const auto &[name, local] : ids) {
        names.push_back(name);
      }
      problems_.add(origin, "link to missing id '" + id + "'" + closest_hint(id, names));
      return std::nullopt;
    }
    const LocalId &local = found->second;
    if (!local.ends) {
      if (!local.qualified.empty()) {
        return Endpoint{local.qualified, pad};
      }
      return std::nullopt;  // its own problem was reported
    }
    const auto &ends = source ? local.ends->outputs : local.ends->inputs;
    const char *kind = source ? "output" : "input";
    const char *usual = source ? "src" : "sink";
    std::vector<std::string> names;
    for (const auto &end : ends) {
      names.push_back(end.name);
    }
    auto named = [&](const std::string &wanted) {
      return std::find_if(ends.begin(), ends.end(),
                          [&](const PlannedEnd &end) { return end.name == wanted; });
    };
    if (pad.empty()) {
      if (ends.size() == 1) {
        return ends.front().target;
      }
      if (auto it = named(usual); it != ends.end()) {
        return it->target;
      }
      problems_.add(
          origin, "template instance '" + id + "' has " +
                      (ends.empty() ? std::string("no ") + kind + "s"
                                    : std::string("several ") + kind + "s (" + quoted_list(names) +
                                          "): name one as '" + id + ".NAME'"));
      return std::nullopt;
    }
    if (auto it = named(pad); it != ends.end()) {
      return it->target;
    }
    problems_.add(
        origin,
        "template instance '" + id + "' has no " + kind + " '" + pad + "'" +
            closest_hint(pad, names) +
            (names.empty() ? "" : "; its " + std::string(kind) + "s: " + quoted_list(names)));
    return std::nullopt;
  }

  const Library &library_;
  Plan &plan_;
  Problems &problems_;
  std::vector<std::string> stack_;
};

}  // namespace

const PlannedElement *Plan::element(std::string_view id) const {
  for (const auto &element : elements) {
    if (element.id == id) {
      return &element;
    }
  }
  return nullptr;
}

Library load_library(const DescriptionDecl &description,
                     const std::vector<std::filesystem::path> &include_dirs, Problems &problems) {
  Library library;
  LibraryLoader loader(include_dirs, library, problems);
  loader.add(description);
  return library;
}

Plan expand(const DescriptionDecl &description, const Scope &scope, const Library &library,
            Problems &problems) {
  Plan plan;
  plan.name = description.name;
  plan.summary = description.summary;
  Expander expander(library, plan, problems);
  Ends ends = expander.graph(description, "", scope);
  plan.inputs = std::move(ends.inputs);
  plan.outputs = std::move(ends.outputs);
  std::vector<std::string> ids;
  for (const auto &element : plan.elements) {
    ids.push_back(element.id);
  }
  for (const auto &slot : description.slots) {
    if (!plan.element(slot.element)) {
      problems.add(Origin{slot.origin.doc, path_member(slot.origin.path, "element")},
                   "slot '" + slot.name + "' names missing id '" + slot.element + "'" +
                       closest_hint(slot.element, ids));
      continue;
    }
    plan.slots.push_back(slot);
  }
  return plan;
}

}  // namespace livepipe::pipelines
