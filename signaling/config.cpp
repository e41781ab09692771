#include "config.h"

#include "util/json.h"

#include <glib.h>

#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <set>

namespace livepipe::signaling {
namespace {

class Checker {
 public:
  std::vector<std::string> problems;

  void problem(const std::string &path, const std::string &what) {
    problems.push_back(path + ": " + what);
  }

  // Unknown members are errors: a typo must never silently fall back to a default.
  void only(JsonObject *object, const std::string &path,
            std::initializer_list<const char *> known) {
    std::set<std::string> names(known.begin(), known.end());
    GList *members = json_object_get_members(object);
    for (GList *l = members; l; l = l->next) {
      auto *name = static_cast<const char *>(l->data);
      if (!names.count(name)) {
        problem(path + "." + name, "unknown setting");
      }
    }
    g_list_free(members);
  }

  void string(JsonObject *object, const std::string &path, const char *member, std::string *out,
              bool allow_empty = true) {
    if (!json_object_has_member(object, member)) {
      return;
    }
    auto value = json::get_string(object, member);
    if (!value) {
      problem(path + "." + member, std::string("must be a string, not ") +
                                       json::type_name(json_object_get_member(object, member)));
      return;
    }
    if (!allow_empty && value->empty()) {
      problem(path + "." + member, "must not be empty");
      return;
    }
    *out = *value;
  }

