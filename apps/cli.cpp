#include "cli.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace livepipe::apps {

namespace fs = std::filesystem;

fs::path presets_dir() {
  if (const char *env = std::getenv("LIVEPIPE_PRESETS_DIR"); env && *env) {
    return env;
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  fs::path build_tree(LIVEPIPE_BUILD_DIR);
  if (!ec && fs::equivalent(exe.parent_path().parent_path(), build_tree, ec)) {
    return LIVEPIPE_SOURCE_PRESETS_DIR;
  }
  return LIVEPIPE_INSTALLED_PRESETS_DIR;
}

bool add_param(const char *text, std::map<std::string, std::string> &params, const char *command) {
  const char *equals = std::strchr(text, '=');
  if (!equals || equals == text) {
    std::fprintf(stderr, "livepipe %s: -p takes NAME=VALUE, not '%s'\n", command, text);
    return false;
  }
  params[std::string(text, equals)] = equals + 1;
  return true;
}

void print_problems(const std::vector<pipelines::Problem> &problems) {
  for (const auto &problem : problems) {
    std::fprintf(stderr, "%s\n", problem.to_string().c_str());
  }
}

const char *option_value(int argc, char **argv, int &i, const char *command) {
  const char *arg = argv[i];
  if (const char *equals = std::strchr(arg, '='); equals && arg[1] == '-') {
    return equals + 1;
  }
  if (i + 1 >= argc) {
    std::fprintf(stderr, "livepipe %s: %s needs a value\n", command, arg);
    return nullptr;
  }
  return argv[++i];
}

}  // namespace livepipe::apps
