// A small WebSocket client for tests and benchmarks, on libsoup, driven by
// iterating the thread-default main context with a deadline (never forever).
#pragma once

#include <libsoup/soup.h>

#include <chrono>
#include <deque>
#include <functional>
#include <optional>
#include <string>

namespace livepipe::testing {

// Iterates the thread-default context until `done` or `timeout`; returns done().
inline bool iterate_until(const std::function<bool()> &done,
                          std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  GMainContext *context = g_main_context_get_thread_default();
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    // Bounded wait so the deadline is checked even when nothing happens.
    GSource *wake = g_timeout_source_new(20);
    g_source_set_callback(
        wake, [](gpointer) { return G_SOURCE_REMOVE; }, nullptr, nullptr);
    g_source_attach(wake, context);
    g_main_context_iteration(context, TRUE);
    g_source_destroy(wake);
    g_source_unref(wake);
  }
  return true;
}

class WsClient {
 public:
  WsClient() : session_(soup_session_new()) {}
  ~WsClient() {
    if (ws_) {
      g_signal_handlers_disconnect_by_data(ws_, this);
      if (soup_websocket_connection_get_state(ws_) == SOUP_WEBSOCKET_STATE_OPEN) {
        soup_websocket_connection_close(ws_, 1000, nullptr);
      }
      g_object_unref(ws_);
    }
    g_object_unref(session_);
  }
  WsClient(const WsClient &) = delete;
  WsClient &operator=(const WsClient &) = delete;

  // Connects and waits; false with http_status/error set on failure.
  bool connect(const std::string &url,
               std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    SoupMessage *msg = soup_message_new("GET", url.c_str());
    if (!msg) {
      error = "bad URL";
      return false;
    }
    bool finished = false;
    soup_session_websocket_connect_async(
        session_, msg, nullptr, nullptr, G_PRIORITY_DEFAULT, nullptr,
        [](GObject *source, GAsyncResult *result, gpointer data) {
          auto *self = static_cast<WsClient *>(data);
          GError *err = nullptr;
          self->ws_ = soup_session_websocket_connect_finish(SOUP_SESSION(source), result, &err);
          if (err) {
            self->error = err->message;
            g_error_free(err);
          }
          self->connect_done_ = true;
        },
        this);
    iterate_until([&] { return connect_done_; }, timeout);
    finished = connect_done_;
    http_status = soup_message_get_status(msg);
    g_object_unref(msg);
    if (!finished || !ws_) {
      return false;
    }
    soup_websocket_connection_set_max_incoming_payload_size(ws_, 64 * 1024 * 1024);
    g_signal_connect(ws_, "message", G_CALLBACK(on_message), this);
    g_signal_connect(ws_, "closed", G_CALLBACK(on_closed), this);
    return true;
  }

  void send(const std::string &text) {
    if (ws_ && soup_websocket_connection_get_state(ws_) == SOUP_WEBSOCKET_STATE_OPEN) {
      soup_websocket_connection_send_text(ws_, text.c_str());
    }
  }
  void close(int code = 1000) {
    if (ws_ && soup_websocket_connection_get_state(ws_) == SOUP_WEBSOCKET_STATE_OPEN) {
      soup_websocket_connection_close(ws_, static_cast<gushort>(code), nullptr);
    }
  }

  // The next message, waiting up to `timeout`.
  std::optional<std::string> next(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    iterate_until([&] { return !inbox.empty() || closed; }, timeout);
    if (inbox.empty()) {
      return std::nullopt;
    }
    std::string front = std::move(inbox.front());
    inbox.pop_front();
    return front;
  }
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return iterate_until([&] { return closed; }, timeout);
  }

  // When set, messages go here instead of the inbox.
  std::function<void(const std::string &)> on_text;
  std::deque<std::string> inbox;
  bool closed = false;
  int close_code = 0;
  std::string close_reason;
  guint http_status = 0;
  std::string error;

 private:
  static void on_message(SoupWebsocketConnection *, gint, GBytes *message, gpointer data) {
    auto *self = static_cast<WsClient *>(data);
    gsize size = 0;
    const char *bytes = static_cast<const char *>(g_bytes_get_data(message, &size));
    std::string text(bytes ? bytes : "", size);
    if (self->on_text) {
      self->on_text(text);
    } else {
      self->inbox.push_back(std::move(text));
    }
  }
  static void on_closed(SoupWebsocketConnection *ws, gpointer data) {
    auto *self = static_cast<WsClient *>(data);
    self->closed = true;
    self->close_code = soup_websocket_connection_get_close_code(ws);
    const char *reason = soup_websocket_connection_get_close_data(ws);
    self->close_reason = reason ? reason : "";
  }

  SoupSession *session_;
  SoupWebsocketConnection *ws_ = nullptr;
  bool connect_done_ = false;
};

}  // namespace livepipe::testing
