#include "server.h"

#include "gst_router.h"
#include "http_auth.h"
#include "http_reply.h"
#include "router.h"
#include "token.h"
#include "turn.h"
#include "util/gstptr.h"
#include "util/json.h"
#include "util/maincontext.h"
#include "ws_hub.h"

#include <libsoup/soup.h>

#include <cstring>
#include <map>
#include <unordered_map>
#include <variant>

extern "C" GResource *livepipe_web_get_resource(void);

namespace livepipe::signaling {
namespace {

enum class Protocol { kV1, kGst };

const char *protocol_name(Protocol protocol) {
  return protocol == Protocol::kV1 ? "ws" : "gst";
}

Now now() {
  return Now{g_get_monotonic_time() / 1000, g_get_real_time() / G_USEC_PER_SEC};
}

void respond(SoupServerMessage *msg, guint status, const std::string &content_type,
             const std::string &body) {
  soup_server_message_set_status(msg, status, nullptr);
  soup_server_message_set_response(msg, content_type.c_str(), SOUP_MEMORY_COPY, body.data(),
                                   body.size());
}

const char *content_type_for(const std::string &path) {
  auto ends = [&](const char *suffix) { return g_str_has_suffix(path.c_str(), suffix); };
  if (ends(".html")) {
    return "text/html; charset=utf-8";
  }
  if (ends(".js")) {
    return "text/javascript; charset=utf-8";
  }
  if (ends(".css")) {
    return "text/css; charset=utf-8";
  }
  if (ends(".svg")) {
    return "image/svg+xml";
  }
  if (ends(".png")) {
    return "image/png";
  }
  return "application/octet-stream";
}

struct Claimed {
  Claims claims;
};

}  // namespace

struct Server::Impl {
  struct Conn {
    Impl *impl = nullptr;
    ConnectionId id = 0;
    Protocol protocol = Protocol::kV1;
    ws::Connection *ws = nullptr;  // owned by the hub; null once released
    std::string remote;
  };

  Config config;
  Logger &log;
  std::unique_ptr<RoomRegistry> rooms;
  std::unique_ptr<RoomRegistry> gst_rooms;
  Router router;
  GstRouter gst_router;
  GObjPtr<SoupServer> soup;
  std::unique_ptr<ws::Hub> hub;
  std::unordered_map<ConnectionId, std::unique_ptr<Conn>> conns;
  ConnectionId next_id = 1;
  SourceGuard ticker;
  SourceGuard grace;
  bool shutting_down = false;
  bool listening = false;
  std::function<void()> on_done;
  int bound_port = 0;
  int64_t started_mono_ms = 0;
  GResource *web = nullptr;
  std::vector<std::function<std::string()>> extra_metrics;
  MediaSessions *media = nullptr;
  std::vector<AdminRoute> admin_routes;

  // Counters for /metrics.
  uint64_t connections_total = 0;
  uint64_t messages_received = 0;
  uint64_t messages_relayed = 0;
  uint64_t errors_sent = 0;
  uint64_t timeouts = 0;
  uint64_t auth_failures = 0;

  Impl(Config c, Logger &l, std::unique_ptr<RoomRegistry> r, std::unique_ptr<RoomRegistry> g)
      : config(std::move(c)),
        log(l),
        rooms(r ? std::move(r) : std::make_unique<InMemoryRoomRegistry>()),
        gst_rooms(g ? std::move(g) : std::make_unique<InMemoryRoomRegistry>()),
        router(router_settings(config), *rooms),
        gst_router(GstRouterSettings{config.limits, config.keepalive_timeout_seconds * 1000},
                   *gst_rooms) {}

  static RouterSettings router_settings(const Config &config) {
    RouterSettings s;
    s.limits = config.limits;
    s.token_secret = config.token_secret;
    s.timeout_ms = config.keepalive_timeout_seconds * 1000;
    s.ice_servers = [&config](const std::string &user, Now at) {
      return ice_servers_for(config, user, at.unix_s);
    };
    return s;
  }

  ~Impl() {
    for (auto &[id, conn] : conns) {
      release(*conn);
    }
    conns.clear();
    if (soup) {
      soup_server_disconnect(soup.get());
    }
  }

