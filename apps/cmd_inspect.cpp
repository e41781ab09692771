// `livepipe inspect`: livepipe's elements, the presets and their params.
#include "commands.h"

#include "catalog.h"
#include "check.h"
#include "cli.h"
#include "suggest.h"
#include "util/gstptr.h"
#include "values.h"

#include <gst/gst.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace livepipe::apps {
namespace {

namespace pl = pipelines;

void print_usage(FILE *out) {
  std::fprintf(out,
               "Usage: livepipe inspect [PRESET|ELEMENT]\n"
               "\n"
               "Without an argument lists livepipe's elements and the presets with their\n"
               "params. With one shows a preset (its params, slots and an example command)\n"
               "or an element (its pads and properties).\n");
}

std::string param_line(const pl::ParamDecl &param) {
  std::string detail = param.required        ? "required"
                       : param.default_value ? "default " + pl::to_text(*param.default_value)
                                             : "optional";
  if (param.min || param.max) {
    auto bound = [&](const std::optional<double> &v) {
      return v ? pl::to_text(param.type == pl::ParamType::kInt
                                 ? pl::Scalar(static_cast<int64_t>(*v))
                                 : pl::Scalar(*v))
               : std::string();
    };
    detail += ", " + bound(param.min) + ".." + bound(param.max);
  }
  if (!param.values.empty()) {
    std::string values;
    for (const auto &value : param.values) {
      values += (values.empty() ? "" : "|") + value;
    }
    detail += ", " + values;
  }
  char text[512];
  std::snprintf(text, sizeof text, "  %-18s %-7s %s\n  %-18s %-7s %s\n", param.name.c_str(),
                pl::param_type_name(param.type), param.doc.c_str(), "", "", detail.c_str());
  return text;
}

std::vector<std::string> plugin_elements() {
  std::vector<std::string> names;
  GList *features = gst_registry_get_feature_list_by_plugin(gst_registry_get(), "livepipe");
  for (GList *l = features; l; l = l->next) {
    if (GST_IS_ELEMENT_FACTORY(l->data)) {
      names.push_back(gst_plugin_feature_get_name(GST_PLUGIN_FEATURE(l->data)));
    }
  }
  gst_plugin_feature_list_free(features);
  return names;
}

int list_everything() {
  std::printf("Elements (plugin 'livepipe'):\n");
  auto elements = plugin_elements();
  if (elements.empty()) {
    std::printf("  (the livepipe plugin was not found)\n");
  }
  for (const auto &name : elements) {
    GstPtr<GstElementFactory> factory(gst_element_factory_find(name.c_str()));
    std::printf("  %-18s %s\n", name.c_str(),
                gst_element_factory_get_metadata(factory.get(), GST_ELEMENT_METADATA_LONGNAME));
  }
  std::filesystem::path dir = presets_dir();
  std::printf("\nPresets (%s):\n", dir.c_str());
  for (const auto &preset : pl::list_presets(dir)) {
    pl::Problems problems;
    auto decl = pl::read_declarations(preset.file, problems);
    std::printf("  %-26s %s\n", preset.name.c_str(),
                decl ? decl->summary.c_str() : "(cannot be read: livepipe validate says why)");
    if (!decl) {
      continue;
    }
    for (const auto &param : decl->params) {
      std::printf("      -p %s=%s%s\n", param.name.c_str(), pl::param_type_name(param.type),
                  param.required ? " (required)" : "");
    }
  }
  std::printf("\n'livepipe inspect PRESET' shows one with an example command.\n");
  return kExitOk;
}

int show_preset(const std::string &name, const std::filesystem::path &file) {
  pl::Problems problems;
  auto decl = pl::read_declarations(file, problems);
  if (!decl || !problems.empty()) {
    print_problems(problems.list());
    return kExitInvalid;
  }
  std::printf("%s: %s\nFile: %s\n", decl->name.c_str(), decl->summary.c_str(), file.c_str());
  std::printf("\nParams:\n");
  if (decl->params.empty()) {
    std::printf("  (none)\n");
  }
  for (const auto &param : decl->params) {
    std::printf("%s", param_line(param).c_str());
  }
  if (!decl->slots.empty()) {
    std::printf("\nSlots (where the server attaches branches while it runs):\n");
    for (const auto &slot : decl->slots) {
      std::printf("  %-18s %-8s element '%s'%s%s\n", slot.name.c_str(),
                  slot.kind ? pl::slot_kind_name(*slot.kind) : "", slot.element.c_str(),
                  slot.doc.empty() ? "" : ": ", slot.doc.c_str());
      if (!slot.caps.empty()) {
        std::printf("  %-18s caps %s\n", "", slot.caps.c_str());
      }
    }
  }
  if (!decl->inputs.empty() || !decl->outputs.empty()) {
    std::printf("\nA branch: attach it to a slot of a running pipeline.\n");
    for (const auto &end : decl->inputs) {
      std::printf("  input  %-11s -> %s\n", end.name.c_str(), end.target.c_str());
    }
    for (const auto &end : decl->outputs) {
      std::printf("  output %-11s <- %s\n", end.name.c_str(), end.target.c_str());
    }
    std::printf("\nCheck it with:\n  livepipe validate %s\n", name.c_str());
  } else {
    std::printf("\nExample:\n  %s\n", pl::example_command(name, *decl).c_str());
  }
  return kExitOk;
}

int show_element(GstElementFactory *factory) {
  auto meta = [&](const char *key) {
    const char *value = gst_element_factory_get_metadata(factory, key);
    return value ? value : "";
  };
  std::printf("%s: %s\n  %s\n  klass %s\n", gst_plugin_feature_get_name(factory),
              meta(GST_ELEMENT_METADATA_LONGNAME), meta(GST_ELEMENT_METADATA_DESCRIPTION),
              meta(GST_ELEMENT_METADATA_KLASS));
  GstPtr<GstElement> element = sink(gst_element_factory_create(factory, nullptr));
  if (!element) {
    return kExitRuntime;
  }
  std::printf("\nPads:\n");
  for (GList *l = gst_element_class_get_pad_template_list(GST_ELEMENT_GET_CLASS(element.get())); l;
       l = l->next) {
    auto *templ = GST_PAD_TEMPLATE(l->data);
    MiniPtr<GstCaps> caps(gst_pad_template_get_caps(templ));
    GCharPtr text(gst_caps_to_string(caps.get()));
    std::printf("  %-5s %-10s %s\n",
                GST_PAD_TEMPLATE_DIRECTION(templ) == GST_PAD_SRC ? "src" : "sink",
                GST_PAD_TEMPLATE_NAME_TEMPLATE(templ), text.get());
  }
  std::printf("\nProperties:\n");
  guint count = 0;
  GParamSpec **specs = g_object_class_list_properties(G_OBJECT_GET_CLASS(element.get()), &count);
  for (guint i = 0; i < count; ++i) {
    GParamSpec *spec = specs[i];
    if (spec->owner_type == GST_TYPE_OBJECT || spec->owner_type == G_TYPE_OBJECT) {
      continue;
    }
    GValue value = G_VALUE_INIT;
    g_value_init(&value, spec->value_type);
    g_param_value_set_default(spec, &value);
    GCharPtr text(gst_value_serialize(&value));
    g_value_unset(&value);
    std::printf("  %-18s %s, default %s%s\n  %-18s %s\n", spec->name,
                pl::describe_pspec(spec).c_str(), text ? text.get() : "-",
                spec->flags & G_PARAM_WRITABLE ? "" : " (read-only)", "",
                g_param_spec_get_blurb(spec));
  }
  g_free(specs);
  return kExitOk;
}

}  // namespace

int cmd_inspect(int argc, char **argv) {
  if (argc > 0 && (!std::strcmp(argv[0], "-h") || !std::strcmp(argv[0], "--help"))) {
    print_usage(stdout);
    return kExitOk;
  }
  if (argc == 0) {
    return list_everything();
  }
  if (argc > 1) {
    print_usage(stderr);
    return kExitInvalid;
  }
  std::string name = argv[0];
  std::filesystem::path dir = presets_dir();
  if (auto file = pl::find_description(name, dir)) {
    return show_preset(name, *file);
  }
  if (GstPtr<GstElementFactory> factory(gst_element_factory_find(name.c_str())); factory) {
    return show_element(factory.get());
  }
  std::vector<std::string> names;
  for (const auto &preset : pl::list_presets(dir)) {
    names.push_back(preset.name);
  }
  for (const auto &element : plugin_elements()) {
    names.push_back(element);
  }
  std::fprintf(stderr, "livepipe inspect: no preset or element '%s'%s\n", name.c_str(),
               pl::closest_hint(name, names).c_str());
  return kExitInvalid;
}

}  // namespace livepipe::apps
