#include "notifier.h"

#include "service.h"
#include "util/json.h"

#include <libsoup/soup.h>

#include <algorithm>
#include <map>
#include <set>

namespace livepipe::signaling::media {
namespace {

// Events waiting for a retry or in flight at once; more are dropped (and
// counted) rather than letting a dead endpoint grow the server's memory.
constexpr size_t kMaxPending = 1000;
constexpr int64_t kMaxDelayMs = 60 * 1000;

}  // namespace

int64_t retry_delay_ms(int64_t initial_ms, int attempt) {
  int64_t delay = initial_ms;
  for (int i = 2; i < attempt && delay < kMaxDelayMs; ++i) {
    delay *= 2;
  }
  return std::min(delay, kMaxDelayMs);
}

struct Notifier::Impl {
  struct Delivery {
    Impl *owner = nullptr;  // null once the notifier is gone
    std::string url;
    std::string event;
    std::string body;
    int attempt = 0;
    guint timer = 0;  // the retry wait or the attempt's timeout
    bool timed_out = false;
    GCancellable *cancellable = nullptr;
    ~Delivery() {
      if (cancellable) {
        g_object_unref(cancellable);
      }
    }
  };
  // A run of failures at one endpoint.
  struct Burst {
    uint64_t failures = 0;
    uint64_t dropped = 0;
  };

  int64_t timeout_ms;
  int64_t attempts;
  int64_t backoff_ms;
  Logger &log;
  SoupSession *session = soup_session_new();
  std::set<Delivery *> pending;
  std::map<std::string, Burst> bursts;                                  // by URL, while failing
  std::map<std::string, uint64_t> delivered, dropped, failed_attempts;  // by event

  Impl(int64_t t, int64_t a, int64_t b, Logger &l)
      : timeout_ms(t), attempts(a), backoff_ms(b), log(l) {}

  ~Impl() {
    for (Delivery *d : pending) {
      d->owner = nullptr;
      if (d->timer) {
        g_source_remove(d->timer);
        d->timer = 0;
      }
      if (d->cancellable) {
        g_cancellable_cancel(d->cancellable);  // its callback frees it
      } else {
        delete d;
      }
    }
    g_object_unref(session);
  }

  void attempt(Delivery *d) {
    ++d->attempt;
    d->timed_out = false;
    SoupMessage *msg = soup_message_new(SOUP_METHOD_POST, d->url.c_str());
    if (!msg) {
      failed(d, "not an http(s) URL");
      return;
    }
    GBytes *bytes = g_bytes_new(d->body.data(), d->body.size());
    soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
    g_bytes_unref(bytes);
    d->cancellable = g_cancellable_new();
    d->timer = g_timeout_add_once(
        static_cast<guint>(timeout_ms),
        +[](gpointer data) {
          auto *delivery = static_cast<Delivery *>(data);
          delivery->timer = 0;
          delivery->timed_out = true;
          g_cancellable_cancel(delivery->cancellable);
        },
        d);
    soup_session_send_and_read_async(session, msg, G_PRIORITY_DEFAULT, d->cancellable, on_sent, d);
    g_object_unref(msg);
  }

  static void on_sent(GObject *source, GAsyncResult *result, gpointer data) {
    auto *d = static_cast<Delivery *>(data);
    GError *error = nullptr;
    GBytes *bytes = soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
    if (bytes) {
      g_bytes_unref(bytes);
    }
    if (!d->owner) {
      g_clear_error(&error);
      delete d;
      return;
    }
    Impl *self = d->owner;
    if (d->timer) {
      g_source_remove(d->timer);
      d->timer = 0;
    }
    g_object_unref(d->cancellable);
    d->cancellable = nullptr;
    SoupMessage *msg = soup_session_get_async_result_message(SOUP_SESSION(source), result);
    guint status = msg ? soup_message_get_status(msg) : 0;
    if (error) {
      std::string why = d->timed_out
                            ? "no answer within " + std::to_string(self->timeout_ms) + " ms"
                            : std::string(error->message);
      g_error_free(error);
      self->failed(d, why);
    } else if (status < 200 || status > 299) {
      self->failed(d, "HTTP status " + std::to_string(status));
    } else {
      self->succeeded(d);
    }
  }

