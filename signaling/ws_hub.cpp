#include "ws_hub.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <array>

namespace livepipe::signaling::ws {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
// A peer that keeps its socket full gets this much read per wake-up, so one
// busy connection cannot starve the others (epoll is level-triggered: the
// rest is read on the next wake-up).
constexpr size_t kReadBudget = 256 * 1024;
constexpr int kMaxEvents = 256;

}  // namespace

// The GSource that puts the epoll descriptor on the main context.
struct Hub::Source {
  GSource base;
  Hub *hub;
};

struct Hub::Pending {
  Hub *hub;
  std::shared_ptr<bool> alive;
  std::function<void(Connection &)> ready;
};

// --- Connection ---

Connection::Connection(Hub &hub, GIOStream *stream, int fd, std::string remote,
                       uint64_t max_message)
    : hub_(hub),
      stream_(stream),
      in_(G_POLLABLE_INPUT_STREAM(g_io_stream_get_input_stream(stream))),
      out_(G_POLLABLE_OUTPUT_STREAM(g_io_stream_get_output_stream(stream))),
      fd_(fd),
      remote_(std::move(remote)),
      decoder_(max_message) {}

Connection::~Connection() {
  // The stream owns the socket; closing it closes the descriptor.
  g_io_stream_close(stream_, nullptr, nullptr);
  g_object_unref(stream_);
}

void Connection::send_text(std::string_view text) {
  if (state_ != State::kOpen) {
    return;
  }
  queue(encode(Opcode::kText, text));
}

void Connection::close(uint16_t code, std::string_view reason) {
  if (state_ != State::kOpen) {
    return;
  }
  state_ = State::kClosing;
  close_sent_ = true;
  close_deadline_us_ = g_get_monotonic_time() + hub_.settings_.close_timeout_ms * 1000;
  queue(encode_close(code, reason));
}

void Connection::queue(std::string frame) {
  if (pending_offset_ == pending_.size()) {
    pending_ = std::move(frame);
    pending_offset_ = 0;
  } else {
    pending_ += frame;
  }
  flush();
}

void Connection::flush() {
  while (state_ != State::kClosed && pending_offset_ < pending_.size()) {
    GError *error = nullptr;
    gssize n = g_pollable_output_stream_write_nonblocking(out_, pending_.data() + pending_offset_,
                                                          pending_.size() - pending_offset_,
                                                          nullptr, &error);
    if (n > 0) {
      pending_offset_ += static_cast<size_t>(n);
      continue;
    }
    const bool would_block = error && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
    g_clear_error(&error);
    if (would_block) {
      if (!want_write_) {
        hub_.watch(*this, true);
      }
      return;
    }
    finish(kCloseAbnormal);
    return;
  }
  if (state_ == State::kClosed) {
    return;
  }
  pending_.clear();
  pending_offset_ = 0;
  if (pending_.capacity() > 64 * 1024) {
    pending_.shrink_to_fit();  // idle peers keep no burst-sized buffers
  }
  if (want_write_) {
    hub_.watch(*this, false);
  }
  if (close_after_flush_) {
    finish(close_code_);
  }
}

void Connection::read() {
  std::array<char, kReadChunk> chunk;
  const bool tls = G_IS_TLS_CONNECTION(stream_);
  size_t total = 0;
  // TLS keeps decrypted bytes the socket no longer signals, so a TLS stream
  // is read until it would block.
  while (state_ != State::kClosed && (tls || total < kReadBudget)) {
    GError *error = nullptr;
    gssize n =
        g_pollable_input_stream_read_nonblocking(in_, chunk.data(), chunk.size(), nullptr, &error);
    if (n < 0) {
      const bool would_block = g_error_matches(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) != FALSE;
      g_clear_error(&error);
      if (!would_block) {
        finish(kCloseAbnormal);
      }
      return;
    }
    if (n == 0) {
      // The peer went away; a close frame it sent first was handled already.
      finish(close_code_);
      return;
    }
    total += static_cast<size_t>(n);
    decoder_.feed(std::string_view(chunk.data(), static_cast<size_t>(n)));
    Event event;
    while (state_ != State::kClosed && !close_after_flush_ && decoder_.next(&event)) {
      handle(event);
    }
  }
}