  // --- WebSocket plumbing ---

  void release(Conn &conn) {
    if (!conn.ws) {
      return;
    }
    conn.ws->set_handlers({});
    conn.ws->close(kCloseGoingAway, "server stopped");
    conn.ws = nullptr;
  }

  void send_text(ConnectionId id, const std::string &text) {
    auto it = conns.find(id);
    if (it == conns.end() || !it->second->ws) {
      return;
    }
    it->second->ws->send_text(text);
  }

  void close_conn(const CloseAction &close) {
    auto it = conns.find(close.connection);
    if (it == conns.end()) {
      return;
    }
    if (close.code == kCloseTimeout) {
      ++timeouts;
    }
    if (close.code == kCloseUnauthorized || close.code == kCloseForbidden) {
      ++auth_failures;
    }
    log.info("close", {{"conn", std::to_string(close.connection)},
                       {"protocol", protocol_name(it->second->protocol)},
                       {"code", std::to_string(close.code)},
                       {"reason", close.reason}});
    if (it->second->ws) {
      it->second->ws->close(static_cast<uint16_t>(close.code), close.reason);
    }
  }

  void apply(Router::Out &&out) {
    messages_relayed += out.relayed;
    for (const auto &send : out.sends) {
      if (std::holds_alternative<Error>(send.message)) {
        ++errors_sent;
      }
      send_text(send.connection, serialize(send.message));
    }
    for (const auto &close : out.closes) {
      close_conn(close);
    }
    for (auto &request : out.media) {
      run_media(std::move(request));
    }
  }

  // Replies may come back from within these calls; each goes through the
  // router and apply() again, which the router's state allows.
  void run_media(MediaRequest request) {
    using Kind = MediaRequest::Kind;
    if (!media) {
      if (request.kind == Kind::kPublish || request.kind == Kind::kPlay) {
        apply(router.media_failed(request.session, ErrorCode::kMediaUnavailable,
                                  "this server does not run media sessions"));
      }
      return;
    }
    MediaSessions::Client client{request.subject, {}};
    if (auto conn = conns.find(request.connection); conn != conns.end()) {
      client.remote = conn->second->remote;
    }
    switch (request.kind) {
      case Kind::kPublish:
        log.info("ws-publish", {{"stream", request.stream}, {"session", request.session}});
        media->publish(request.session, request.stream, request.sdp, client);
        break;
      case Kind::kPlay:
        log.info("ws-play", {{"stream", request.stream}, {"session", request.session}});
        media->play(request.session, request.stream, request.sdp, client);
        break;
      case Kind::kCandidate:
        media->add_candidate(request.session, request.sdp_mid, request.sdp_mline_index,
                             request.candidate);
        break;
      case Kind::kStop:
        media->stop(request.session);
        break;
    }
  }

  void apply(GstRouter::Out &&out) {
    messages_relayed += out.relayed;
    for (const auto &send : out.sends) {
      if (g_str_has_prefix(send.message.c_str(), "ERROR")) {
        ++errors_sent;
      }
      send_text(send.connection, send.message);
    }
    for (const auto &close : out.closes) {
      close_conn(close);
    }
  }

  void on_message(Conn &conn, bool text_frame, std::string_view text) {
    ++messages_received;
    if (!text_frame) {
      // Binary frames have no meaning here; answer as the protocol answers garbage.
      text = conn.protocol == Protocol::kV1 ? std::string_view("<binary frame>") : text;
    }
    if (conn.protocol == Protocol::kV1) {
      apply(router.receive(conn.id, text, now()));
    } else {
      apply(gst_router.receive(conn.id, text, now()));
    }
  }

  void on_pong(Conn &conn) {
    if (conn.protocol == Protocol::kV1) {
      router.touch(conn.id, now());
    } else {
      gst_router.touch(conn.id, now());
    }
  }

  void on_closed(ConnectionId id, uint16_t code) {
    auto it = conns.find(id);
    if (it == conns.end()) {
      return;
    }
    std::unique_ptr<Conn> owned = std::move(it->second);
    conns.erase(it);
    owned->ws = nullptr;  // the hub is done with it
    log.info("disconnected", {{"conn", std::to_string(id)},
                              {"protocol", protocol_name(owned->protocol)},
                              {"code", std::to_string(code)}});
    if (owned->protocol == Protocol::kV1) {
      apply(router.disconnect(id, now()));
    } else {
      apply(gst_router.disconnect(id, now()));
    }
    maybe_finish_shutdown();
  }