  void succeeded(Delivery *d) {
    ++delivered[d->event];
    if (auto it = bursts.find(d->url); it != bursts.end()) {
      log.info("notify-recovered", {{"url", d->url},
                                    {"failures", std::to_string(it->second.failures)},
                                    {"dropped", std::to_string(it->second.dropped)}});
      bursts.erase(it);
    }
    pending.erase(d);
    delete d;
  }

  void failed(Delivery *d, const std::string &why) {
    ++failed_attempts[d->event];
    auto [burst, first] = bursts.try_emplace(d->url);
    ++burst->second.failures;
    if (first) {
      log.warn("notify-failed", {{"url", d->url},
                                 {"event", d->event},
                                 {"error", why},
                                 {"attempt", std::to_string(d->attempt)},
                                 {"retry", d->attempt < attempts ? "yes" : "no"}});
    }
    if (d->attempt >= attempts) {
      ++dropped[d->event];
      ++burst->second.dropped;
      pending.erase(d);
      delete d;
      return;
    }
    d->timer = g_timeout_add_once(
        static_cast<guint>(retry_delay_ms(backoff_ms, d->attempt + 1)),
        +[](gpointer data) {
          auto *delivery = static_cast<Delivery *>(data);
          delivery->timer = 0;
          delivery->owner->attempt(delivery);
        },
        d);
  }
};

Notifier::Notifier(int64_t timeout_ms, int64_t attempts, int64_t backoff_ms, Logger &log)
    : impl_(std::make_unique<Impl>(timeout_ms, attempts, backoff_ms, log)) {}

Notifier::~Notifier() = default;

void Notifier::send(const std::string &url, const std::string &event, const std::string &json) {
  if (url.empty()) {
    return;
  }
  if (impl_->pending.size() >= kMaxPending) {
    ++impl_->dropped[event];
    auto [burst, first] = impl_->bursts.try_emplace(url);
    ++burst->second.dropped;
    if (first) {
      impl_->log.warn("notify-failed",
                      {{"url", url}, {"event", event}, {"error", "too many pending events"}});
    }
    return;
  }
  auto *d = new Impl::Delivery{impl_.get(), url, event, json};
  impl_->pending.insert(d);
  impl_->attempt(d);
}

std::string Notifier::metrics() const {
  std::string body;
  auto family = [&](const char *name, const char *help,
                    const std::map<std::string, uint64_t> &values) {
    body += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n";
    for (const auto &[event, count] : values) {
      body += std::string(name) + "{event=\"" + event + "\"} " + std::to_string(count) + "\n";
    }
  };
  family("livepipe_notifications_delivered_total", "Notifications the endpoint accepted (2xx).",
         impl_->delivered);
  family("livepipe_notifications_failed_attempts_total",
         "Notification attempts that failed (retried while attempts remain).",
         impl_->failed_attempts);
  family("livepipe_notifications_dropped_total",
         "Notifications given up after the last attempt or refused when too many were pending.",
         impl_->dropped);
  return body;
}

void notify_publish_done(MediaService &media, Notifier &notifier, const std::string &url) {
  if (url.empty()) {
    return;
  }
  media.add_stream_hooks({nullptr, [&notifier, url](Stream &stream, const std::string &reason) {
                            std::string body =
                                json::ObjectBuilder()
                                    .set("event", "publish_done")
                                    .set("stream", stream.name())
                                    .set("reason", reason)
                                    .set("started_at", stream.started_unix())
                                    .set("ended_at_ms", g_get_real_time() / 1000)
                                    .set("bytes_in", static_cast<int64_t>(stream.bytes_in()))
                                    .set("packets_in", static_cast<int64_t>(stream.packets_in()))
                                    .to_string();
                            notifier.send(url, "publish_done", body);
                          }});
}

}  // namespace livepipe::signaling::media
