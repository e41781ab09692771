// `livepipe validate`: check description files and print every problem.
#include "commands.h"

#include "catalog.h"
#include "cli.h"
#include "loader.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace livepipe::apps {
namespace {

void print_usage(FILE *out) {
  std::fprintf(out,
               "Usage: livepipe validate [-q] [-p NAME=VALUE]... FILE.json|PRESET...\n"
               "\n"
               "Checks each description (docs/pipeline-format.md) the way 'livepipe launch -f'\n"
               "would, builds it without running it, and prints every problem with its file,\n"
               "line, column and JSON path. Required params without a -p value take the\n"
               "example value the description declares.\n"
               "\n"
               "  -p, --param NAME=VALUE  a param value to check with (repeatable)\n"
               "  -q, --quiet             print problems only, not 'ok' lines\n"
               "\n"
               "Exit status: 0 when every description is valid, 2 otherwise.\n");
}

}  // namespace

int cmd_validate(int argc, char **argv) {
  std::map<std::string, std::string> params;
  std::vector<std::string> files;
  bool quiet = false;
  for (int i = 0; i < argc; ++i) {
    const char *arg = argv[i];
    if (!std::strcmp(arg, "-h") || !std::strcmp(arg, "--help")) {
      print_usage(stdout);
      return kExitOk;
    }
    if (!std::strcmp(arg, "-q") || !std::strcmp(arg, "--quiet")) {
      quiet = true;
    } else if (!std::strcmp(arg, "-p") || !std::strncmp(arg, "--param", 7)) {
      const char *value = option_value(argc, argv, i, "validate");
      if (!value || !add_param(value, params, "validate")) {
        return kExitInvalid;
      }
    } else if (arg[0] == '-' && arg[1]) {
      std::fprintf(stderr, "livepipe validate: unknown option %s\n\n", arg);
      print_usage(stderr);
      return kExitInvalid;
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    print_usage(stderr);
    return kExitInvalid;
  }
  std::filesystem::path dir = presets_dir();
  pipelines::Loader loader({dir});
  bool all_ok = true;
  for (const auto &file : files) {
    auto path = pipelines::find_description(file, dir);
    if (!path) {
      std::fprintf(stderr, "%s: no such file or preset\n", file.c_str());
      all_ok = false;
      continue;
    }
    auto result = loader.load_file(*path, {.params = params, .use_examples = true});
    if (result.ok()) {
      if (!quiet) {
        std::printf("%s: ok\n", path->c_str());
      }
      continue;
    }
    all_ok = false;
    print_problems(result.problems);
    std::fprintf(stderr, "%s: %zu problem%s\n", path->c_str(), result.problems.size(),
                 result.problems.size() == 1 ? "" : "s");
  }
  return all_ok ? kExitOk : kExitInvalid;
}

}  // namespace livepipe::apps
