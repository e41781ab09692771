// The presets shipped in a directory (pipelines/presets/ in the source tree,
// share/livepipe/presets once installed): finding them by name and reading
// their declarations for `livepipe inspect`.
#pragma once

#include "description.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace livepipe::pipelines {

struct PresetEntry {
  std::string name;  // file name without ".json"
  std::filesystem::path file;
};

// The *.json files directly in `dir` (templates/ below it is not listed),
// sorted by name.
std::vector<PresetEntry> list_presets(const std::filesystem::path &dir);

// `name_or_path` as a file when one exists there, else the preset of that
// name (with or without ".json") in `dir`.
std::optional<std::filesystem::path> find_description(const std::string &name_or_path,
                                                      const std::filesystem::path &dir);

// Reads a file's declarations (name, summary, params, slots) without
// expanding or checking it against the registry.
std::optional<DescriptionDecl> read_declarations(const std::filesystem::path &file,
                                                 Problems &problems);

// A command line running `file` with an example value for each required param.
std::string example_command(const std::string &preset, const DescriptionDecl &decl);

}  // namespace livepipe::pipelines
