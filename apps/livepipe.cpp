// `livepipe`: the command-line entry point; dispatches to subcommands.
#include "commands.h"
#include "plugin_path.h"

#include <gst/gst.h>

#include <cstdio>
#include <cstring>

namespace {

struct Command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
  // Replay jobs use stock elements only: scanning for livepipe's plugin is
  // start-up time a short clip would notice.
  bool own_plugin = true;
};

constexpr Command kCommands[] = {
    {"launch", livepipe::apps::cmd_launch,
     "run a pipeline in gst-launch-1.0 syntax, or a description (-f FILE.json|PRESET)"},
    {"validate", livepipe::apps::cmd_validate, "check description files, print every problem"},
    {"inspect", livepipe::apps::cmd_inspect, "list livepipe's elements, presets and their params"},
    {"serve", livepipe::apps::cmd_serve, "run the signaling service and its web page"},
    {"token", livepipe::apps::cmd_token, "mint an access token for the service"},
    {"record", livepipe::apps::cmd_record, "record a source into crash-safe segments"},
    {"whip-publish", livepipe::apps::cmd_whip_publish, "publish a test source or a file over WHIP"},
    {"whep-play", livepipe::apps::cmd_whep_play,
     "play a stream over WHEP, print timing and frames"},
    {"replay", livepipe::apps::cmd_replay, "clip a recording or turn it into HLS", false},
    {"recording", livepipe::apps::cmd_recording,
     "start and stop recordings and run replay jobs in a running service"},
    {"rtmp", livepipe::apps::cmd_rtmp, "add, list or remove a stream's RTMP restreams"},
};

void print_usage(FILE *out) {
  std::fprintf(out, "Usage: livepipe COMMAND [ARGS...]\n\nCommands:\n");
  for (const auto &command : kCommands) {
    std::fprintf(out, "  %-10s %s\n", command.name, command.summary);
  }
  std::fprintf(out, "\n'livepipe COMMAND --help' describes one command.\n");
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    print_usage(stderr);
    return livepipe::apps::kExitInvalid;
  }
  const char *name = argv[1];
  if (!std::strcmp(name, "-h") || !std::strcmp(name, "--help") || !std::strcmp(name, "help")) {
    print_usage(stdout);
    return livepipe::apps::kExitOk;
  }
  if (!std::strcmp(name, "--version") || !std::strcmp(name, "version")) {
    std::printf("livepipe %s (GStreamer %s)\n", LIVEPIPE_VERSION, gst_version_string());
    return livepipe::apps::kExitOk;
  }
  for (const auto &command : kCommands) {
    if (!std::strcmp(name, command.name)) {
      gst_init(nullptr, nullptr);
      if (command.own_plugin) {
        livepipe::apps::register_own_plugin(argv[0]);
      }
      return command.run(argc - 2, argv + 2);
    }
  }
  std::fprintf(stderr, "livepipe: unknown command '%s'\n\n", name);
  print_usage(stderr);
  return livepipe::apps::kExitInvalid;
}
