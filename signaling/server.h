// The libsoup transport of `livepipe serve`: HTTP and WebSocket endpoints
// around the pure routers. It carries out what the routers decide and knows
// none of their rules.
#pragma once

#include "config.h"
#include "log.h"
#include "media_sessions.h"
#include "registry.h"

#include <libsoup/soup.h>

#include <functional>
#include <memory>
#include <string>

namespace livepipe::signaling {

class Server {
 public:
  // `rooms` and `gst_rooms` hold the two protocols' rooms (separate name
  // spaces: their peers cannot talk to each other); null means in memory.
  Server(Config config, Logger &log, std::unique_ptr<RoomRegistry> rooms = nullptr,
         std::unique_ptr<RoomRegistry> gst_rooms = nullptr);
  ~Server();
  Server(const Server &) = delete;
  Server &operator=(const Server &) = delete;

  // Listens on the configured address; runs on the thread-default main context.
  bool start(std::string *error);
  int port() const;
  // The web page's URL, e.g. http://127.0.0.1:8080/
  std::string url() const;

  // The HTTP server, for endpoints served beside the built-in ones (WHIP,
  // WHEP); valid after start().
  SoupServer *soup_server() const;
  // Adds Prometheus text to /metrics.
  void add_metrics(std::function<std::string()> text);
  // Where protocol v1's publish and play go; without it they are refused
  // with media-unavailable. `media` must outlive the server.
  void set_media_sessions(MediaSessions *media);
  // Adds endpoints below /api/v1, behind the admin token check. `route` gets
  // each request no built-in endpoint took (method, path, query may be null)
  // and returns false when the path is not its own.
  using AdminRoute = std::function<bool(SoupServerMessage *msg, const std::string &method,
                                        const std::string &path, GHashTable *query)>;
  void add_admin_route(AdminRoute route);

  // Tells every peer the server is going away, closes their sockets and stops
  // listening. `done` runs once every socket is closed or the grace period
  // has passed.
  void shutdown(std::function<void()> done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace livepipe::signaling
