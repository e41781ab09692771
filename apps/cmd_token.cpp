// `livepipe token`: mints an HS256 JWT for `livepipe serve`.
#include "commands.h"

#include "config.h"
#include "token.h"

#include <glib.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace livepipe::apps {
namespace {

void print_usage(FILE *out) {
  std::fprintf(out,
               "Usage: livepipe token (--secret S | --config FILE) [--sub NAME] [--room ROOM]\n"
               "                      [--stream STREAM] [--role ROLE] [--ttl SECONDS]\n"
               "\n"
               "Prints a JSON Web Token (HS256) for `livepipe serve`.\n"
               "\n"
               "  --secret S        the server's auth.secret (or LIVEPIPE_TOKEN_SECRET)\n"
               "  --config FILE     read auth.secret from the server's configuration\n"
               "  --sub NAME        who the token is for (shown as the peer's name)\n"
               "  --room ROOM       the only room the bearer may join\n"
               "  --stream STREAM   the only stream the bearer may publish or play\n"
               "  --role ROLE       join (default), publish, play or admin\n"
               "  --ttl SECONDS     lifetime, default 3600\n"
               "\n"
               "Example:\n"
               "  livepipe token --config livepipe.json --sub alice --room standup\n");
}

}  // namespace

int cmd_token(int argc, char **argv) {
  std::string secret;
  std::string config_path;
  signaling::Claims claims;
  int64_t ttl = 3600;
  if (const char *env = std::getenv("LIVEPIPE_TOKEN_SECRET")) {
    secret = env;
  }
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      print_usage(stdout);
      return kExitOk;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "livepipe token: %s\n\n",
                   arg.rfind("--", 0) == 0 ? (arg + " needs a value").c_str()
                                           : ("unknown argument " + arg).c_str());
      print_usage(stderr);
      return kExitInvalid;
    }
    std::string value = argv[++i];
    if (arg == "--secret") {
      secret = value;
    } else if (arg == "--config") {
      config_path = value;
    } else if (arg == "--sub") {
      claims.sub = value;
    } else if (arg == "--room") {
      claims.room = value;
    } else if (arg == "--stream") {
      claims.stream = value;
    } else if (arg == "--role") {
      auto role = signaling::role_from_name(value);
      if (!role) {
        std::fprintf(stderr, "livepipe token: role must be join, publish, play or admin\n");
        return kExitInvalid;
      }
      claims.role = *role;
    } else if (arg == "--ttl") {
      char *end = nullptr;
      ttl = std::strtoll(value.c_str(), &end, 10);
      if (!end || *end || ttl <= 0) {
        std::fprintf(stderr, "livepipe token: --ttl must be a positive number of seconds\n");
        return kExitInvalid;
      }
    } else {
      std::fprintf(stderr, "livepipe token: unknown argument %s\n\n", arg.c_str());
      print_usage(stderr);
      return kExitInvalid;
    }
  }
  if (!config_path.empty()) {
    auto loaded = signaling::load_config_file(config_path);
    if (auto *problems = std::get_if<std::vector<std::string>>(&loaded)) {
      std::fprintf(stderr, "livepipe token: invalid configuration %s:\n", config_path.c_str());
      for (const auto &problem : *problems) {
        std::fprintf(stderr, "  %s\n", problem.c_str());
      }
      return kExitInvalid;
    }
    secret = std::get<signaling::Config>(loaded).token_secret;
    if (secret.empty()) {
      std::fprintf(stderr, "livepipe token: %s has no auth.secret\n", config_path.c_str());
      return kExitInvalid;
    }
  }
  if (secret.empty()) {
    std::fprintf(stderr, "livepipe token: give --secret, --config or LIVEPIPE_TOKEN_SECRET\n");
    return kExitInvalid;
  }
  if (!claims.room.empty() && !signaling::valid_room_name(claims.room)) {
    std::fprintf(stderr,
                 "livepipe token: room names are 1 to 64 characters from "
                 "A-Z a-z 0-9 _ . -\n");
    return kExitInvalid;
  }
  claims.exp = g_get_real_time() / G_USEC_PER_SEC + ttl;
  std::printf("%s\n", signaling::mint_token(claims, secret).c_str());
  return kExitOk;
}

}  // namespace livepipe::apps
