// WebSocket connections after the HTTP upgrade, all driven from one epoll
// descriptor. libsoup's own WebSocketConnection keeps a GSource per socket on
// the main context, and GLib's main loop polls every socket and walks every
// source on each wake-up, so with thousands of idle peers each event cost
// time in proportion to the number of peers. Here the main context sees a
// single descriptor whatever the number of connections; the upgrade itself
// (HTTP request, 101 response, TLS) stays with libsoup.
#pragma once

#include "ws_frame.h"

#include <libsoup/soup.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace livepipe::signaling::ws {

struct HubSettings {
  uint64_t max_message_bytes = 256 * 1024;  // larger messages close with 1009
  int64_t ping_interval_ms = 15000;         // 0: no pings
  int64_t close_timeout_ms = 2000;          // wait for the peer's close frame
};

class Hub;

class Connection {
 public:
  struct Handlers {
    std::function<void(bool text, std::string_view payload)> message;
    std::function<void()> pong;
    // Last call for this connection; it is destroyed after it returns.
    std::function<void(uint16_t code)> closed;
  };

  ~Connection();
  Connection(const Connection &) = delete;
  Connection &operator=(const Connection &) = delete;

  void set_handlers(Handlers handlers) { handlers_ = std::move(handlers); }
  bool open() const { return state_ == State::kOpen; }
  // Queued when the socket cannot take it yet; dropped unless open.
  void send_text(std::string_view text);
  // Starts the closing handshake; `closed` follows when the peer answers or
  // after the close timeout.
  void close(uint16_t code, std::string_view reason);
  // The code the peer closed with (kCloseAbnormal when it just went away).
  uint16_t close_code() const { return close_code_; }
  const std::string &remote() const { return remote_; }

 private:
  friend class Hub;
  enum class State { kOpen, kClosing, kClosed };

  Connection(Hub &hub, GIOStream *stream, int fd, std::string remote, uint64_t max_message);
  void queue(std::string frame);
  void flush();
  void read();
  void handle(Event &event);
  void finish(uint16_t code);

  Hub &hub_;
  GIOStream *stream_;  // owned reference
  GPollableInputStream *in_;
  GPollableOutputStream *out_;
  int fd_;
  std::string remote_;
  Decoder decoder_;
  std::string pending_;  // bytes not yet taken by the socket
  size_t pending_offset_ = 0;
  bool want_write_ = false;
  State state_ = State::kOpen;
  bool close_sent_ = false;
  bool close_after_flush_ = false;
  uint16_t close_code_ = kCloseAbnormal;
  int64_t close_deadline_us_ = 0;
  int64_t next_ping_us_ = 0;
  Handlers handlers_;
};

class Hub {
 public:
  // Attaches to the thread-default main context.
  explicit Hub(HubSettings settings);
  ~Hub();  // drops every connection without callbacks
  Hub(const Hub &) = delete;
  Hub &operator=(const Hub &) = delete;

  // For a request whose handshake soup_websocket_server_process_handshake()
  // accepted: once the 101 response is written the connection is taken over
  // and `ready` is called with it (not called if the client went away).
  void upgrade(SoupServerMessage *msg, std::function<void(Connection &)> ready);

  size_t size() const { return connections_.size(); }

 private:
  friend class Connection;
  struct Source;
  struct Pending;

  void adopt(GIOStream *stream, int fd, std::string remote,
             const std::function<void(Connection &)> &ready);
  void watch(Connection &conn, bool write);
  void retire(Connection &conn);
  void dispatch();
  void sweep();

  HubSettings settings_;
  int epoll_fd_ = -1;
  Source *source_ = nullptr;
  guint sweep_id_ = 0;
  std::unordered_map<int, std::unique_ptr<Connection>> connections_;  // by fd
  std::vector<std::unique_ptr<Connection>> retired_;
  std::shared_ptr<bool> alive_;  // lets upgrades in flight outlive the hub
};

}  // namespace livepipe::signaling::ws
