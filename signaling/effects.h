// What a router decides in answer to one event: messages to send and
// connections to close. The transport carries them out; the routers never
// touch a socket, so they are tested without any.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace livepipe::signaling {

using ConnectionId = uint64_t;

// Routers take time as input so tests can drive it.
struct Now {
  int64_t mono_ms = 0;  // monotonic milliseconds: rate limits and timeouts
  int64_t unix_s = 0;   // wall clock seconds: token expiry and TURN credentials
};

// WebSocket close codes used by both protocols.
inline constexpr int kCloseNormal = 1000;
inline constexpr int kCloseGoingAway = 1001;  // server shutting down
inline constexpr int kCloseProtocolError = 1002;
inline constexpr int kCloseTooBig = 1009;
inline constexpr int kCloseTryAgainLater = 1013;  // server full
inline constexpr int kCloseUnauthorized = 4001;
inline constexpr int kCloseForbidden = 4003;
inline constexpr int kCloseTimeout = 4008;
inline constexpr int kCloseKicked = 4010;

struct CloseAction {
  ConnectionId connection = 0;
  int code = kCloseNormal;
  std::string reason;
};

template <typename Message>
struct Outgoing {
  ConnectionId connection = 0;
  Message message;
};

template <typename Message>
struct Effects {
  std::vector<Outgoing<Message>> sends;
  std::vector<CloseAction> closes;
  uint64_t relayed = 0;  // peer-to-peer messages delivered (for metrics)

  void send(ConnectionId to, Message message) {
    sends.push_back(Outgoing<Message>{to, std::move(message)});
  }
  void close(ConnectionId connection, int code, std::string reason) {
    closes.push_back(CloseAction{connection, code, std::move(reason)});
  }
  void append(Effects &&other) {
    for (auto &s : other.sends) {
      sends.push_back(std::move(s));
    }
    for (auto &c : other.closes) {
      closes.push_back(std::move(c));
    }
    relayed += other.relayed;
  }
};

// A token bucket: `rate` messages per second with bursts of `rate`.
class RateLimiter {
 public:
  RateLimiter() = default;
  RateLimiter(int64_t rate, int64_t now_ms)
      : rate_(rate), tokens_milli_(rate * 1000), last_(now_ms) {}
  bool allow(int64_t now_ms) {
    int64_t elapsed = now_ms > last_ ? now_ms - last_ : 0;
    last_ = now_ms;
    int64_t cap = rate_ * 1000;
    tokens_milli_ = std::min(cap, tokens_milli_ + elapsed * rate_);
    if (tokens_milli_ < 1000) {
      return false;
    }
    tokens_milli_ -= 1000;
    return true;
  }

 private:
  int64_t rate_ = 1;
  int64_t tokens_milli_ = 0;
  int64_t last_ = 0;
};

// The checks both protocols make on each incoming message, before parsing it:
// a size limit, then the connection's rate limit. Refusals for rate are
// reported at most once a second, which explains the drops without
// amplifying a flood.
class InboundGate {
 public:
  enum class Verdict { kPass, kTooLarge, kRateLimited, kRateLimitedQuietly };

  InboundGate() = default;
  InboundGate(int64_t messages_per_second, int64_t max_bytes, int64_t now_ms)
      : limiter_(messages_per_second, now_ms), max_bytes_(max_bytes) {}

  Verdict check(size_t bytes, int64_t now_ms) {
    if (static_cast<int64_t>(bytes) > max_bytes_) {
      return Verdict::kTooLarge;
    }
    if (limiter_.allow(now_ms)) {
      return Verdict::kPass;
    }
    if (reported_ms_ >= 0 && now_ms - reported_ms_ < 1000) {
      return Verdict::kRateLimitedQuietly;
    }
    reported_ms_ = now_ms;
    return Verdict::kRateLimited;
  }

 private:
  RateLimiter limiter_;
  int64_t max_bytes_ = 0;
  int64_t reported_ms_ = -1;  // when a rate refusal was last reported
};

}  // namespace livepipe::signaling