void Connection::handle(Event &event) {
  switch (event.kind) {
    case Event::Kind::kText:
    case Event::Kind::kBinary:
      if (state_ == State::kOpen && handlers_.message) {
        handlers_.message(event.kind == Event::Kind::kText, event.payload);
      }
      return;
    case Event::Kind::kPing:
      if (state_ == State::kOpen) {
        queue(encode(Opcode::kPong, event.payload));
      }
      return;
    case Event::Kind::kPong:
      if (handlers_.pong) {
        handlers_.pong();
      }
      return;
    case Event::Kind::kClose:
      close_code_ = event.code;
      close_after_flush_ = true;
      if (!close_sent_) {
        close_sent_ = true;
        state_ = State::kClosing;
        // Echo the peer's code, as the closing handshake asks.
        queue(encode_close(event.code == kCloseNoStatus ? kCloseNormal : event.code, ""));
      } else {
        flush();
      }
      return;
    case Event::Kind::kError:
      // A broken stream is failed: say why, then drop the connection.
      close_code_ = event.code;
      close_after_flush_ = true;
      if (!close_sent_) {
        close_sent_ = true;
        state_ = State::kClosing;
        queue(encode_close(event.code, event.payload));
      } else {
        flush();
      }
      return;
  }
}

void Connection::finish(uint16_t code) {
  if (state_ == State::kClosed) {
    return;
  }
  state_ = State::kClosed;
  close_code_ = code;
  hub_.retire(*this);
  if (auto closed = std::move(handlers_.closed)) {
    handlers_ = {};
    closed(code);
  }
}

// --- Hub ---

Hub::Hub(HubSettings settings) : settings_(settings) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    g_error("epoll_create1 failed: %s", g_strerror(errno));
  }
  static GSourceFuncs funcs = {
      nullptr,
      nullptr,
      [](GSource *source, GSourceFunc, gpointer) -> gboolean {
        reinterpret_cast<Source *>(source)->hub->dispatch();
        return G_SOURCE_CONTINUE;
      },
      nullptr,
      nullptr,
      nullptr,
  };
  source_ = reinterpret_cast<Source *>(g_source_new(&funcs, sizeof(Source)));
  source_->hub = this;
  g_source_set_name(&source_->base, "livepipe websocket hub");
  g_source_add_unix_fd(&source_->base, epoll_fd_, G_IO_IN);
  g_source_attach(&source_->base, g_main_context_get_thread_default());

  GSource *timer = g_timeout_source_new(500);
  g_source_set_callback(
      timer,
      [](gpointer data) -> gboolean {
        static_cast<Hub *>(data)->sweep();
        return G_SOURCE_CONTINUE;
      },
      this, nullptr);
  sweep_id_ = g_source_attach(timer, g_main_context_get_thread_default());
  g_source_unref(timer);
  alive_ = std::make_shared<bool>(true);
}

Hub::~Hub() {
  *alive_ = false;
  if (GSource *timer =
          g_main_context_find_source_by_id(g_main_context_get_thread_default(), sweep_id_)) {
    g_source_destroy(timer);
  }
  g_source_destroy(&source_->base);
  g_source_unref(&source_->base);
  connections_.clear();
  retired_.clear();
  ::close(epoll_fd_);
}

