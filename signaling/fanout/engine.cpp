#include "engine.h"

#include "rtcp.h"
#include "srtp_session.h"
#include "stun.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace livepipe::signaling::fanout {
namespace {

constexpr size_t kMaxRtpBytes = 1500;
constexpr size_t kHistory = 1024;  // video packets kept for NACK (about 1 s at 8 Mb/s)
constexpr int64_t kTickUs = 20 * 1000;
constexpr int64_t kSenderReportUs = 1000 * 1000;
constexpr int kBufferBytes = 4 * 1024 * 1024;

int64_t now_us() {
  return g_get_monotonic_time();
}

uint32_t random_u32() {
  uint32_t value = 0;
  while (getrandom(&value, sizeof value, 0) != sizeof value) {
  }
  return value;
}

uint16_t read16(const uint8_t *p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t read32(const uint8_t *p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
void write32(uint8_t *p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

// Bytes of RTP payload (for sender reports): the packet without its header,
// CSRCs, extension and padding. -1 when the header does not fit.
int rtp_payload_bytes(const uint8_t *p, size_t size) {
  if (size < 12) {
    return -1;
  }
  size_t header = 12 + 4 * size_t(p[0] & 0x0F);
  if (p[0] & 0x10) {
    if (size < header + 4) {
      return -1;
    }
    header += 4 + 4 * size_t(read16(p + header + 2));
  }
  size_t padding = (p[0] & 0x20) ? p[size - 1] : 0;
  if (size < header + padding) {
    return -1;
  }
  return static_cast<int>(size - header - padding);
}

struct Socket {
  int fd = -1;
  std::string address;
};

// The viewer's path: which of our sockets, which remote address.
struct Path {
  int socket = -1;  // index into the engine's sockets
  sockaddr_storage remote{};
  socklen_t length = 0;
  std::string key() const {
    std::string out(1, static_cast<char>(socket));
    out.append(reinterpret_cast<const char *>(&remote), length);
    return out;
  }
};

std::string address_text(const sockaddr_storage &address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6 *>(&address)->sin6_addr, text,
              sizeof text);
  } else {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in *>(&address)->sin_addr, text,
              sizeof text);
  }
  return text;
}

// Every address of every interface that is up; loopback only when alone.
std::vector<std::string> local_addresses() {
  std::vector<std::string> found;
  std::vector<std::string> loopback;
  ifaddrs *list = nullptr;
  if (getifaddrs(&list) != 0) {
    return {"127.0.0.1"};
  }
  for (ifaddrs *it = list; it; it = it->ifa_next) {
    if (!it->ifa_addr || !(it->ifa_flags & IFF_UP)) {
      continue;
    }
    sockaddr_storage address{};
    if (it->ifa_addr->sa_family == AF_INET) {
      std::memcpy(&address, it->ifa_addr, sizeof(sockaddr_in));
      auto *in4 = reinterpret_cast<sockaddr_in *>(&address);
      uint32_t host = ntohl(in4->sin_addr.s_addr);
      if ((host >> 16) == 0xA9FE) {
        continue;  // 169.254/16: link-local
      }
    } else if (it->ifa_addr->sa_family == AF_INET6) {
      std::memcpy(&address, it->ifa_addr, sizeof(sockaddr_in6));
      auto *in6 = reinterpret_cast<sockaddr_in6 *>(&address);
      if (IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr) || IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) ||
          IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
        continue;
      }
    } else {
      continue;
    }
    std::string text = address_text(address);
    auto &into = (it->ifa_flags & IFF_LOOPBACK) ? loopback : found;
    if (std::find(into.begin(), into.end(), text) == into.end()) {
      into.push_back(text);
    }
  }
  freeifaddrs(list);
  if (found.empty()) {
    return loopback.empty() ? std::vector<std::string>{"127.0.0.1"} : loopback;
  }
  return found;
}

