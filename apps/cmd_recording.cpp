// `livepipe recording`: the service's recording and job endpoints from the
// command line (docs/recording.md); a thin client of the admin API.
#include "commands.h"

#include "util/gstptr.h"
#include "util/json.h"

#include <libsoup/soup.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace livepipe::apps {
namespace {

void print_usage(FILE *out) {
  std::fprintf(out,
               "Usage: livepipe recording [--server URL] [--token T] COMMAND [ARGS]\n"
               "\n"
               "  start STREAM                     record a published stream\n"
               "  stop STREAM                      stop recording it (the open segment is "
               "finished)\n"
               "  status STREAM                    the stream's current recording\n"
               "  list [--stream S] [--state S]    recordings in the catalog\n"
               "  show ID                          a recording with its segments\n"
               "  clip ID --start SEC --end SEC [--accurate]   queue a clip job\n"
               "  vod ID                           queue an HLS video-on-demand job\n"
               "  rebroadcast ID STREAM [--start SEC] [--end SEC]\n"
               "                                   play the recording as the live stream STREAM\n"
               "  instant STREAM SECONDS           queue a clip of the stream's last SECONDS\n"
               "  job ID                           a job's state, progress and output\n"
               "  cancel ID                        cancel a job (or delete a finished one)\n"
               "\n"
               "--server defaults to http://127.0.0.1:8080; the admin token comes from\n"
               "--token or LIVEPIPE_TOKEN. Prints the service's JSON reply.\n"
               "Exit status: 0 done, 1 the service refused (its reason on stderr),\n"
               "2 invalid arguments.\n");
}

bool is_number(const char *text) {
  char *end = nullptr;
  double value = std::strtod(text, &end);
  return end && !*end && *text && value >= 0;
}

}  // namespace

