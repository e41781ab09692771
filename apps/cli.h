// What the subcommands share: where the presets are, -p NAME=VALUE, and
// printing a description's problems.
#pragma once

#include "description.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace livepipe::apps {

// The presets directory: $LIVEPIPE_PRESETS_DIR, else the source tree's
// pipelines/presets when running from the build tree, else the installed one.
std::filesystem::path presets_dir();

// Splits "name=value" into `params`; false (and a message) when malformed.
bool add_param(const char *text, std::map<std::string, std::string> &params, const char *command);

// Prints each problem as "file:line:column: $.path: message" on stderr.
void print_problems(const std::vector<pipelines::Problem> &problems);

// The value of an option given as "-x VALUE" or "--name=VALUE"; advances `i`.
// Returns null (and prints why) when the value is missing.
const char *option_value(int argc, char **argv, int &i, const char *command);

}  // namespace livepipe::apps
