// Notifications (docs/moderation.md, "Notifications"): events POSTed as JSON
// to an integrator's http(s) endpoint. Each event is retried with
// exponential backoff up to a bounded number of attempts; nothing waits for
// it. Failures are logged once per burst (a run of failures at one endpoint
// with no delivery in between). Runs on the main context.
#pragma once

#include "config.h"
#include "log.h"

#include <cstdint>
#include <memory>
#include <string>

namespace livepipe::signaling::media {

// The wait before attempt `attempt` (2, 3, ...): `initial_ms` doubled for
// each attempt after the second, at most a minute.
int64_t retry_delay_ms(int64_t initial_ms, int attempt);

class Notifier {
 public:
  // `timeout_ms` bounds each attempt; `attempts` is the most tries per event.
  Notifier(int64_t timeout_ms, int64_t attempts, int64_t backoff_ms, Logger &log);
  ~Notifier();  // pending events are dropped, requests cancelled
  Notifier(const Notifier &) = delete;
  Notifier &operator=(const Notifier &) = delete;

  // POSTs `json` to `url` (nothing when `url` is empty); `event` names it in
  // log lines and metrics.
  void send(const std::string &url, const std::string &event, const std::string &json);

  // Prometheus text for /metrics.
  std::string metrics() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class MediaService;

// Sends an on_publish_done event to `url` whenever a stream of `media` ends
// (when `url` is set). `notifier` must outlive `media`.
void notify_publish_done(MediaService &media, Notifier &notifier, const std::string &url);

}  // namespace livepipe::signaling::media