  void accept(ws::Connection &ws, Protocol protocol, std::optional<Claims> claims) {
    auto conn = std::make_unique<Conn>();
    conn->impl = this;
    conn->id = next_id++;
    conn->protocol = protocol;
    conn->remote = ws.remote();
    ++connections_total;
    if (shutting_down) {
      ws.close(kCloseGoingAway, "server shutting down");
      return;
    }
    conn->ws = &ws;
    Conn *raw = conn.get();
    ConnectionId id = conn->id;
    ws.set_handlers({
        [this, raw](bool text, std::string_view payload) { on_message(*raw, text, payload); },
        [this, raw] { on_pong(*raw); },
        [this, id](uint16_t code) { on_closed(id, code); },
    });
    log.info("connected", {{"conn", std::to_string(id)},
                           {"protocol", protocol_name(protocol)},
                           {"remote", conn->remote}});
    conns.emplace(id, std::move(conn));
    if (protocol == Protocol::kV1) {
      apply(router.connect(id, std::move(claims), now()));
    } else {
      apply(gst_router.connect(id, now()));
    }
  }

  // Runs before the WebSocket handshake: a bad token never gets a socket.
  void authorize_upgrade(SoupServerMessage *msg, GHashTable *query, Protocol protocol) {
    if (config.token_secret.empty()) {
      return;
    }
    std::string token = request_token(msg, query);
    if (token.empty()) {
      if (protocol == Protocol::kV1) {
        return;  // may still arrive in hello; the router closes with 4001 otherwise
      }
      ++auth_failures;
      reply_error(msg, SOUP_STATUS_UNAUTHORIZED, "token required");
      return;
    }
    auto verified = verify_token(token, config.token_secret, now().unix_s);
    if (auto *failure = std::get_if<TokenError>(&verified)) {
      ++auth_failures;
      log.warn("unauthorized", {{"path", protocol == Protocol::kV1 ? "/ws" : "/ws/gst"},
                                {"reason", failure->reason}});
      reply_error(msg, SOUP_STATUS_UNAUTHORIZED, failure->reason);
      return;
    }
    Claims claims = std::get<Claims>(std::move(verified));
    if (!role_allows(claims.role, Role::kJoin)) {
      ++auth_failures;
      reply_error(
          msg, SOUP_STATUS_FORBIDDEN,
          std::string("a token with role ") + role_name(claims.role) + " cannot join rooms");
      return;
    }
    g_object_set_data_full(G_OBJECT(msg), "livepipe-claims", new Claimed{std::move(claims)},
                           [](gpointer p) { delete static_cast<Claimed *>(p); });
  }