int cmd_recording(int argc, char **argv) {
  std::string server = "http://127.0.0.1:8080";
  const char *env_token = std::getenv("LIVEPIPE_TOKEN");
  std::string token = env_token ? env_token : "";
  std::vector<std::string> args;
  std::string start, end, stream_filter, state_filter;
  bool accurate = false;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    bool takes_value = arg == "--server" || arg == "--token" || arg == "--start" ||
                       arg == "--end" || arg == "--stream" || arg == "--state";
    if (takes_value && i + 1 >= argc) {
      std::fprintf(stderr, "livepipe recording: %s needs a value\n", arg.c_str());
      return kExitInvalid;
    }
    if (arg == "-h" || arg == "--help") {
      print_usage(stdout);
      return kExitOk;
    } else if (arg == "--server") {
      server = argv[++i];
    } else if (arg == "--token") {
      token = argv[++i];
    } else if (arg == "--start" || arg == "--end") {
      const char *v = argv[++i];
      if (!is_number(v)) {
        std::fprintf(stderr, "livepipe recording: %s takes seconds\n", arg.c_str());
        return kExitInvalid;
      }
      (arg == "--start" ? start : end) = v;
    } else if (arg == "--stream") {
      stream_filter = argv[++i];
    } else if (arg == "--state") {
      state_filter = argv[++i];
    } else if (arg == "--accurate") {
      accurate = true;
    } else if (!arg.empty() && arg[0] == '-') {
      std::fprintf(stderr, "livepipe recording: unknown option %s\n", arg.c_str());
      return kExitInvalid;
    } else {
      args.push_back(arg);
    }
  }
  if (args.empty()) {
    print_usage(stderr);
    return kExitInvalid;
  }
  const std::string &command = args[0];
  auto arity = [&](size_t n) {
    if (args.size() != n + 1) {
      std::fprintf(stderr, "livepipe recording %s: wrong number of arguments\n", command.c_str());
      return false;
    }
    return true;
  };
  auto escaped = [](const std::string &text) {
    GCharPtr out(g_uri_escape_string(text.c_str(), nullptr, FALSE));
    return std::string(out.get());
  };
  std::string method = "GET", path, body;
  if ((command == "start" || command == "stop" || command == "status") && arity(1)) {
    method = command == "start" ? "POST" : command == "stop" ? "DELETE" : "GET";
    path = "/api/v1/streams/" + escaped(args[1]) + "/recording";
  } else if (command == "list" && arity(0)) {
    path = "/api/v1/recordings";
    std::string query;
    if (!stream_filter.empty()) {
      query += "stream=" + escaped(stream_filter);
    }
    if (!state_filter.empty()) {
      query += (query.empty() ? "" : "&") + std::string("state=") + escaped(state_filter);
    }
    path += query.empty() ? "" : "?" + query;
  } else if (command == "show" && arity(1)) {
    path = "/api/v1/recordings/" + escaped(args[1]);
  } else if ((command == "clip" || command == "vod") && arity(1)) {
    method = "POST";
    path = "/api/v1/jobs";
    char *end_ptr = nullptr;
    long long id = std::strtoll(args[1].c_str(), &end_ptr, 10);
    if (!end_ptr || *end_ptr || id <= 0) {
      std::fprintf(stderr, "livepipe recording %s: ID is a recording id\n", command.c_str());
      return kExitInvalid;
    }
    json::ObjectBuilder b;
    b.set("type", command).set("recording", static_cast<int64_t>(id));
    if (command == "clip") {
      if (start.empty() || end.empty()) {
        std::fprintf(stderr, "livepipe recording clip: --start and --end are required\n");
        return kExitInvalid;
      }
      b.set("start", std::strtod(start.c_str(), nullptr))
          .set("end", std::strtod(end.c_str(), nullptr))
          .set("accurate", accurate);
    }
    body = b.to_string();
  } else if (command == "rebroadcast" && arity(2)) {
    method = "POST";
    path = "/api/v1/jobs";
    char *end_ptr = nullptr;
    long long id = std::strtoll(args[1].c_str(), &end_ptr, 10);
    if (!end_ptr || *end_ptr || id <= 0) {
      std::fprintf(stderr, "livepipe recording rebroadcast: ID is a recording id\n");
      return kExitInvalid;
    }
    json::ObjectBuilder b;
    b.set("type", "rebroadcast").set("recording", static_cast<int64_t>(id)).set("stream", args[2]);
    if (!start.empty()) {
      b.set("start", std::strtod(start.c_str(), nullptr));
    }
    if (!end.empty()) {
      b.set("end", std::strtod(end.c_str(), nullptr));
    }
    body = b.to_string();
  } else if (command == "instant" && arity(2)) {
    if (!is_number(args[2].c_str())) {
      std::fprintf(stderr, "livepipe recording instant: SECONDS is a number\n");
      return kExitInvalid;
    }
    method = "POST";
    path = "/api/v1/streams/" + escaped(args[1]) + "/instant-replay";
    body = json::ObjectBuilder().set("seconds", std::strtod(args[2].c_str(), nullptr)).to_string();
  } else if ((command == "job" || command == "cancel") && arity(1)) {
    method = command == "job" ? "GET" : "DELETE";
    path = "/api/v1/jobs/" + escaped(args[1]);
  } else {
    static const std::vector<std::string> known = {"start", "stop",   "status",     "list",
                                                   "show",  "clip",   "vod",        "instant",
                                                   "job",   "cancel", "rebroadcast"};
    if (std::find(known.begin(), known.end(), command) == known.end()) {
      std::fprintf(stderr, "livepipe recording: unknown command %s\n", command.c_str());
    }
    return kExitInvalid;
  }
  while (!server.empty() && server.back() == '/') {
    server.pop_back();
  }
  SoupMessage *msg = soup_message_new(method.c_str(), (server + path).c_str());
  if (!msg) {
    std::fprintf(stderr, "livepipe recording: %s is not an http(s) URL\n", server.c_str());
    return kExitInvalid;
  }
  if (!token.empty()) {
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization",
                                 ("Bearer " + token).c_str());
  }
  if (!body.empty()) {
    GBytes *bytes = g_bytes_new(body.data(), body.size());
    soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
    g_bytes_unref(bytes);
  }
  SoupSession *session = soup_session_new_with_options("timeout", 30u, nullptr);
  GError *error = nullptr;
  GBytes *reply = soup_session_send_and_read(session, msg, nullptr, &error);
  int status = kExitOk;
  if (!reply) {
    std::fprintf(stderr, "livepipe recording: %s: %s\n", server.c_str(), error->message);
    g_error_free(error);
    status = kExitRuntime;
  } else {
    gsize size = 0;
    const char *data = static_cast<const char *>(g_bytes_get_data(reply, &size));
    std::string text(data ? data : "", size);
    guint code = soup_message_get_status(msg);
    if (code >= 200 && code < 300) {
      std::printf("%s\n", text.empty() ? "{}" : text.c_str());
    } else {
      json::ParseError parse_error;
      json::NodePtr node = json::parse(text, &parse_error);
      std::string why = text;
      if (node && JSON_NODE_HOLDS_OBJECT(node.get())) {
        why = json::get_string(json_node_get_object(node.get()), "error").value_or(text);
      }
      std::fprintf(stderr, "livepipe recording: %u: %s\n", code, why.c_str());
      status = kExitRuntime;
    }
    g_bytes_unref(reply);
  }
  g_object_unref(session);
  g_object_unref(msg);
  return status;
}

}  // namespace livepipe::apps