bool parse_address(const std::string &text, uint16_t port, sockaddr_storage *out,
                   socklen_t *length) {
  std::memset(out, 0, sizeof *out);
  auto *in4 = reinterpret_cast<sockaddr_in *>(out);
  if (inet_pton(AF_INET, text.c_str(), &in4->sin_addr) == 1) {
    in4->sin_family = AF_INET;
    in4->sin_port = htons(port);
    *length = sizeof(sockaddr_in);
    return true;
  }
  auto *in6 = reinterpret_cast<sockaddr_in6 *>(out);
  if (inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    *length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

class EngineImpl;

struct TrackState {
  PeerTrack track;
  uint32_t ssrc = 0;
  bool active = false;
  uint32_t packets = 0;
  uint32_t octets = 0;
  uint32_t last_rtp_timestamp = 0;
  int64_t last_sent_us = 0;
  int64_t last_report_us = 0;
};

class PeerImpl : public Peer, public std::enable_shared_from_this<PeerImpl> {
 public:
  enum class State { kWaiting, kIce, kConnected, kClosed };

  PeerImpl(EngineImpl &engine, Events events) : engine_(engine), events_(std::move(events)) {}
  ~PeerImpl() override { release_history(); }

  const std::string &answer() const override { return answer_; }
  void push(const std::string &kind, GstBuffer *rtp) override;
  void restart_ice(const std::string &remote_ufrag, std::string *ufrag, std::string *pwd,
                   std::vector<std::string> *candidates) override;
  PeerStats stats() const override {
    PeerStats s;
    s.packets = packets_.load(std::memory_order_relaxed);
    s.bytes = bytes_.load(std::memory_order_relaxed);
    s.retransmitted = retransmitted_.load(std::memory_order_relaxed);
    s.lost = lost_.load(std::memory_order_relaxed);
    s.keyframe_requests = keyframe_requests_.load(std::memory_order_relaxed);
    return s;
  }
  bool connected() const override { return connected_.load(); }
  void close() override;

  // Engine thread.
  void on_stun(int socket, const sockaddr_storage &from, socklen_t length,
               const StunMessage &message, const uint8_t *data, size_t size,
               const std::string &ufrag);
  void on_dtls(const Path &path, const uint8_t *data, size_t size);
  void on_rtcp(uint8_t *data, size_t size);
  void on_tick(int64_t now);

  // Set up by the engine before the peer is shared.
  std::string local_ufrag;
  std::string local_pwd;
  std::string remote_ufrag;
  std::vector<Fingerprint> remote_fingerprints;
  bool dtls_client = false;
  std::string cname;
  std::string answer_;
  std::array<TrackState, 2> tracks;  // video, audio
  int64_t created_us = 0;

 private:
  TrackState *track_for(const std::string &kind) {
    for (auto &t : tracks) {
      if (t.active && t.track.kind == kind) {
        return &t;
      }
    }
    return nullptr;
  }
  void send_locked(const Path &path, const uint8_t *data, size_t size);
  void fail_locked(const std::string &reason);
  void connected_locked();
  void send_reports_locked(int64_t now, bool bye);
  void retransmit_locked(uint16_t sequence);
  void release_history();

  EngineImpl &engine_;
  Events events_;
  mutable std::mutex mutex_;
  State state_ = State::kWaiting;
  std::string old_ufrag_;
  std::string old_pwd_;
  std::optional<Path> selected_;
  std::optional<Path> dtls_path_;
  int64_t last_consent_us_ = 0;
  std::unique_ptr<DtlsSession> dtls_;
  SrtpSession srtp_;
  std::array<GstBuffer *, kHistory> history_{};
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> packets_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> retransmitted_{0};
  std::atomic<int64_t> lost_{0};
  std::atomic<uint64_t> keyframe_requests_{0};
};

class EngineImpl : public Engine {
 public:
  EngineImpl(EngineOptions options, std::shared_ptr<DtlsIdentity> identity)
      : options_(std::move(options)), identity_(std::move(identity)) {}

  ~EngineImpl() override {
    if (thread_.joinable()) {
      uint64_t one = 1;
      ssize_t written = write(wake_, &one, sizeof one);
      (void)written;
      thread_.join();
    }
    std::vector<std::shared_ptr<PeerImpl>> peers;
    {
      std::lock_guard lock(mutex_);
      for (auto &[peer, _] : peers_) {
        peers.push_back(peer);
      }
    }
    for (auto &peer : peers) {
      peer->close();
    }
    for (auto &s : sockets_) {
      ::close(s.fd);
    }
    if (epoll_ >= 0) {
      ::close(epoll_);
    }
    if (wake_ >= 0) {
      ::close(wake_);
    }
  }

  bool open(std::string *error);

  uint16_t port() const override { return port_; }
  std::vector<std::string> candidates() const override { return candidates_; }
  const Fingerprint &fingerprint() const override { return identity_->fingerprint(); }
  size_t peer_count() const override {
    std::lock_guard lock(mutex_);
    return peers_.size();
  }
  std::shared_ptr<Peer> add_peer(const media::OfferPlan &plan, const std::string &stream_id,
                                 Peer::Events events, std::string *error) override;

  // For peers (any thread; never called with the engine's mutex held by them).
  void send(const Path &path, const uint8_t *data, size_t size) {
    if (path.socket < 0 || path.socket >= static_cast<int>(sockets_.size())) {
      return;
    }
    ssize_t sent = sendto(sockets_[static_cast<size_t>(path.socket)].fd, data, size, MSG_DONTWAIT,
                          reinterpret_cast<const sockaddr *>(&path.remote), path.length);
    if (sent < 0) {
      send_errors_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  void learn_path(const Path &path, const std::shared_ptr<PeerImpl> &peer) {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(peer);
    if (it != peers_.end() && by_path_.emplace(path.key(), peer).second) {
      it->second.paths.push_back(path.key());
    }
  }
  void add_ufrag(const std::string &ufrag, const std::shared_ptr<PeerImpl> &peer) {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(peer);
    if (it != peers_.end()) {
      by_ufrag_[ufrag] = peer;
      it->second.ufrags.push_back(ufrag);
    }
  }
  void forget(const std::shared_ptr<PeerImpl> &peer) {
    std::lock_guard lock(mutex_);
    auto it = peers_.find(peer);
    if (it == peers_.end()) {
      return;
    }
    for (const auto &key : it->second.paths) {
      by_path_.erase(key);
    }
    for (const auto &ufrag : it->second.ufrags) {
      by_ufrag_.erase(ufrag);
    }
    peers_.erase(it);
  }
  const std::shared_ptr<DtlsIdentity> &identity() const { return identity_; }
  const EngineOptions &options() const { return options_; }

 private:
  struct Index {
    std::vector<std::string> paths;
    std::vector<std::string> ufrags;
  };

  void run();
  void receive(int socket);
  void handle(int socket, const sockaddr_storage &from, socklen_t length, uint8_t *data,
              size_t size);
  std::shared_ptr<PeerImpl> peer_at(const Path &path) {
    std::lock_guard lock(mutex_);
    auto it = by_path_.find(path.key());
    return it == by_path_.end() ? nullptr : it->second;
  }

  EngineOptions options_;
  std::shared_ptr<DtlsIdentity> identity_;
  std::vector<Socket> sockets_;
  std::vector<std::string> candidates_;
  uint16_t port_ = 0;
  int epoll_ = -1;
  int wake_ = -1;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::map<std::shared_ptr<PeerImpl>, Index> peers_;
  std::unordered_map<std::string, std::shared_ptr<PeerImpl>> by_ufrag_;
  std::unordered_map<std::string, std::shared_ptr<PeerImpl>> by_path_;
  std::atomic<uint64_t> send_errors_{0};
};

// ---- PeerImpl

void PeerImpl::push(const std::string &kind, GstBuffer *rtp) {
  GstMapInfo map;
  if (!gst_buffer_map(rtp, &map, GST_MAP_READ)) {
    return;
  }
  const size_t size = map.size;
  if (size < 12 || size > kMaxRtpBytes) {
    gst_buffer_unmap(rtp, &map);
    return;
  }
  uint8_t packet[kMaxRtpBytes + kSrtpMaxOverhead];
  std::memcpy(packet, map.data, size);
  gst_buffer_unmap(rtp, &map);
  int payload = rtp_payload_bytes(packet, size);
  if (payload < 0) {
    return;
  }
  Path path;
  int length = static_cast<int>(size);
  {
    std::lock_guard lock(mutex_);
    TrackState *t = track_for(kind);
    if (!t) {
      return;
    }
    if (kind == "video") {
      // Kept whether or not the viewer is connected yet, so a NACK right
      // after connecting finds what it asks for.
      GstBuffer *&slot = history_[read16(packet + 2) % kHistory];
      if (slot) {
        gst_buffer_unref(slot);
      }
      slot = gst_buffer_ref(rtp);
    }
    if (state_ != State::kConnected || !selected_) {
      return;
    }
    packet[1] = static_cast<uint8_t>((packet[1] & 0x80) | (t->track.payload_type & 0x7F));
    write32(packet + 8, t->ssrc);
    if (!srtp_.protect_rtp(packet, &length)) {
      return;
    }
    t->packets++;
    t->octets += static_cast<uint32_t>(payload);
    t->last_rtp_timestamp = read32(packet + 4);
    t->last_sent_us = now_us();
    path = *selected_;
  }
  engine_.send(path, packet, static_cast<size_t>(length));
  packets_.fetch_add(1, std::memory_order_relaxed);
  bytes_.fetch_add(size, std::memory_order_relaxed);
}

void PeerImpl::retransmit_locked(uint16_t sequence) {
  GstBuffer *buffer = history_[sequence % kHistory];
  if (!buffer || !selected_ || state_ != State::kConnected) {
    return;
  }
  TrackState *t = track_for("video");
  if (!t) {
    return;
  }
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    return;
  }
  bool usable = map.size >= 12 && map.size <= kMaxRtpBytes && read16(map.data + 2) == sequence;
  uint8_t packet[kMaxRtpBytes + kSrtpMaxOverhead];
  int length = static_cast<int>(map.size);
  if (usable) {
    std::memcpy(packet, map.data, map.size);
  }
  gst_buffer_unmap(buffer, &map);
  if (!usable) {
    return;
  }
  packet[1] = static_cast<uint8_t>((packet[1] & 0x80) | (t->track.payload_type & 0x7F));
  write32(packet + 8, t->ssrc);
  if (srtp_.protect_rtp(packet, &length)) {
    // Counted first: whoever sees the packet arrive sees it counted.
    retransmitted_.fetch_add(1, std::memory_order_relaxed);
    engine_.send(*selected_, packet, static_cast<size_t>(length));
  }
}

void PeerImpl::release_history() {
  for (auto &slot : history_) {
    if (slot) {
      gst_buffer_unref(slot);
      slot = nullptr;
    }
  }
}

void PeerImpl::send_locked(const Path &path, const uint8_t *data, size_t size) {
  engine_.send(path, data, size);
}

void PeerImpl::fail_locked(const std::string &reason) {
  if (state_ == State::kClosed) {
    return;
  }
  state_ = State::kClosed;
  connected_ = false;
  auto self = shared_from_this();
  engine_.forget(self);
  if (events_.closed) {
    events_.closed(reason);
  }
}

void PeerImpl::connected_locked() {
  if (!dtls_->peer_matches(remote_fingerprints)) {
    fail_locked("the viewer's DTLS certificate does not match the fingerprint in its offer");
    return;
  }
  std::string error;
  if (!srtp_.start(*dtls_->keys(), &error)) {
    fail_locked(error);
    return;
  }
  state_ = State::kConnected;
  connected_ = true;
}

void PeerImpl::on_stun(int socket, const sockaddr_storage &from, socklen_t length,
                       const StunMessage &message, const uint8_t *data, size_t size,
                       const std::string &ufrag) {
  std::lock_guard lock(mutex_);
  if (state_ == State::kClosed) {
    return;
  }
  Path path;
  path.socket = socket;
  path.remote = from;
  path.length = length;
  const bool current = ufrag == local_ufrag;
  const std::string &password = current ? local_pwd : old_pwd_;
  if ((!current && ufrag != old_ufrag_) || !check_integrity(data, size, message, password)) {
    auto reply = binding_error(message.transaction, 401, "Unauthorized");
    send_locked(path, reply.data(), reply.size());
    return;
  }
  if (message.ice_controlled) {
    // A full agent facing a lite one controls (RFC 8445 section 6.1.1);
    // this side never takes that role.
    auto reply = binding_error(message.transaction, 487, "Role Conflict", password);
    send_locked(path, reply.data(), reply.size());
    return;
  }
  auto reply = binding_success(message.transaction, from, password);
  send_locked(path, reply.data(), reply.size());
  last_consent_us_ = now_us();
  engine_.learn_path(path, shared_from_this());
  if (current && !old_ufrag_.empty()) {
    old_ufrag_.clear();  // the restarted credentials are in use
  }
  // Lite agents use the pair the controlling agent nominates; until then the
  // first checked pair serves (RFC 8445 section 8.2.2).
  if (message.use_candidate || !selected_) {
    selected_ = path;
  }
  if (state_ == State::kWaiting) {
    state_ = State::kIce;
    dtls_ = std::make_unique<DtlsSession>(engine_.identity(), dtls_client,
                                          [this](const uint8_t *d, size_t n) {
                                            const Path &to = dtls_path_ ? *dtls_path_ : *selected_;
                                            send_locked(to, d, n);
                                          });
    dtls_->start();
  }
}

void PeerImpl::on_dtls(const Path &path, const uint8_t *data, size_t size) {
  bool now_connected = false;
  {
    std::lock_guard lock(mutex_);
    if (!dtls_ || state_ == State::kClosed) {
      return;
    }
    dtls_path_ = path;
    auto before = dtls_->state();
    auto after = dtls_->receive(data, size);
    if (after == DtlsSession::State::kConnected && before == DtlsSession::State::kHandshaking) {
      connected_locked();
      now_connected = state_ == State::kConnected;
    } else if (after == DtlsSession::State::kFailed) {
      fail_locked(dtls_->error());
    } else if (after == DtlsSession::State::kClosed) {
      fail_locked("the viewer closed its connection");
    }
  }
  // The first key frame must come once the viewer can receive it.
  if (now_connected && events_.keyframe) {
    events_.keyframe();
  }
}

void PeerImpl::on_rtcp(uint8_t *data, size_t size) {
  std::vector<uint32_t> keyframes;
  {
    std::lock_guard lock(mutex_);
    if (state_ != State::kConnected) {
      return;
    }
    int length = static_cast<int>(size);
    if (!srtp_.unprotect_rtcp(data, &length)) {
      return;
    }
    // Authenticated RTCP from the viewer's path shows it is there and wants
    // the media as well as a check does. Agents that keep a lite peer's pair
    // alive with STUN indications only (libnice, so GStreamer's webrtcbin)
    // send no check after connecting, and would otherwise be ended after
    // consent_timeout_ms; their receiver reports keep them.
    last_consent_us_ = now_us();
    RtcpFeedback feedback;
    std::string error;
    parse_rtcp(data, static_cast<size_t>(length), &feedback, &error);
    TrackState *video = track_for("video");
    for (const auto &[ssrc, sequence] : feedback.nacks) {
      if (video && ssrc == video->ssrc) {
        retransmit_locked(sequence);
      }
    }
    int64_t lost = 0;
    bool reported = false;
    for (const auto &report : feedback.reports) {
      for (const auto &t : tracks) {
        if (t.active && t.ssrc == report.ssrc) {
          lost += std::max(0, report.cumulative_lost);
          reported = true;
        }
      }
    }
    if (reported) {
      lost_ = lost;
    }
    if (video) {
      for (uint32_t ssrc : feedback.keyframe_requests) {
        if (ssrc == video->ssrc) {
          keyframes.push_back(ssrc);
        }
      }
    }
  }
  if (!keyframes.empty()) {
    keyframe_requests_.fetch_add(1, std::memory_order_relaxed);
    if (events_.keyframe) {
      events_.keyframe();
    }
  }
}

void PeerImpl::send_reports_locked(int64_t now, bool bye_too) {
  if (!selected_) {
    return;
  }
  const int64_t unix_now = g_get_real_time();
  for (auto &t : tracks) {
    if (!t.active || (!bye_too && (t.packets == 0 || now - t.last_report_us < kSenderReportUs))) {
      continue;
    }
    t.last_report_us = now;
    // The RTP time now: the last packet's timestamp moved on by the time
    // since it was sent (RFC 3550 section 6.4.1).
    int64_t since = t.packets ? now - t.last_sent_us : 0;
    SenderReport report;
    report.ssrc = t.ssrc;
    report.ntp = ntp_from_unix_us(unix_now);
    report.rtp_timestamp =
        t.last_rtp_timestamp + static_cast<uint32_t>(since * t.track.clock_rate / 1000000);
    report.packets = t.packets;
    report.octets = t.octets;
    std::vector<uint8_t> packet = sender_report(report, cname);
    if (bye_too) {
      auto goodbye = bye(t.ssrc);
      packet.insert(packet.end(), goodbye.begin(), goodbye.end());
    }
    std::vector<uint8_t> buffer(packet.size() + kSrtpMaxOverhead);
    std::copy(packet.begin(), packet.end(), buffer.begin());
    int length = static_cast<int>(packet.size());
    if (srtp_.protect_rtcp(buffer.data(), &length)) {
      send_locked(*selected_, buffer.data(), static_cast<size_t>(length));
    }
  }
}

void PeerImpl::on_tick(int64_t now) {
  std::lock_guard lock(mutex_);
  switch (state_) {
    case State::kClosed:
      return;
    case State::kWaiting:
    case State::kIce:
      if (now - created_us > engine_.options().connect_timeout_ms * 1000) {
        fail_locked(state_ == State::kWaiting
                        ? "no ICE connectivity check from the viewer within " +
                              std::to_string(engine_.options().connect_timeout_ms / 1000) + " s"
                        : "DTLS did not connect within " +
                              std::to_string(engine_.options().connect_timeout_ms / 1000) + " s");
        return;
      }
      if (dtls_) {
        dtls_->on_timer();
        if (dtls_->state() == DtlsSession::State::kFailed) {
          fail_locked(dtls_->error());
          return;
        }
      }
      break;
    case State::kConnected:
      send_reports_locked(now, false);
      break;
  }
  if (state_ != State::kWaiting &&
      now - last_consent_us_ > engine_.options().consent_timeout_ms * 1000) {
    fail_locked("the viewer stopped answering (no ICE consent for " +
                std::to_string(engine_.options().consent_timeout_ms / 1000) + " s)");
  }
}

void PeerImpl::restart_ice(const std::string &remote, std::string *ufrag, std::string *pwd,
                           std::vector<std::string> *candidates) {
  std::string fresh_ufrag = random_ice_string(8);
  std::string fresh_pwd = random_ice_string(24);
  {
    std::lock_guard lock(mutex_);
    old_ufrag_ = local_ufrag;
    old_pwd_ = local_pwd;
    local_ufrag = fresh_ufrag;
    local_pwd = fresh_pwd;
    remote_ufrag = remote;
  }
  engine_.add_ufrag(fresh_ufrag, shared_from_this());
  *ufrag = fresh_ufrag;
  *pwd = fresh_pwd;
  *candidates = engine_.candidates();
}

void PeerImpl::close() {
  std::lock_guard lock(mutex_);
  if (state_ == State::kClosed) {
    return;
  }
  if (state_ == State::kConnected) {
    // The viewer learns at once that the stream is over for it.
    send_reports_locked(now_us(), true);
    dtls_->close();
  }
  state_ = State::kClosed;
  connected_ = false;
  engine_.forget(shared_from_this());
  release_history();
}

// ---- EngineImpl

bool EngineImpl::open(std::string *error) {
  std::vector<std::string> addresses =
      options_.addresses.empty() ? local_addresses() : options_.addresses;
  // One socket per address, all on one port: the port of the first, or a
  // new free one when another address has it taken.
  for (int attempt = 0; attempt < 20 && sockets_.empty(); ++attempt) {
    uint16_t port = options_.port;
    std::vector<Socket> opened;
    std::string why;
    for (const auto &address : addresses) {
      sockaddr_storage bind_to{};
      socklen_t length = 0;
      if (!parse_address(address, port, &bind_to, &length)) {
        *error = "'" + address + "' is not an IP address";
        for (auto &s : opened) {
          ::close(s.fd);
        }
        return false;
      }
      int fd = socket(bind_to.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        why = "cannot open a UDP socket: " + std::string(std::strerror(errno));
        break;
      }
      if (bind_to.ss_family == AF_INET6) {
        int only = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only);
      }
      int bytes = kBufferBytes;
      if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
      }
      if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
      }
      if (bind(fd, reinterpret_cast<sockaddr *>(&bind_to), length) != 0) {
        why = "cannot listen on " + address + " port " + std::to_string(port) + ": " +
              std::strerror(errno);
        ::close(fd);
        break;
      }
      if (port == 0) {
        sockaddr_storage bound{};
        socklen_t bound_length = sizeof bound;
        getsockname(fd, reinterpret_cast<sockaddr *>(&bound), &bound_length);
        port =
            ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6 *>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in *>(&bound)->sin_port);
      }
      opened.push_back({fd, address});
    }
    if (opened.size() == addresses.size()) {
      sockets_ = std::move(opened);
      port_ = port;
      break;
    }
    for (auto &s : opened) {
      ::close(s.fd);
    }
    if (options_.port != 0 || attempt == 19) {
      *error = why;
      return false;
    }
  }
  const auto &announced = options_.announce.empty() ? addresses : options_.announce;
  for (size_t i = 0; i < announced.size(); ++i) {
    candidates_.push_back(host_candidate(static_cast<unsigned>(i), announced[i], port_));
  }
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_ < 0 || wake_ < 0) {
    *error = "cannot set up the fan-out engine's event loop: " + std::string(std::strerror(errno));
    return false;
  }
  for (size_t i = 0; i < sockets_.size(); ++i) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = i;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, sockets_[i].fd, &event);
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.u64 = UINT64_MAX;
  epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &event);
  thread_ = std::thread([this] { run(); });
  return true;
}