  void integer(JsonObject *object, const std::string &path, const char *member, int64_t *out,
               int64_t min, int64_t max) {
    if (!json_object_has_member(object, member)) {
      return;
    }
    auto value = json::get_int(object, member);
    if (!value || *value < min || *value > max) {
      problem(path + "." + member,
              "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
      return;
    }
    *out = *value;
  }

  JsonObject *object(JsonObject *parent, const std::string &path, const char *member) {
    if (!json_object_has_member(parent, member)) {
      return nullptr;
    }
    JsonObject *child = json::get_object(parent, member);
    if (!child) {
      problem(path + "." + member, std::string("must be an object, not ") +
                                       json::type_name(json_object_get_member(parent, member)));
    }
    return child;
  }

  std::vector<std::string> urls(JsonObject *object, const std::string &path, const char *member,
                                std::initializer_list<const char *> schemes) {
    std::vector<std::string> out;
    std::string where = path + "." + member;
    JsonNode *node =
        json_object_has_member(object, member) ? json_object_get_member(object, member) : nullptr;
    if (!node) {
      problem(where, "is required");
      return out;
    }
    auto check = [&](const std::string &url, const std::string &at) {
      bool ok = false;
      for (const char *scheme : schemes) {
        if (url.rfind(std::string(scheme) + ":", 0) == 0 && url.size() > strlen(scheme) + 1) {
          ok = true;
        }
      }
      if (!ok) {
        std::string list;
        for (const char *scheme : schemes) {
          list += list.empty() ? "" : ", ";
          list += scheme;
        }
        problem(at, "\"" + url + "\" is not a " + list + ": URL");
        return;
      }
      out.push_back(url);
    };
    if (JSON_NODE_HOLDS_VALUE(node) && json_node_get_value_type(node) == G_TYPE_STRING) {
      check(json_node_get_string(node), where);
    } else if (JSON_NODE_HOLDS_ARRAY(node) && json_array_get_length(json_node_get_array(node))) {
      JsonArray *array = json_node_get_array(node);
      for (guint i = 0; i < json_array_get_length(array); ++i) {
        JsonNode *element = json_array_get_element(array, i);
        std::string at = where + "[" + std::to_string(i) + "]";
        if (JSON_NODE_HOLDS_VALUE(element) && json_node_get_value_type(element) == G_TYPE_STRING) {
          check(json_node_get_string(element), at);
        } else {
          problem(at, "must be a string");
        }
      }
    } else {
      problem(where, "must be a URL or a non-empty array of URLs");
    }
    return out;
  }
};

void read_ice(Checker &c, JsonObject *ice, Config &config) {
  const std::string path = "$.ice";
  c.only(ice, path, {"stun", "turn", "turnRest"});
  if (json_object_has_member(ice, "stun")) {
    auto urls = c.urls(ice, path, "stun", {"stun", "stuns"});
    if (!urls.empty()) {
      config.ice_servers.push_back(IceServer{urls, "", ""});
    }
  }
  if (json_object_has_member(ice, "turn")) {
    JsonArray *servers = json::get_array(ice, "turn");
    if (!servers) {
      c.problem(path + ".turn", "must be an array of {urls, username, credential}");
    } else {
      for (guint i = 0; i < json_array_get_length(servers); ++i) {
        std::string at = path + ".turn[" + std::to_string(i) + "]";
        JsonNode *node = json_array_get_element(servers, i);
        if (!JSON_NODE_HOLDS_OBJECT(node)) {
          c.problem(at, "must be an object with urls, username and credential");
          continue;
        }
        JsonObject *server = json_node_get_object(node);
        c.only(server, at, {"urls", "username", "credential"});
        IceServer ice_server;
        ice_server.urls = c.urls(server, at, "urls", {"turn", "turns"});
        if (!json_object_has_member(server, "username")) {
          c.problem(at + ".username", "is required");
        }
        if (!json_object_has_member(server, "credential")) {
          c.problem(at + ".credential", "is required");
        }
        c.string(server, at, "username", &ice_server.username, false);
        c.string(server, at, "credential", &ice_server.credential, false);
        config.ice_servers.push_back(std::move(ice_server));
      }
    }
  }
  if (JsonObject *rest = c.object(ice, path, "turnRest")) {
    std::string at = path + ".turnRest";
    c.only(rest, at, {"urls", "secret", "ttlSeconds"});
    config.turn_rest.urls = c.urls(rest, at, "urls", {"turn", "turns"});
    if (!json_object_has_member(rest, "secret")) {
      c.problem(at + ".secret", "is required (coturn's static-auth-secret)");
    }
    c.string(rest, at, "secret", &config.turn_rest.secret, false);
    c.integer(rest, at, "ttlSeconds", &config.turn_rest.ttl_seconds, 60, 7 * 86400);
  }
}

void read_rtmp(Checker &c, JsonObject *rtmp, RtmpSettings &settings) {
  const std::string at = "$.rtmp";
  c.only(rtmp, at,
         {"destinations", "backoffInitialMs", "backoffMaxMs", "keyframeIntervalSeconds",
          "videoBitrateKbps", "audioBitrate", "audioRate", "listen", "keys"});
  if (json_object_has_member(rtmp, "listen")) {
    std::string listen;
    c.string(rtmp, at, "listen", &listen);
    if (!listen.empty() && !parse_listen(listen, &settings.listen_host, &settings.listen_port)) {
      c.problem(at + ".listen", "\"" + listen + "\" is not IP:PORT (e.g. 127.0.0.1:1935)");
    }
  }
  if (json_object_has_member(rtmp, "keys")) {
    JsonNode *keys = json_object_get_member(rtmp, "keys");
    JsonArray *array = JSON_NODE_HOLDS_ARRAY(keys) ? json_node_get_array(keys) : nullptr;
    for (guint i = 0; array && i < json_array_get_length(array); ++i) {
      JsonNode *item = json_array_get_element(array, i);
      if (!JSON_NODE_HOLDS_VALUE(item) || json_node_get_value_type(item) != G_TYPE_STRING ||
          std::strlen(json_node_get_string(item)) < 8) {
        c.problem(at + ".keys[" + std::to_string(i) + "]",
                  "must be a string of 8 or more characters");
        continue;
      }
      settings.keys.emplace_back(json_node_get_string(item));
    }
    if (!array) {
      c.problem(at + ".keys", "must be an array of strings");
    }
  }
  c.integer(rtmp, at, "backoffInitialMs", &settings.backoff_initial_ms, 100, 60000);
  c.integer(rtmp, at, "backoffMaxMs", &settings.backoff_max_ms, 100, 3600000);
  if (settings.backoff_max_ms < settings.backoff_initial_ms) {
    c.problem(at + ".backoffMaxMs", "must be at least backoffInitialMs");
  }
  c.integer(rtmp, at, "keyframeIntervalSeconds", &settings.keyframe_interval_seconds, 1, 60);
  c.integer(rtmp, at, "videoBitrateKbps", &settings.video_bitrate_kbps, 100, 100000);
  c.integer(rtmp, at, "audioBitrate", &settings.audio_bitrate, 16000, 512000);
  c.integer(rtmp, at, "audioRate", &settings.audio_rate, 8000, 96000);
  if (settings.audio_rate != 44100 && settings.audio_rate != 48000) {
    c.problem(at + ".audioRate", "must be 44100 or 48000");
  }
  if (!json_object_has_member(rtmp, "destinations")) {
    return;
  }
  JsonNode *node = json_object_get_member(rtmp, "destinations");
  if (!JSON_NODE_HOLDS_ARRAY(node)) {
    c.problem(at + ".destinations", "must be an array of {\"stream\", \"url\"}");
    return;
  }
  JsonArray *array = json_node_get_array(node);
  for (guint i = 0; i < json_array_get_length(array); ++i) {
    const std::string item_at = at + ".destinations[" + std::to_string(i) + "]";
    JsonNode *item = json_array_get_element(array, i);
    if (!JSON_NODE_HOLDS_OBJECT(item)) {
      c.problem(item_at, "must be an object with stream and url");
      continue;
    }
    JsonObject *object = json_node_get_object(item);
    c.only(object, item_at, {"stream", "url"});
    RtmpDestinationRule rule;
    rule.stream = "*";
    c.string(object, item_at, "stream", &rule.stream, false);
    c.string(object, item_at, "url", &rule.url, false);
    if (rule.url.rfind("rtmp://", 0) != 0 && rule.url.rfind("rtmps://", 0) != 0) {
      c.problem(item_at + ".url", "must be an rtmp:// or rtmps:// URL");
      continue;
    }
    settings.destinations.push_back(std::move(rule));
  }
}

// json-glib puts the position in its message ("<data>:2:13: Parse error: ...")
// and not always in the parser's accessors.
std::string syntax_problem(const json::ParseError &error) {
  int line = error.line, column = error.column;
  std::string message = error.message;
  if (message.rfind("<data>:", 0) == 0 &&
      std::sscanf(message.c_str(), "<data>:%d:%d:", &line, &column) == 2) {
    size_t colon = message.find(':', message.find(':', 7) + 1);
    message = message.substr(colon + 2 <= message.size() ? colon + 2 : colon + 1);
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + message;
}

}  // namespace

bool parse_listen(std::string_view text, std::string *host, int *port) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  std::string_view host_part = text.substr(0, colon);
  std::string_view port_part = text.substr(colon + 1);
  if (port_part.empty() || port_part.size() > 5) {
    return false;
  }
  int value = 0;
  for (char ch : port_part) {
    if (ch < '0' || ch > '9') {
      return false;
    }
    value = value * 10 + (ch - '0');
  }
  if (value > 65535) {
    return false;
  }
  if (host_part.size() >= 2 && host_part.front() == '[' && host_part.back() == ']') {
    host_part = host_part.substr(1, host_part.size() - 2);
  } else if (host_part.find(':') != std::string_view::npos) {
    return false;
  }
  if (host_part.empty()) {
    host_part = "0.0.0.0";
  }
  if (!g_hostname_is_ip_address(std::string(host_part).c_str())) {
    return false;
  }
  *host = host_part;
  *port = value;
  return true;
}

namespace {

// A param value as the text a description param converts from.
std::optional<std::string> scalar_text(JsonNode *node) {
  if (!JSON_NODE_HOLDS_VALUE(node)) {
    return std::nullopt;
  }
  GType type = json_node_get_value_type(node);
  if (type == G_TYPE_STRING) {
    return std::string(json_node_get_string(node));
  }
  if (type == G_TYPE_INT64) {
    return std::to_string(json_node_get_int(node));
  }
  if (type == G_TYPE_BOOLEAN) {
    return std::string(json_node_get_boolean(node) ? "true" : "false");
  }
  if (type == G_TYPE_DOUBLE) {
    char buffer[G_ASCII_DTOSTR_BUF_SIZE];
    // 15 digits: 0.8 stays "0.8" (the shortest round trip would add noise).
    return std::string(g_ascii_formatd(buffer, sizeof buffer, "%.15g", json_node_get_double(node)));
  }
  return std::nullopt;
}

// An array of IP addresses at `at.member`, into `out`.
void read_addresses(Checker &c, JsonObject *object, const std::string &at, const char *member,
                    std::vector<std::string> *out) {
  if (!json_object_has_member(object, member)) {
    return;
  }
  const std::string where = at + "." + member;
  JsonNode *node = json_object_get_member(object, member);
  if (!JSON_NODE_HOLDS_ARRAY(node)) {
    c.problem(where, "must be an array of IP addresses");
    return;
  }
  JsonArray *array = json_node_get_array(node);
  for (guint i = 0; i < json_array_get_length(array); ++i) {
    JsonNode *item = json_array_get_element(array, i);
    const char *text =
        JSON_NODE_HOLDS_VALUE(item) && json_node_get_value_type(item) == G_TYPE_STRING
            ? json_node_get_string(item)
            : nullptr;
    GInetAddress *address = text ? g_inet_address_new_from_string(text) : nullptr;
    if (!address) {
      c.problem(where + "[" + std::to_string(i) + "]", "must be an IP address");
      continue;
    }
    g_object_unref(address);
    out->emplace_back(text);
  }
}

void read_media_rules(Checker &c, JsonNode *node, const std::string &at, MediaSettings &media) {
  if (!JSON_NODE_HOLDS_ARRAY(node)) {
    c.problem(at, std::string("must be an array of rules, not ") + json::type_name(node));
    return;
  }
  JsonArray *array = json_node_get_array(node);
  for (guint i = 0; i < json_array_get_length(array); ++i) {
    const std::string path = at + "[" + std::to_string(i) + "]";
    JsonNode *item = json_array_get_element(array, i);
    if (!JSON_NODE_HOLDS_OBJECT(item)) {
      c.problem(path, std::string("must be an object, not ") + json::type_name(item));
      continue;
    }
    JsonObject *object = json_node_get_object(item);
    const size_t problems_before = c.problems.size();
    c.only(object, path, {"match", "description", "params"});
    MediaRule rule;
    for (const char *member : {"match", "description"}) {
      if (!json_object_has_member(object, member)) {
        c.problem(path + "." + member, "is required");
      }
    }
    c.string(object, path, "match", &rule.match, false);
    c.string(object, path, "description", &rule.description, false);
    if (JsonObject *params = c.object(object, path, "params")) {
      GList *members = json_object_get_members(params);
      for (GList *l = members; l; l = l->next) {
        auto *name = static_cast<const char *>(l->data);
        auto text = scalar_text(json_object_get_member(params, name));
        if (!text) {
          c.problem(path + ".params." + name, "must be a string, number or boolean");
          continue;
        }
        rule.params[name] = *text;
      }
      g_list_free(members);
    }
    // A rule with problems of its own is not checked further (by check_media).
    if (c.problems.size() == problems_before) {
      media.rules.push_back(std::move(rule));
    }
  }
}

// An http:// or https:// URL with a host.
bool web_url(const std::string &url) {
  GUri *uri = g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, nullptr);
  bool ok = uri &&
            (g_strcmp0(g_uri_get_scheme(uri), "http") == 0 ||
             g_strcmp0(g_uri_get_scheme(uri), "https") == 0) &&
            g_uri_get_host(uri) && *g_uri_get_host(uri);
  if (uri) {
    g_uri_unref(uri);
  }
  return ok;
}

void read_notifications(Checker &c, JsonObject *hooks, HookSettings &out) {
  const std::string at = "$.hooks";
  for (auto [member, url] : {std::pair{"onPublishDone", &out.on_publish_done},
                             std::pair{"onRecordDone", &out.on_record_done},
                             std::pair{"onModeration", &out.on_moderation}}) {
    c.string(hooks, at, member, url);
    if (!url->empty() && !web_url(*url)) {
      c.problem(at + "." + member, "\"" + *url + "\" is not an http:// or https:// URL");
    }
  }
  c.integer(hooks, at, "notifyAttempts", &out.notify_attempts, 1, 20);
  c.integer(hooks, at, "notifyBackoffMs", &out.notify_backoff_ms, 10, 600000);
}

void read_moderation(Checker &c, JsonObject *moderation, ModerationSettings &out) {
  const std::string at = "$.moderation";
  c.only(moderation, at,
         {"description", "hookUri", "authToken", "intervalMs", "timeoutMs", "onError", "maxSize"});
  c.string(moderation, at, "description", &out.description, false);
  c.string(moderation, at, "hookUri", &out.hook_uri);
  c.string(moderation, at, "authToken", &out.auth_token);
  c.integer(moderation, at, "intervalMs", &out.interval_ms, 100, 3600000);
  c.integer(moderation, at, "timeoutMs", &out.timeout_ms, 10, 600000);
  c.integer(moderation, at, "maxSize", &out.max_size, 16, 8192);
  c.string(moderation, at, "onError", &out.on_error, false);
  if (out.on_error != "fail-open" && out.on_error != "fail-closed") {
    c.problem(at + ".onError", "must be fail-open or fail-closed, not \"" + out.on_error + "\"");
  }
  const std::string &hook = out.hook_uri;
  if (!hook.empty() && !web_url(hook) &&
      !(hook.rfind("exec:/", 0) == 0 && hook.size() > std::strlen("exec:/"))) {
    c.problem(at + ".hookUri",
              "\"" + hook + "\" is not an http(s):// URL or exec:/absolute/command");
  }
}

}  // namespace

ConfigResult parse_config(std::string_view text, const MediaCheck &check_media) {
  Config config;
  json::ParseError error;
  json::NodePtr root = json::parse(text, &error);
  if (!root) {
    return std::vector<std::string>{syntax_problem(error)};
  }
  if (!JSON_NODE_HOLDS_OBJECT(root.get())) {
    return std::vector<std::string>{
        std::string("$: the configuration must be a JSON object, not ") +
        json::type_name(root.get())};
  }
  Checker c;
  JsonObject *top = json_node_get_object(root.get());
  c.only(top, "$",
         {"listen", "tls", "auth", "ice", "limits", "keepalive", "web", "shutdown", "media", "rtmp",
          "recording", "hooks", "moderation"});
  if (json_object_has_member(top, "listen")) {
    std::string listen;
    c.string(top, "$", "listen", &listen);
    if (!listen.empty() && !parse_listen(listen, &config.host, &config.port)) {
      c.problem("$.listen", "\"" + listen + "\" is not IP:PORT (e.g. 127.0.0.1:8080)");
    }
  }
  if (JsonObject *tls = c.object(top, "$", "tls")) {
    c.only(tls, "$.tls", {"cert", "key"});
    c.string(tls, "$.tls", "cert", &config.tls_cert, false);
    c.string(tls, "$.tls", "key", &config.tls_key, false);
    if (config.tls_cert.empty() != config.tls_key.empty()) {
      c.problem("$.tls", "needs both cert and key");
    }
    for (const auto &[name, file] :
         {std::pair{"cert", config.tls_cert}, std::pair{"key", config.tls_key}}) {
      if (!file.empty() && !g_file_test(file.c_str(), G_FILE_TEST_IS_REGULAR)) {
        c.problem(std::string("$.tls.") + name, "file \"" + file + "\" does not exist");
      }
    }
  }
  if (JsonObject *auth = c.object(top, "$", "auth")) {
    c.only(auth, "$.auth", {"secret"});
    c.string(auth, "$.auth", "secret", &config.token_secret, false);
    if (!config.token_secret.empty() && config.token_secret.size() < 16) {
      c.problem("$.auth.secret", "must be at least 16 characters");
    }
  }
  if (JsonObject *ice = c.object(top, "$", "ice")) {
    read_ice(c, ice, config);
  }
  if (JsonObject *limits = c.object(top, "$", "limits")) {
    const std::string at = "$.limits";
    c.only(limits, at,
           {"maxMessageBytes", "messagesPerSecond", "peersPerRoom", "rooms", "connections"});
    c.integer(limits, at, "maxMessageBytes", &config.limits.max_message_bytes, 1024,
              16 * 1024 * 1024);
    c.integer(limits, at, "messagesPerSecond", &config.limits.messages_per_second, 1, 1000000);
    c.integer(limits, at, "peersPerRoom", &config.limits.peers_per_room, 2, 100000);
    c.integer(limits, at, "rooms", &config.limits.rooms, 1, 10000000);
    c.integer(limits, at, "connections", &config.limits.connections, 1, 10000000);
  }
  if (JsonObject *keepalive = c.object(top, "$", "keepalive")) {
    c.only(keepalive, "$.keepalive", {"intervalSeconds", "timeoutSeconds"});
    c.integer(keepalive, "$.keepalive", "intervalSeconds", &config.keepalive_interval_seconds, 1,
              3600);
    c.integer(keepalive, "$.keepalive", "timeoutSeconds", &config.keepalive_timeout_seconds, 1,
              3 * 3600);
    if (config.keepalive_timeout_seconds <= config.keepalive_interval_seconds) {
      c.problem("$.keepalive.timeoutSeconds", "must be longer than intervalSeconds");
    }
  }
  if (JsonObject *web = c.object(top, "$", "web")) {
    c.only(web, "$.web", {"root"});
    c.string(web, "$.web", "root", &config.web_root, false);
    if (!config.web_root.empty() &&
        !g_file_test((config.web_root + "/index.html").c_str(), G_FILE_TEST_IS_REGULAR)) {
      c.problem("$.web.root", "\"" + config.web_root + "\" has no index.html");
    }
  }
  if (JsonObject *shutdown = c.object(top, "$", "shutdown")) {
    c.only(shutdown, "$.shutdown", {"graceMs"});
    c.integer(shutdown, "$.shutdown", "graceMs", &config.shutdown_grace_ms, 0, 60000);
  }
  if (JsonObject *media = c.object(top, "$", "media")) {
    const std::string at = "$.media";
    c.only(
        media, at,
        {"description", "idleTimeoutSeconds", "maxStreams", "maxViewersPerStream", "iceAddresses",
         "announceAddresses", "viewerTransport", "udpPort", "rules", "beautyDescription"});
    read_addresses(c, media, at, "iceAddresses", &config.media.ice_addresses);
    read_addresses(c, media, at, "announceAddresses", &config.media.announce_addresses);
    c.string(media, at, "viewerTransport", &config.media.viewer_transport, false);
    if (config.media.viewer_transport != "shared" && config.media.viewer_transport != "webrtcbin") {
      c.problem(at + ".viewerTransport", "must be \"shared\" or \"webrtcbin\"");
    }
    c.integer(media, at, "udpPort", &config.media.udp_port, 0, 65535);
    c.string(media, at, "description", &config.media.description, false);
    c.string(media, at, "beautyDescription", &config.media.beauty_description, false);
    if (json_object_has_member(media, "rules")) {
      read_media_rules(c, json_object_get_member(media, "rules"), at + ".rules", config.media);
    }
    c.integer(media, at, "idleTimeoutSeconds", &config.media.idle_timeout_seconds, 1, 86400);
    c.integer(media, at, "maxStreams", &config.media.max_streams, 1, 100000);
    c.integer(media, at, "maxViewersPerStream", &config.media.max_viewers_per_stream, 1, 100000);
  }
  if (check_media) {
    for (auto &problem : check_media(config.media)) {
      c.problems.push_back(std::move(problem));
    }
  }
  if (JsonObject *rtmp = c.object(top, "$", "rtmp")) {
    read_rtmp(c, rtmp, config.rtmp);
  }
  if (JsonObject *recording = c.object(top, "$", "recording")) {
    read_recording_settings(recording, "$.recording", &config.recording, &c.problems);
  }
  if (JsonObject *hooks = c.object(top, "$", "hooks")) {
    c.only(hooks, "$.hooks",
           {"onPublish", "onPlay", "timeoutMs", "onPublishDone", "onRecordDone", "onModeration",
            "notifyAttempts", "notifyBackoffMs"});
    c.string(hooks, "$.hooks", "onPublish", &config.hooks.on_publish);
    c.string(hooks, "$.hooks", "onPlay", &config.hooks.on_play);
    c.integer(hooks, "$.hooks", "timeoutMs", &config.hooks.timeout_ms, 100, 60000);
    read_notifications(c, hooks, config.hooks);
    for (auto [member, url] : {std::pair{"onPublish", &config.hooks.on_publish},
                               std::pair{"onPlay", &config.hooks.on_play}}) {
      if (url->empty()) {
        continue;
      }
      // A typo in a hook's URL must stop the start, not deny every session later.
      GUri *uri = g_uri_parse(url->c_str(), G_URI_FLAGS_NONE, nullptr);
      if (!uri || g_strcmp0(g_uri_get_scheme(uri), "http") != 0 || !g_uri_get_host(uri) ||
          !*g_uri_get_host(uri)) {
        c.problem(std::string("$.hooks.") + member, "\"" + *url + "\" is not an http:// URL");
      }
      if (uri) {
        g_uri_unref(uri);
      }
    }
  }
  if (JsonObject *moderation = c.object(top, "$", "moderation")) {
    read_moderation(c, moderation, config.moderation);
  }
  if (!c.problems.empty()) {
    return c.problems;
  }
  return config;
}

ConfigResult load_config_file(const std::string &path, const MediaCheck &check_media) {
  gchar *contents = nullptr;
  gsize length = 0;
  GError *error = nullptr;
  if (!g_file_get_contents(path.c_str(), &contents, &length, &error)) {
    std::string message = error->message;
    g_error_free(error);
    return std::vector<std::string>{message};
  }
  std::string text(contents, length);
  g_free(contents);
  return parse_config(text, check_media);
}

}  // namespace livepipe::signaling