  static void ws_http(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *query,
                      gpointer data) {
    auto *self = static_cast<Impl *>(data);
    Protocol protocol = std::strcmp(path, "/ws/gst") == 0 ? Protocol::kGst : Protocol::kV1;
    if (std::strcmp(path, "/ws") != 0 && protocol != Protocol::kGst) {
      reply_error(msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
      return;
    }
    self->authorize_upgrade(msg, query, protocol);
    if (soup_server_message_get_status(msg) != 0) {
      return;  // refused before the handshake
    }
    // No extensions are offered: permessage-deflate keeps a zlib state of a
    // few hundred KB per connection, and signaling messages are small.
    if (!soup_websocket_server_process_handshake(msg, nullptr, nullptr, nullptr, nullptr)) {
      return;  // libsoup has set the error status
    }
    std::optional<Claims> claims;
    if (auto *claimed =
            static_cast<Claimed *>(g_object_get_data(G_OBJECT(msg), "livepipe-claims"))) {
      claims = claimed->claims;
    }
    self->hub->upgrade(
        msg, [self, protocol, claims](ws::Connection &ws) { self->accept(ws, protocol, claims); });
  }

  // --- HTTP endpoints ---

  static void healthz(SoupServer *, SoupServerMessage *msg, const char *, GHashTable *,
                      gpointer data) {
    auto *self = static_cast<Impl *>(data);
    reply_json(
        msg, self->shutting_down ? SOUP_STATUS_SERVICE_UNAVAILABLE : SOUP_STATUS_OK,
        json::ObjectBuilder().set("status", self->shutting_down ? "stopping" : "ok").to_string());
  }

  static void metrics(SoupServer *, SoupServerMessage *msg, const char *, GHashTable *,
                      gpointer data) {
    auto *self = static_cast<Impl *>(data);
    std::string body;
    auto metric = [&](const char *name, const char *type, const char *help) {
      body += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    };
    metric("livepipe_signaling_connections", "gauge", "Open WebSocket connections.");
    body += "livepipe_signaling_connections{protocol=\"ws\"} " +
            std::to_string(self->router.connection_count()) + "\n";
    body += "livepipe_signaling_connections{protocol=\"gst\"} " +
            std::to_string(self->gst_router.connection_count()) + "\n";
    metric("livepipe_signaling_rooms", "gauge", "Rooms with at least one peer.");
    body += "livepipe_signaling_rooms{protocol=\"ws\"} " +
            std::to_string(self->rooms->room_count()) + "\n";
    body += "livepipe_signaling_rooms{protocol=\"gst\"} " +
            std::to_string(self->gst_rooms->room_count()) + "\n";
    auto counter = [&](const char *name, const char *help, uint64_t value) {
      metric(name, "counter", help);
      body += std::string(name) + " " + std::to_string(value) + "\n";
    };
    counter("livepipe_signaling_connections_total", "WebSocket connections accepted.",
            self->connections_total);
    counter("livepipe_signaling_messages_received_total", "WebSocket messages received.",
            self->messages_received);
    counter("livepipe_signaling_messages_relayed_total", "Messages relayed between peers.",
            self->messages_relayed);
    counter("livepipe_signaling_errors_sent_total", "Error replies sent.", self->errors_sent);
    counter("livepipe_signaling_timeouts_total", "Peers removed by the keepalive timeout.",
            self->timeouts);
    counter("livepipe_signaling_auth_failures_total", "Connections refused for their token.",
            self->auth_failures);
    metric("livepipe_signaling_uptime_seconds", "gauge", "Seconds since the server started.");
    body += "livepipe_signaling_uptime_seconds " +
            std::to_string((now().mono_ms - self->started_mono_ms) / 1000) + "\n";
    for (const auto &extra : self->extra_metrics) {
      body += extra();
    }
    respond(msg, SOUP_STATUS_OK, "text/plain; version=0.0.4", body);
  }

  json::NodePtr room_list() {
    json::NodePtr node(json_node_new(JSON_NODE_ARRAY));
    JsonArray *array = json_array_new();
    for (auto [registry, protocol] :
         {std::pair{rooms.get(), Protocol::kV1}, std::pair{gst_rooms.get(), Protocol::kGst}}) {
      for (const auto &room : registry->rooms()) {
        json_array_add_element(array, json::ObjectBuilder()
                                          .set("room", room)
                                          .set("protocol", protocol_name(protocol))
                                          .set("peers", int64_t(registry->member_count(room)))
                                          .build()
                                          .release());
      }
    }
    json_node_take_array(node.get(), array);
    return node;
  }

  static void admin(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *query,
                    gpointer data) {
    auto *self = static_cast<Impl *>(data);
    AdminAuth auth = authorize_admin(self->config, msg, query);
    if (auth == AdminAuth::kUnauthorized) {
      ++self->auth_failures;
    }
    if (auth != AdminAuth::kAllowed) {
      return;
    }
    std::string method = soup_server_message_get_method(msg);
    std::string route = path;
    auto is = [&](const char *prefix) { return route.rfind(prefix, 0) == 0; };
    if (route == "/api/v1/server") {
      if (method != "GET") {
        reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use GET");
        return;
      }
      json::NodePtr connections = json::ObjectBuilder()
                                      .set("ws", int64_t(self->router.connection_count()))
                                      .set("gst", int64_t(self->gst_router.connection_count()))
                                      .build();
      reply_json(
          msg, SOUP_STATUS_OK,
          json::ObjectBuilder()
              .set("version", LIVEPIPE_VERSION)
              .set("uptimeSeconds", (now().mono_ms - self->started_mono_ms) / 1000)
              .set("auth", !self->config.token_secret.empty())
              .set("connections", std::move(connections))
              .set("rooms", int64_t(self->rooms->room_count() + self->gst_rooms->room_count()))
              .to_string());
      return;
    }
    if (route == "/api/v1/rooms") {
      if (method != "GET") {
        reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use GET");
        return;
      }
      reply_json(msg, SOUP_STATUS_OK,
                 json::ObjectBuilder().set("rooms", self->room_list()).to_string());
      return;
    }
    if (is("/api/v1/rooms/")) {
      std::string room = route.substr(strlen("/api/v1/rooms/"));
      if (method != "GET") {
        reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use GET");
        return;
      }
      bool gst =
          query &&
          g_strcmp0(static_cast<const char *>(g_hash_table_lookup(query, "protocol")), "gst") == 0;
      RoomRegistry &registry = gst ? *self->gst_rooms : *self->rooms;
      if (registry.member_count(room) == 0) {
        reply_error(msg, SOUP_STATUS_NOT_FOUND, "no room " + room);
        return;
      }
      json::NodePtr peers(json_node_new(JSON_NODE_ARRAY));
      JsonArray *array = json_array_new();
      if (gst) {
        for (const auto &uid : registry.members(room)) {
          json_array_add_element(array, json::ObjectBuilder().set("id", uid).build().release());
        }
      } else {
        for (const auto &peer : self->router.room_peers(room)) {
          json_array_add_element(array, json::ObjectBuilder()
                                            .set("id", peer.id)
                                            .set("name", peer.name)
                                            .set("subject", peer.subject)
                                            .build()
                                            .release());
        }
      }
      json_node_take_array(peers.get(), array);
      reply_json(msg, SOUP_STATUS_OK,
                 json::ObjectBuilder()
                     .set("room", room)
                     .set("protocol", gst ? "gst" : "ws")
                     .set("peers", std::move(peers))
                     .to_string());
      return;
    }
    if (is("/api/v1/peers/")) {
      std::string peer = route.substr(strlen("/api/v1/peers/"));
      if (method != "DELETE") {
        reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use DELETE");
        return;
      }
      Router::Out out = self->router.kick(peer);
      if (!out.closes.empty()) {
        self->apply(std::move(out));
      } else {
        GstRouter::Out gst_out = self->gst_router.kick(peer);
        if (gst_out.closes.empty()) {
          reply_error(msg, SOUP_STATUS_NOT_FOUND, "no peer " + peer);
          return;
        }
        self->apply(std::move(gst_out));
      }
      self->log.info("kicked", {{"peer", peer}});
      soup_server_message_set_status(msg, SOUP_STATUS_NO_CONTENT, nullptr);
      return;
    }
    for (const auto &extra : self->admin_routes) {
      if (extra(msg, method, route, query)) {
        return;
      }
    }
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
  }

  static void files(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *,
                    gpointer data) {
    auto *self = static_cast<Impl *>(data);
    std::string method = soup_server_message_get_method(msg);
    if (method != "GET" && method != "HEAD") {
      reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use GET");
      return;
    }
    std::string name = std::strcmp(path, "/") == 0 ? "/index.html" : path;
    if (name.find("..") != std::string::npos || name.find('\\') != std::string::npos) {
      reply_error(msg, SOUP_STATUS_NOT_FOUND, "not found");
      return;
    }
    GBytes *bytes = nullptr;
    if (!self->config.web_root.empty()) {
      gchar *contents = nullptr;
      gsize length = 0;
      std::string file = self->config.web_root + name;
      if (g_file_test(file.c_str(), G_FILE_TEST_IS_REGULAR) &&
          g_file_get_contents(file.c_str(), &contents, &length, nullptr)) {
        bytes = g_bytes_new_take(contents, length);
      }
    } else {
      bytes = g_resource_lookup_data(self->web, ("/org/livepipe/web" + name).c_str(),
                                     G_RESOURCE_LOOKUP_FLAGS_NONE, nullptr);
    }
    if (!bytes) {
      reply_error(msg, SOUP_STATUS_NOT_FOUND, "not found");
      return;
    }
    gsize size = 0;
    const void *content = g_bytes_get_data(bytes, &size);
    soup_server_message_set_status(msg, SOUP_STATUS_OK, nullptr);
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control",
                                 "no-cache");
    soup_server_message_set_response(msg, content_type_for(name), SOUP_MEMORY_COPY,
                                     static_cast<const char *>(content), size);
    g_bytes_unref(bytes);
  }