void EngineImpl::run() {
  pthread_setname_np(pthread_self(), "lp-fanout");
  int64_t next_tick = now_us() + kTickUs;
  for (;;) {
    int64_t wait_us = std::max<int64_t>(0, next_tick - now_us());
    epoll_event events[16];
    int n = epoll_wait(epoll_, events, 16, static_cast<int>((wait_us + 999) / 1000));
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == UINT64_MAX) {
        return;
      }
      receive(static_cast<int>(events[i].data.u64));
    }
    int64_t now = now_us();
    if (now >= next_tick) {
      next_tick = now + kTickUs;
      std::vector<std::shared_ptr<PeerImpl>> peers;
      {
        std::lock_guard lock(mutex_);
        peers.reserve(peers_.size());
        for (auto &[peer, _] : peers_) {
          peers.push_back(peer);
        }
      }
      for (auto &peer : peers) {
        peer->on_tick(now);
      }
    }
  }
}

void EngineImpl::receive(int socket) {
  // Bounded per wake-up so timers and other sockets get their turn.
  for (int i = 0; i < 256; ++i) {
    uint8_t data[2048];
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    ssize_t n = recvfrom(sockets_[static_cast<size_t>(socket)].fd, data, sizeof data, 0,
                         reinterpret_cast<sockaddr *>(&from), &length);
    if (n <= 0) {
      return;
    }
    handle(socket, from, length, data, static_cast<size_t>(n));
  }
}

