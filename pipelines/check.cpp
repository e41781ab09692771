#include "check.h"

#include "suggest.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

namespace livepipe::pipelines {

bool pad_name_matches(const char *pattern, const char *name) {
  if (!std::strcmp(pattern, name)) {
    return true;
  }
  while (*pattern && *name) {
    if (pattern[0] == '%' && (pattern[1] == 'u' || pattern[1] == 'd')) {
      const char *start = name;
      if (pattern[1] == 'd' && *name == '-') {
        ++name;
      }
      while (g_ascii_isdigit(*name)) {
        ++name;
      }
      if (name == start || (name - start == 1 && *start == '-')) {
        return false;
      }
      pattern += 2;
    } else if (pattern[0] == '%' && pattern[1] == 's') {
      for (const char *rest = name + 1;; ++rest) {
        if (pad_name_matches(pattern + 2, rest)) {
          return true;
        }
        if (!*rest) {
          return false;
        }
      }
    } else if (*pattern == *name) {
      ++pattern;
      ++name;
    } else {
      return false;
    }
  }
  return !*pattern && !*name;
}

namespace {

const char *direction_name(GstPadDirection direction) {
  return direction == GST_PAD_SRC ? "src" : "sink";
}

const char *presence_name(GstPadPresence presence) {
  switch (presence) {
    case GST_PAD_ALWAYS:
      return "always";
    case GST_PAD_SOMETIMES:
      return "sometimes";
    case GST_PAD_REQUEST:
      return "request";
  }
  return "?";
}

// A short account of caps for messages: their media types.
std::string media_types(GstCaps *caps) {
  if (!caps || gst_caps_is_any(caps)) {
    return "anything";
  }
  if (gst_caps_is_empty(caps)) {
    return "nothing";
  }
  std::vector<std::string> names;
  for (guint i = 0; i < gst_caps_get_size(caps); ++i) {
    std::string name = gst_structure_get_name(gst_caps_get_structure(caps, i));
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
  std::string out;
  for (size_t i = 0; i < names.size() && i < 4; ++i) {
    out += (i ? ", " : "") + names[i];
  }
  if (names.size() > 4) {
    out += ", ... (" + std::to_string(names.size()) + " types)";
  }
  return out;
}

struct ElementInfo {
  GstElementClass *klass = nullptr;  // a reference, dropped by Checker
  std::string factory;
};

class Checker {
 public:
  Checker(CheckedPlan &out, Problems &problems) : out_(out), problems_(problems) {}
  ~Checker() {
    for (auto &info : infos_) {
      if (info.klass) {
        g_type_class_unref(info.klass);
      }
    }
  }

  void run() {
    const Plan &plan = *out_.plan;
    for (const auto &element : plan.elements) {
      element_checks(element);
    }
    for (const auto &link : plan.links) {
      link_checks(link);
    }
    for (const auto &end : plan.inputs) {
      end_checks(end, GST_PAD_SINK, out_.inputs);
    }
    for (const auto &end : plan.outputs) {
      end_checks(end, GST_PAD_SRC, out_.outputs);
    }
    pad_use_checks();
    cycle_checks();
    unused_checks();
    for (const auto &slot : plan.slots) {
      slot_checks(slot);
    }
  }

 private:
  Origin member(const Origin &origin, const char *name) {
    return Origin{origin.doc, path_member(origin.path, name)};
  }

  void element_checks(const PlannedElement &element) {
    CheckedElement checked;
    checked.plan = &element;
    ElementInfo info;
    info.factory = element.factory;
    index_.emplace(element.id, out_.elements.size());
    if (!element.factory.empty()) {
      GstPtr<GstElementFactory> factory(gst_element_factory_find(element.factory.c_str()));
      if (!factory) {
        problems_.add(member(element.origin, "factory"),
                      "unknown factory '" + element.factory + "'" +
                          closest_hint(element.factory, factory_names()));
      } else {
        checked.factory.reset(
            GST_ELEMENT_FACTORY(gst_plugin_feature_load(GST_PLUGIN_FEATURE(factory.get()))));
        GType type = checked.factory ? gst_element_factory_get_element_type(checked.factory.get())
                                     : G_TYPE_INVALID;
        if (type == G_TYPE_INVALID) {
          problems_.add(member(element.origin, "factory"),
                        "factory '" + element.factory + "' could not be loaded");
          checked.factory.reset();
        } else {
          info.klass = GST_ELEMENT_CLASS(g_type_class_ref(type));
          property_checks(element, G_OBJECT_CLASS(info.klass), checked);
        }
      }
    }
    infos_.push_back(info);
    out_.elements.push_back(std::move(checked));
  }

  void property_checks(const PlannedElement &element, GObjectClass *klass,
                       CheckedElement &checked) {
    for (const auto &property : element.properties) {
      if (property.name == "name") {
        problems_.add(property.origin, "the element's name is its id; do not set 'name'");
        continue;
      }
      GParamSpec *pspec = g_object_class_find_property(klass, property.name.c_str());
      if (!pspec) {
        guint count = 0;
        GParamSpec **all = g_object_class_list_properties(klass, &count);
        std::vector<std::string> names;
        for (guint i = 0; i < count; ++i) {
          if (all[i]->flags & G_PARAM_WRITABLE) {
            names.push_back(all[i]->name);
          }
        }
        g_free(all);
        problems_.add(property.origin, "unknown property '" + property.name + "' of " +
                                           element.factory + closest_hint(property.name, names));
        continue;
      }
      if (!(pspec->flags & G_PARAM_WRITABLE)) {
        problems_.add(property.origin,
                      "property '" + property.name + "' of " + element.factory + " is read-only");
        continue;
      }
      GValue value = G_VALUE_INIT;
      std::string why;
      if (!to_gvalue(property.value, pspec, &value, &why)) {
        problems_.add(property.origin, element.factory + "." + property.name + " (" +
                                           describe_pspec(pspec) + "): " + why);
        continue;
      }
      checked.properties.add(pspec->name, &value);
    }
  }

  // The element's pad templates in `direction` whose names match `pad` (all
  // of them when `pad` is empty).
  std::vector<GstPadTemplate *> templates(size_t element, GstPadDirection direction,
                                          const std::string &pad) {
    std::vector<GstPadTemplate *> out;
    if (!infos_[element].klass) {
      return out;
    }
    for (GList *l = gst_element_class_get_pad_template_list(infos_[element].klass); l;
         l = l->next) {
      auto *templ = GST_PAD_TEMPLATE(l->data);
      if (GST_PAD_TEMPLATE_DIRECTION(templ) != direction) {
        continue;
      }
      if (pad.empty() || pad_name_matches(GST_PAD_TEMPLATE_NAME_TEMPLATE(templ), pad.c_str())) {
        out.push_back(templ);
      }
    }
    return out;
  }

  // The name of the element's only pad template in `direction` when it is
  // an always or request one, so the builder need not search; else "".
  std::string sole_template(size_t element, GstPadDirection direction) {
    auto all = templates(element, direction, "");
    if (all.size() != 1 || GST_PAD_TEMPLATE_PRESENCE(all.front()) == GST_PAD_SOMETIMES) {
      return "";
    }
    return GST_PAD_TEMPLATE_NAME_TEMPLATE(all.front());
  }

  static MiniPtr<GstCaps> merged_caps(const std::vector<GstPadTemplate *> &templates) {
    MiniPtr<GstCaps> out(gst_caps_new_empty());
    for (GstPadTemplate *templ : templates) {
      out.reset(gst_caps_merge(out.release(), gst_pad_template_get_caps(templ)));
    }
    return out;
  }

  std::string template_list(size_t element, GstPadDirection direction) {
    std::string out;
    for (GstPadTemplate *templ : templates(element, direction, "")) {
      out += (out.empty() ? "" : ", ") + std::string(GST_PAD_TEMPLATE_NAME_TEMPLATE(templ)) + " (" +
             presence_name(GST_PAD_TEMPLATE_PRESENCE(templ)) + ")";
    }
    return out.empty() ? "none" : out;
  }

  // Templates for one end of a link; reports a pad name the element lacks.
  std::optional<std::vector<GstPadTemplate *>> side(const Endpoint &end, size_t element,
                                                    GstPadDirection direction,
                                                    const Origin &origin) {
    auto found = templates(element, direction, end.pad);
    if (found.empty()) {
      const std::string &factory = infos_[element].factory;
      if (end.pad.empty()) {
        problems_.add(origin, "'" + end.element + "' (" + factory + ") has no " +
                                  direction_name(direction) + " pads");
      } else {
        GstPadDirection other = direction == GST_PAD_SRC ? GST_PAD_SINK : GST_PAD_SRC;
        bool wrong_way = !templates(element, other, end.pad).empty();
        problems_.add(origin, "'" + end.element + "' (" + factory + ") has no " +
                                  direction_name(direction) + " pad '" + end.pad + "'" +
                                  (wrong_way ? std::string(" ('") + end.pad + "' is a " +
                                                   direction_name(other) + " pad)"
                                             : std::string()) +
                                  "; its " + direction_name(direction) +
                                  " pads: " + template_list(element, direction));
      }
      return std::nullopt;
    }
    return found;
  }

  void link_checks(const PlannedLink &link) {
    CheckedLink checked;
    checked.plan = &link;
    auto from = index_.find(link.from.element);
    auto to = index_.find(link.to.element);
    if (from == index_.end() || to == index_.end()) {
      return;  // the expansion reported it
    }
    checked.from = from->second;
    checked.to = to->second;
    edges_.emplace_back(checked.from, checked.to, &link);
    bool ok = true;
    if (link.caps) {
      checked.caps.reset(gst_caps_from_string(link.caps->c_str()));
      if (!checked.caps) {
        problems_.add(member(link.origin, "caps"), "'" + *link.caps + "' is not valid caps");
        ok = false;
      }
    }
    if (!infos_[checked.from].klass || !infos_[checked.to].klass) {
      return;  // unknown factory, already reported
    }
    auto sources = side(link.from, checked.from, GST_PAD_SRC, member(link.origin, "from"));
    auto sinks = side(link.to, checked.to, GST_PAD_SINK, member(link.origin, "to"));
    if (!sources || !sinks || !ok) {
      return;
    }
    bool has_static = false;
    for (GstPadTemplate *templ : *sources) {
      has_static |= GST_PAD_TEMPLATE_PRESENCE(templ) != GST_PAD_SOMETIMES;
    }
    checked.mode = has_static ? LinkMode::kStatic : LinkMode::kDynamic;
    if (link.media && checked.mode == LinkMode::kStatic) {
      problems_.add(member(link.origin, "media"),
                    "'media' chooses among pads that appear while running, but '" +
                        link.from.to_string() + "' is there from the start; use 'caps'");
      return;
    }
    // Some source template, through the filter, must meet some sink
    // template. Template caps are compared in place (no copies): this runs
    // for every link of every load.
    bool offers = false;
    bool meets = false;
    for (GstPadTemplate *source : *sources) {
      GstCaps *source_caps = GST_PAD_TEMPLATE_CAPS(source);
      MiniPtr<GstCaps> filtered(checked.caps ? gst_caps_intersect(source_caps, checked.caps.get())
                                             : nullptr);
      GstCaps *offered = filtered ? filtered.get() : source_caps;
      if (gst_caps_is_empty(offered)) {
        continue;
      }
      offers = true;
      for (GstPadTemplate *sink : *sinks) {
        meets = meets || gst_caps_can_intersect(offered, GST_PAD_TEMPLATE_CAPS(sink));
      }
    }
    if (!offers || !meets) {
      MiniPtr<GstCaps> source_caps = merged_caps(*sources);
      MiniPtr<GstCaps> sink_caps = merged_caps(*sinks);
      if (!offers) {
        problems_.add(member(link.origin, "caps"),
                      "pads cannot link: '" + link.from.to_string() + "' (" +
                          infos_[checked.from].factory + ") produces " +
                          media_types(source_caps.get()) + ", which the caps filter '" +
                          *link.caps + "' does not allow");
      } else {
        MiniPtr<GstCaps> offered(checked.caps
                                     ? gst_caps_intersect(source_caps.get(), checked.caps.get())
                                     : gst_caps_ref(source_caps.get()));
        problems_.add(link.origin, "pads cannot link: '" + link.from.to_string() + "' (" +
                                       infos_[checked.from].factory + ") produces " +
                                       media_types(offered.get()) + " but '" + link.to.to_string() +
                                       "' (" + infos_[checked.to].factory + ") accepts " +
                                       media_types(sink_caps.get()));
      }
      return;
    }
    checked.from_pad =
        link.from.pad.empty() ? sole_template(checked.from, GST_PAD_SRC) : link.from.pad;
    checked.to_pad = link.to.pad.empty() ? sole_template(checked.to, GST_PAD_SINK) : link.to.pad;
    out_.links.push_back(std::move(checked));
  }

  void end_checks(const PlannedEnd &end, GstPadDirection direction, std::vector<CheckedEnd> &out) {
    auto found = index_.find(end.target.element);
    if (found == index_.end() || !infos_[found->second].klass) {
      return;
    }
    auto sides = side(end.target, found->second, direction, end.origin);
    if (!sides) {
      return;
    }
    bool usable = std::any_of(sides->begin(), sides->end(), [](GstPadTemplate *templ) {
      return GST_PAD_TEMPLATE_PRESENCE(templ) != GST_PAD_SOMETIMES;
    });
    if (!usable) {
      problems_.add(end.origin, "'" + end.target.to_string() +
                                    "' is a pad that appears while running; an input or "
                                    "output must be there from the start");
      return;
    }
    uses_.push_back(Use{found->second, direction, end.target.pad, end.origin});
    out.push_back(CheckedEnd{&end, found->second});
  }

  // An element whose pads on one side are all "always" pads has only so many
  // to link; two links cannot share one.
  void pad_use_checks() {
    for (const auto &link : out_.links) {
      uses_.push_back(Use{link.from, GST_PAD_SRC, link.plan->from.pad, link.plan->origin});
      uses_.push_back(Use{link.to, GST_PAD_SINK, link.plan->to.pad, link.plan->origin});
    }
    std::map<std::pair<size_t, GstPadDirection>, std::vector<const Use *>> by_side;
    for (const auto &use : uses_) {
      by_side[{use.element, use.direction}].push_back(&use);
    }
    for (const auto &[key, uses] : by_side) {
      auto [element, direction] = key;
      auto all = templates(element, direction, "");
      bool fixed = std::all_of(all.begin(), all.end(), [](GstPadTemplate *templ) {
        return GST_PAD_TEMPLATE_PRESENCE(templ) == GST_PAD_ALWAYS;
      });
      if (!fixed) {
        continue;
      }
      std::map<std::string, const Use *> named;
      size_t count = 0;
      for (const Use *use : uses) {
        ++count;
        std::string pad = use->pad;
        if (pad.empty() && all.size() == 1) {
          pad = GST_PAD_TEMPLATE_NAME_TEMPLATE(all.front());
        }
        if (!pad.empty()) {
          auto [it, inserted] = named.emplace(pad, use);
          if (!inserted) {
            problems_.add(use->origin,
                          "pads cannot link: " + std::string(direction_name(direction)) + " pad '" +
                              pad + "' of '" + out_.elements[element].plan->id +
                              "' is already linked at " + it->second->origin.path);
            continue;
          }
        }
        if (count > all.size()) {
          problems_.add(use->origin, "pads cannot link: '" + out_.elements[element].plan->id +
                                         "' has " + std::to_string(all.size()) + " " +
                                         direction_name(direction) + " pad(s), all already linked");
        }
      }
    }
  }

  void cycle_checks() {
    size_t n = out_.elements.size();
    std::vector<std::vector<std::pair<size_t, const PlannedLink *>>> next(n);
    for (const auto &[from, to, link] : edges_) {
      next[from].emplace_back(to, link);
    }
    enum Color { kWhite, kGrey, kBlack };
    std::vector<Color> color(n, kWhite);
    std::vector<size_t> path;
    // Iterative depth-first search; a grey target closes a cycle.
    for (size_t start = 0; start < n; ++start) {
      if (color[start] != kWhite) {
        continue;
      }
      std::vector<std::pair<size_t, size_t>> stack{{start, 0}};
      color[start] = kGrey;
      path.assign(1, start);
      while (!stack.empty()) {
        auto &[node, edge] = stack.back();
        if (edge == next[node].size()) {
          color[node] = kBlack;
          stack.pop_back();
          path.pop_back();
          continue;
        }
        auto [target, link] = next[node][edge++];
        if (color[target] == kGrey) {
          std::string chain;
          auto first = std::find(path.begin(), path.end(), target);
          for (auto it = first; it != path.end(); ++it) {
            chain += out_.elements[*it].plan->id + " -> ";
          }
          chain += out_.elements[target].plan->id;
          problems_.add(link->origin, "links form a cycle: " + chain);
        } else if (color[target] == kWhite) {
          color[target] = kGrey;
          path.push_back(target);
          stack.emplace_back(target, 0);
        }
      }
    }
  }

  void unused_checks() {
    if (out_.elements.size() < 2) {
      return;
    }
    std::vector<bool> used(out_.elements.size(), false);
    for (const auto &[from, to, link] : edges_) {
      used[from] = used[to] = true;
    }
    for (const auto &use : uses_) {
      used[use.element] = true;
    }
    for (const auto &id : out_.plan->mentioned) {
      if (auto found = index_.find(id); found != index_.end()) {
        used[found->second] = true;
      }
    }
    for (const auto &slot : out_.plan->slots) {
      if (auto found = index_.find(slot.element); found != index_.end()) {
        used[found->second] = true;
      }
    }
    for (size_t i = 0; i < out_.elements.size(); ++i) {
      if (!used[i]) {
        const auto *element = out_.elements[i].plan;
        problems_.add(element->origin, "unused element '" + element->id +
                                           "': no link, slot, input or output refers to it");
      }
    }
  }

  void slot_checks(const SlotDecl &slot) {
    auto found = index_.find(slot.element);
    if (found == index_.end() || !infos_[found->second].klass) {
      return;
    }
    auto has_request = [&](GstPadDirection direction) {
      auto all = templates(found->second, direction, "");
      return std::any_of(all.begin(), all.end(), [](GstPadTemplate *templ) {
        return GST_PAD_TEMPLATE_PRESENCE(templ) == GST_PAD_REQUEST;
      });
    };
    bool fan_out = has_request(GST_PAD_SRC);
    bool fan_in = has_request(GST_PAD_SINK);
    std::optional<SlotKind> kind = slot.kind;
    if (!kind) {
      kind = fan_out  ? std::optional(SlotKind::kFanOut)
             : fan_in ? std::optional(SlotKind::kFanIn)
                      : std::nullopt;
    }
    const std::string &factory = infos_[found->second].factory;
    if (!kind) {
      problems_.add(member(slot.origin, "element"),
                    "slot '" + slot.name + "': '" + slot.element + "' (" + factory +
                        ") has no request pads; a slot is an element such as tee (fan-out) or "
                        "funnel (fan-in)");
      return;
    }
    if ((*kind == SlotKind::kFanOut && !fan_out) || (*kind == SlotKind::kFanIn && !fan_in)) {
      problems_.add(member(slot.origin, "kind"),
                    "slot '" + slot.name + "': '" + slot.element + "' (" + factory +
                        ") has no request " + (*kind == SlotKind::kFanOut ? "src" : "sink") +
                        " pads, so it cannot be a " + slot_kind_name(*kind) + " slot");
      return;
    }
    out_.slots.push_back(CheckedSlot{&slot, found->second, *kind});
  }

  const std::vector<std::string> &factory_names() {
    if (factory_names_.empty()) {
      factory_names_ = element_factory_names();
    }
    return factory_names_;
  }

  struct Use {
    size_t element;
    GstPadDirection direction;
    std::string pad;
    Origin origin;
  };

  CheckedPlan &out_;
  Problems &problems_;
  std::vector<ElementInfo> infos_;  // parallel to out_.elements
  std::map<std::string, size_t> index_;
  std::vector<std::tuple<size_t, size_t, const PlannedLink *>> edges_;
  std::vector<Use> uses_;
  std::vector<std::string> factory_names_;
};

}  // namespace

std::vector<std::string> element_factory_names() {
  std::vector<std::string> names;
  GList *features = gst_registry_get_feature_list(gst_registry_get(), GST_TYPE_ELEMENT_FACTORY);
  for (GList *l = features; l; l = l->next) {
    names.push_back(gst_plugin_feature_get_name(GST_PLUGIN_FEATURE(l->data)));
  }
  gst_plugin_feature_list_free(features);
  std::sort(names.begin(), names.end());
  return names;
}

CheckedPlan check(std::unique_ptr<Plan> plan, Problems &problems) {
  CheckedPlan out;
  out.plan = std::move(plan);
  Checker checker(out, problems);
  checker.run();
  return out;
}

}  // namespace livepipe::pipelines