  // --- lifecycle ---

  void maybe_finish_shutdown() {
    if (shutting_down && conns.empty() && on_done) {
      finish_shutdown();
    }
  }

  void finish_shutdown() {
    grace.reset();
    ticker.reset();
    for (auto &[id, conn] : conns) {
      release(*conn);
    }
    conns.clear();
    if (listening) {
      soup_server_disconnect(soup.get());
      listening = false;
    }
    log.info("stopped");
    if (auto done = std::exchange(on_done, nullptr)) {
      done();
    }
  }
};

Server::Server(Config config, Logger &log, std::unique_ptr<RoomRegistry> rooms,
               std::unique_ptr<RoomRegistry> gst_rooms)
    : impl_(
          std::make_unique<Impl>(std::move(config), log, std::move(rooms), std::move(gst_rooms))) {}

Server::~Server() = default;

bool Server::start(std::string *error) {
  Impl &s = *impl_;
  s.web = livepipe_web_get_resource();
  GError *gerror = nullptr;
  GTlsCertificate *certificate = nullptr;
  if (s.config.tls()) {
    certificate = g_tls_certificate_new_from_files(s.config.tls_cert.c_str(),
                                                   s.config.tls_key.c_str(), &gerror);
    if (!certificate) {
      *error = std::string("TLS certificate: ") + gerror->message;
      g_error_free(gerror);
      return false;
    }
  }
  s.soup.reset(static_cast<SoupServer *>(g_object_new(SOUP_TYPE_SERVER, "server-header",
                                                      "livepipe/" LIVEPIPE_VERSION " ",
                                                      "tls-certificate", certificate, nullptr)));
  if (certificate) {
    g_object_unref(certificate);
  }
  SoupServer *server = s.soup.get();
  ws::HubSettings hub_settings;
  // Frames a little over the limit still reach the router, which answers
  // with a clear "too-large" error; far bigger ones are cut off (close code
  // 1009) before they are buffered whole.
  hub_settings.max_message_bytes = static_cast<uint64_t>(s.config.limits.max_message_bytes) * 4;
  hub_settings.ping_interval_ms = s.config.keepalive_interval_seconds * 1000;
  s.hub = std::make_unique<ws::Hub>(hub_settings);
  // libsoup 3.2 never notices a client closing an idle keep-alive connection
  // (fixed upstream in 3.3): each one stays in CLOSE-WAIT and keeps its file
  // descriptor forever. Plain HTTP exchanges therefore end their connection
  // after the response; WebSocket upgrades keep theirs.
  g_signal_connect(server, "request-read", G_CALLBACK(+[](SoupServer *, SoupServerMessage *msg) {
                     SoupMessageHeaders *request = soup_server_message_get_request_headers(msg);
                     if (!soup_message_headers_header_contains(request, "Upgrade", "websocket")) {
                       soup_message_headers_replace(soup_server_message_get_response_headers(msg),
                                                    "Connection", "close");
                     }
                   }),
                   nullptr);
  soup_server_add_handler(server, "/ws", Impl::ws_http, &s, nullptr);
  soup_server_add_handler(server, "/ws/gst", Impl::ws_http, &s, nullptr);
  soup_server_add_handler(server, "/healthz", Impl::healthz, &s, nullptr);
  soup_server_add_handler(server, "/metrics", Impl::metrics, &s, nullptr);
  soup_server_add_handler(server, "/api/v1", Impl::admin, &s, nullptr);
  soup_server_add_handler(server, "/", Impl::files, &s, nullptr);

  GInetAddress *address = g_inet_address_new_from_string(s.config.host.c_str());
  if (!address) {
    *error = "invalid listen address " + s.config.host;
    return false;
  }
  GSocketAddress *socket_address = g_inet_socket_address_new(address, s.config.port);
  g_object_unref(address);
  // Our own socket for a long accept queue: with the default of 10, a burst of
  // connecting peers overflows it and their retried SYNs wait for seconds.
  GSocket *socket = g_socket_new(g_socket_address_get_family(socket_address), G_SOCKET_TYPE_STREAM,
                                 G_SOCKET_PROTOCOL_TCP, &gerror);
  gboolean ok = socket != nullptr;
  if (ok) {
    g_socket_set_listen_backlog(socket, 4096);
    ok = g_socket_bind(socket, socket_address, TRUE, &gerror) && g_socket_listen(socket, &gerror) &&
         soup_server_listen_socket(
             server, socket,
             s.config.tls() ? SOUP_SERVER_LISTEN_HTTPS : static_cast<SoupServerListenOptions>(0),
             &gerror);
    g_object_unref(socket);
  }
  g_object_unref(socket_address);
  if (!ok) {
    *error = "cannot listen on " + s.config.host + ":" + std::to_string(s.config.port) + ": " +
             gerror->message;
    g_error_free(gerror);
    return false;
  }
  s.listening = true;
  GSList *uris = soup_server_get_uris(server);
  if (uris) {
    s.bound_port = g_uri_get_port(static_cast<GUri *>(uris->data));
  }
  g_slist_free_full(uris, reinterpret_cast<GDestroyNotify>(g_uri_unref));
  s.started_mono_ms = now().mono_ms;
  s.ticker = add_timeout(g_main_context_get_thread_default(), 1000, [&s] {
    s.apply(s.router.tick(now()));
    s.apply(s.gst_router.tick(now()));
    return true;
  });
  if (s.config.token_secret.empty()) {
    s.log.warn("open-server",
               {{"detail",
                 "no auth.secret configured: anyone who can reach this server may join "
                 "any room and use the admin API"}});
  }
  s.log.info("listening", {{"url", url()}, {"tls", s.config.tls() ? "yes" : "no"}});
  return true;
}

int Server::port() const {
  return impl_->bound_port;
}

std::string Server::url() const {
  std::string host = impl_->config.host;
  if (host == "0.0.0.0") {
    host = "127.0.0.1";
  } else if (host.find(':') != std::string::npos) {
    host = "[" + host + "]";
  }
  return std::string(impl_->config.tls() ? "https" : "http") + "://" + host + ":" +
         std::to_string(impl_->bound_port) + "/";
}

SoupServer *Server::soup_server() const {
  return impl_->soup.get();
}

void Server::add_metrics(std::function<std::string()> text) {
  impl_->extra_metrics.push_back(std::move(text));
}

void Server::set_media_sessions(MediaSessions *media) {
  Impl &s = *impl_;
  s.media = media;
  if (!media) {
    return;
  }
  MediaSessions::Events events;
  events.answered = [&s](const std::string &session, const std::string &answer) {
    s.apply(s.router.media_answered(session, answer));
  };
  events.failed = [&s](const std::string &session, ErrorCode code, const std::string &message) {
    s.apply(s.router.media_failed(session, code, message));
  };
  events.ended = [&s](const std::string &session, const std::string &reason) {
    s.apply(s.router.media_ended(session, reason));
  };
  media->set_events(std::move(events));
}

void Server::add_admin_route(AdminRoute route) {
  impl_->admin_routes.push_back(std::move(route));
}

void Server::shutdown(std::function<void()> done) {
  Impl &s = *impl_;
  if (s.shutting_down) {
    return;
  }
  s.shutting_down = true;
  s.on_done = std::move(done);
  s.log.info("shutting-down", {{"connections", std::to_string(s.conns.size())}});
  s.apply(s.router.shutdown("server shutting down"));
  s.apply(s.gst_router.shutdown("server shutting down"));
  if (s.conns.empty()) {
    s.finish_shutdown();
    return;
  }
  s.grace = add_timeout(g_main_context_get_thread_default(),
                        static_cast<guint>(std::max<int64_t>(1, s.config.shutdown_grace_ms)), [&s] {
                          s.finish_shutdown();
                          return false;
                        });
}

}  // namespace livepipe::signaling
