#include "catalog.h"

#include <glib.h>

#include <algorithm>
#include <system_error>

namespace livepipe::pipelines {

namespace fs = std::filesystem;

std::vector<PresetEntry> list_presets(const fs::path &dir) {
  std::vector<PresetEntry> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().extension() == ".json") {
      out.push_back(PresetEntry{it->path().stem().string(), it->path()});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const PresetEntry &a, const PresetEntry &b) { return a.name < b.name; });
  return out;
}

std::optional<fs::path> find_description(const std::string &name_or_path, const fs::path &dir) {
  std::error_code ec;
  if (fs::is_regular_file(name_or_path, ec)) {
    return fs::path(name_or_path);
  }
  if (name_or_path.find('/') != std::string::npos || dir.empty()) {
    return std::nullopt;
  }
  for (const fs::path &candidate : {dir / name_or_path, dir / (name_or_path + ".json")}) {
    if (fs::is_regular_file(candidate, ec)) {
      return candidate;
    }
  }
  return std::nullopt;
}

std::optional<DescriptionDecl> read_declarations(const fs::path &file, Problems &problems) {
  DocumentPtr doc = read_document(file, problems);
  if (!doc) {
    return std::nullopt;
  }
  return parse_description(doc, problems);
}

std::string example_command(const std::string &preset, const DescriptionDecl &decl) {
  std::string out = "livepipe launch -e -f " + preset;
  for (const auto &param : decl.params) {
    if (!param.required) {
      continue;
    }
    std::string value = param.example           ? *param.example
                        : !param.values.empty() ? param.values.front()
                                                : std::string(param_type_name(param.type));
    bool plain = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
      return g_ascii_isalnum(c) || std::string_view("._-/:=,@+").find(c) != std::string::npos;
    });
    out += " -p " + param.name + "=" + (plain ? value : "'" + value + "'");
  }
  return out;
}

}  // namespace livepipe::pipelines