void Hub::upgrade(SoupServerMessage *msg, std::function<void(Connection &)> ready) {
  auto *pending = new Pending{this, alive_, std::move(ready)};
  g_signal_connect_data(
      msg, "wrote-informational", G_CALLBACK(+[](SoupServerMessage *msg, gpointer data) {
        auto *pending = static_cast<Pending *>(data);
        if (!*pending->alive ||
            soup_server_message_get_status(msg) != SOUP_STATUS_SWITCHING_PROTOCOLS) {
          return;
        }
        GSocket *socket = soup_server_message_get_socket(msg);
        const char *host = soup_server_message_get_remote_host(msg);
        std::string remote = host ? host : "";
        int fd = socket ? g_socket_get_fd(socket) : -1;
        GIOStream *stream = soup_server_message_steal_connection(msg);
        if (!stream) {
          return;
        }
        if (fd < 0) {
          g_object_unref(stream);
          return;
        }
        pending->hub->adopt(stream, fd, std::move(remote), pending->ready);
      }),
      pending, [](gpointer data, GClosure *) { delete static_cast<Pending *>(data); },
      static_cast<GConnectFlags>(0));
}

void Hub::adopt(GIOStream *stream, int fd, std::string remote,
                const std::function<void(Connection &)> &ready) {
  std::unique_ptr<Connection> owned(
      new Connection(*this, stream, fd, std::move(remote), settings_.max_message_bytes));
  Connection &conn = *owned;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP;
  event.data.fd = fd;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    return;  // the connection is dropped; the client sees it close
  }
  if (settings_.ping_interval_ms > 0) {
    conn.next_ping_us_ = g_get_monotonic_time() + settings_.ping_interval_ms * 1000;
  }
  connections_[fd] = std::move(owned);
  ready(conn);
  // Frames the client sent right behind its upgrade request may already sit
  // in the stream's buffer, where epoll cannot see them.
  conn.read();
  retired_.clear();
}

void Hub::watch(Connection &conn, bool write) {
  conn.want_write_ = write;
  epoll_event event{};
  event.events = EPOLLIN | EPOLLRDHUP | (write ? EPOLLOUT : 0u);
  event.data.fd = conn.fd_;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, conn.fd_, &event);
}

void Hub::retire(Connection &conn) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, conn.fd_, nullptr);
  auto it = connections_.find(conn.fd_);
  if (it != connections_.end() && it->second.get() == &conn) {
    // Kept alive until the current dispatch is over: callers up the stack
    // may still be inside one of its methods.
    retired_.push_back(std::move(it->second));
    connections_.erase(it);
  }
}

void Hub::dispatch() {
  std::array<epoll_event, kMaxEvents> events;
  int n = epoll_wait(epoll_fd_, events.data(), kMaxEvents, 0);
  for (int i = 0; i < n; ++i) {
    auto it = connections_.find(events[i].data.fd);
    if (it == connections_.end()) {
      continue;  // closed by an earlier event of this batch
    }
    Connection &conn = *it->second;
    if (events[i].events & EPOLLOUT) {
      conn.flush();
    }
    if (conn.state_ != Connection::State::kClosed &&
        (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
      conn.read();
    }
  }
  retired_.clear();
}

void Hub::sweep() {
  const int64_t now = g_get_monotonic_time();
  std::vector<int> due;
  for (const auto &[fd, conn] : connections_) {
    const bool ping = conn->state_ == Connection::State::kOpen && conn->next_ping_us_ &&
                      now >= conn->next_ping_us_;
    const bool expired = conn->state_ == Connection::State::kClosing && conn->close_deadline_us_ &&
                         now >= conn->close_deadline_us_;
    if (ping || expired) {
      due.push_back(fd);
    }
  }
  for (int fd : due) {
    auto it = connections_.find(fd);
    if (it == connections_.end()) {
      continue;
    }
    Connection &conn = *it->second;
    if (conn.state_ == Connection::State::kClosing) {
      conn.finish(conn.close_code_);
    } else {
      conn.next_ping_us_ = now + settings_.ping_interval_ms * 1000;
      conn.queue(encode(Opcode::kPing, ""));
    }
  }
  retired_.clear();
}

}  // namespace livepipe::signaling::ws