void EngineImpl::handle(int socket, const sockaddr_storage &from, socklen_t length, uint8_t *data,
                        size_t size) {
  Path path;
  path.socket = socket;
  path.remote = from;
  path.length = length;
  switch (classify(data, size)) {
    case PacketKind::kStun: {
      std::string error;
      auto message = parse_stun(data, size, &error);
      if (!message || !message->is_binding_request()) {
        return;  // indications (keepalives), responses, garbage
      }
      if (!message->unknown_required.empty()) {
        auto reply = binding_error(message->transaction, 420, "Unknown Attribute");
        send(path, reply.data(), reply.size());
        return;
      }
      std::string ufrag = message->username.substr(0, message->username.find(':'));
      std::shared_ptr<PeerImpl> peer;
      {
        std::lock_guard lock(mutex_);
        auto it = by_ufrag_.find(ufrag);
        if (it != by_ufrag_.end()) {
          peer = it->second;
        }
      }
      if (peer) {
        peer->on_stun(socket, from, length, *message, data, size, ufrag);
      }
      // Checks for nobody we know go unanswered: no reflection for strangers.
      return;
    }
    case PacketKind::kDtls:
      if (auto peer = peer_at(path)) {
        peer->on_dtls(path, data, size);
      }
      return;
    case PacketKind::kRtp:
      // RTCP payload types 192-223 (RFC 5761); viewers send no RTP.
      if (size >= 8 && data[1] >= 192 && data[1] <= 223) {
        if (auto peer = peer_at(path)) {
          peer->on_rtcp(data, size);
        }
      }
      return;
    case PacketKind::kUnknown:
      return;
  }
}

