// `livepipe rtmp`: adds, lists and removes a stream's RTMP restreams through
// the admin API of a running `livepipe serve`.
#include "commands.h"

#include "util/gstptr.h"
#include "util/json.h"

#include <libsoup/soup.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

namespace livepipe::apps {
namespace {

void print_usage(FILE *out) {
  std::fprintf(out,
               "Usage: livepipe rtmp add STREAM URL     [--server URL] [--token T]\n"
               "       livepipe rtmp list STREAM        [--server URL] [--token T]\n"
               "       livepipe rtmp remove STREAM ID   [--server URL] [--token T]\n"
               "\n"
               "Manages the RTMP restreams of a stream being published to `livepipe serve`\n"
               "(docs/rtmp.md). add prints the new destination's id; list prints the\n"
               "destinations with their state as JSON.\n"
               "\n"
               "  --server URL   the server, default http://127.0.0.1:8080\n"
               "  --token T      an admin token (or LIVEPIPE_TOKEN) when the server has auth\n"
               "\n"
               "Exit status: 0 done, 1 the server refused (its reason is printed), 2 invalid\n"
               "arguments.\n");
}

std::string escape_json(const std::string &text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
      out += buffer;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// One request; the status (0 when the server cannot be reached) and body.
guint request(const std::string &method, const std::string &url, const std::string &token,
              const std::string &body, std::string *reply) {
  SoupSession *session = soup_session_new_with_options("timeout", 15, nullptr);
  SoupMessage *msg = soup_message_new(method.c_str(), url.c_str());
  if (!msg) {
    *reply = "invalid server URL " + url;
    g_object_unref(session);
    return 0;
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
  GError *error = nullptr;
  GBytes *response = soup_session_send_and_read(session, msg, nullptr, &error);
  guint status = 0;
  if (!response) {
    *reply = std::string("cannot reach the server: ") + (error ? error->message : "unknown");
    g_clear_error(&error);
  } else {
    status = soup_message_get_status(msg);
    gsize size = 0;
    const char *data = static_cast<const char *>(g_bytes_get_data(response, &size));
    reply->assign(data ? data : "", size);
    g_bytes_unref(response);
  }
  g_object_unref(msg);
  g_object_unref(session);
  return status;
}

}  // namespace

int cmd_rtmp(int argc, char **argv) {
  std::string server = "http://127.0.0.1:8080";
  std::string token;
  if (const char *env = std::getenv("LIVEPIPE_TOKEN")) {
    token = env;
  }
  std::vector<std::string> words;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      print_usage(stdout);
      return kExitOk;
    }
    if (arg == "--server" || arg == "--token") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "livepipe rtmp: %s needs a value\n", arg.c_str());
        return kExitInvalid;
      }
      (arg == "--server" ? server : token) = argv[++i];
    } else if (arg.rfind("--", 0) == 0) {
      std::fprintf(stderr, "livepipe rtmp: unknown argument %s\n\n", arg.c_str());
      print_usage(stderr);
      return kExitInvalid;
    } else {
      words.push_back(arg);
    }
  }
  const bool add = !words.empty() && words[0] == "add" && words.size() == 3;
  const bool list = !words.empty() && words[0] == "list" && words.size() == 2;
  const bool remove = !words.empty() && words[0] == "remove" && words.size() == 3;
  if (!add && !list && !remove) {
    print_usage(stderr);
    return kExitInvalid;
  }
  while (!server.empty() && server.back() == '/') {
    server.pop_back();
  }
  GCharPtr stream(g_uri_escape_string(words[1].c_str(), nullptr, FALSE));
  std::string base = server + "/api/v1/streams/" + stream.get() + "/rtmp";
  std::string reply;
  guint status = 0;
  if (add) {
    status = request("POST", base, token, "{\"url\": \"" + escape_json(words[2]) + "\"}", &reply);
  } else if (list) {
    status = request("GET", base, token, "", &reply);
  } else {
    GCharPtr id(g_uri_escape_string(words[2].c_str(), nullptr, FALSE));
    status = request("DELETE", base + "/" + id.get(), token, "", &reply);
  }
  if (status < 200 || status >= 300) {
    std::fprintf(stderr, "livepipe rtmp: %s%s\n",
                 status ? ("HTTP " + std::to_string(status) + ": ").c_str() : "", reply.c_str());
    return kExitRuntime;
  }
  if (add) {
    // The id alone, for scripts.
    json::ParseError error;
    json::NodePtr root = json::parse(reply, &error);
    std::optional<std::string> id;
    if (root && JSON_NODE_HOLDS_OBJECT(root.get())) {
      id = json::get_string(json_node_get_object(root.get()), "id");
    }
    if (!id) {
      std::fprintf(stderr, "livepipe rtmp: the server's reply has no id: %s\n", reply.c_str());
      return kExitRuntime;
    }
    std::printf("%s\n", id->c_str());
  } else if (list) {
    std::printf("%s\n", reply.c_str());
  }
  return kExitOk;
}

}  // namespace livepipe::apps