std::shared_ptr<Peer> EngineImpl::add_peer(const media::OfferPlan &plan,
                                           const std::string &stream_id, Peer::Events events,
                                           std::string *error) {
  auto read = read_offer_transport(plan);
  if (auto *why = std::get_if<std::string>(&read)) {
    *error = *why;
    return nullptr;
  }
  const OfferTransport &offer = std::get<OfferTransport>(read);
  auto peer = std::make_shared<PeerImpl>(*this, std::move(events));
  peer->local_ufrag = random_ice_string(8);
  peer->local_pwd = random_ice_string(24);
  peer->remote_ufrag = offer.ufrag;
  peer->remote_fingerprints = offer.fingerprints;
  peer->dtls_client = !offer.dtls_client;
  peer->cname = "livepipe-" + random_ice_string(12);
  peer->created_us = now_us();
  size_t slot = 0;
  for (const auto &m : plan.media) {
    if (slot >= peer->tracks.size()) {
      break;
    }
    TrackState &t = peer->tracks[slot++];
    t.track = {m.kind, m.payload_type, m.clock_rate > 0 ? m.clock_rate : 90000};
    t.ssrc = random_u32();
    t.active = true;
  }
  LiteAnswer answer;
  answer.ufrag = peer->local_ufrag;
  answer.pwd = peer->local_pwd;
  answer.fingerprint = identity_->fingerprint();
  answer.candidates = candidates_;
  answer.dtls_client = peer->dtls_client;
  answer.cname = peer->cname;
  answer.stream_id = stream_id;
  for (const auto &t : peer->tracks) {
    if (t.active) {
      (t.track.kind == "video" ? answer.video_ssrc : answer.audio_ssrc) = t.ssrc;
    }
  }
  answer.session_id = (uint64_t(random_u32()) << 31) ^ random_u32();
  peer->answer_ = lite_answer(plan, answer);
  {
    std::lock_guard lock(mutex_);
    peers_[peer].ufrags.push_back(peer->local_ufrag);
    by_ufrag_[peer->local_ufrag] = peer;
  }
  return peer;
}

}  // namespace

std::shared_ptr<Engine> Engine::start(EngineOptions options, std::string *error) {
  auto identity = DtlsIdentity::create(error);
  if (!identity) {
    return nullptr;
  }
  auto engine = std::make_shared<EngineImpl>(std::move(options), std::move(identity));
  if (!engine->open(error)) {
    return nullptr;
  }
  return engine;
}

}  // namespace livepipe::signaling::fanout
