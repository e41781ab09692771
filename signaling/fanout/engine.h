// The shared-socket fan-out engine: every viewer of every stream is served
// from one UDP port (one socket per local address) by one thread, as an
// ICE-lite agent with DTLS-SRTP per viewer. A viewer costs a DTLS session, two
// SRTP contexts and a few counters: no pipeline, no threads of its own. The
// stream hands each viewer the RTP it payloaded once; sending it is a header
// rewrite, an SRTP encryption and a sendto on the stream's thread.
#pragma once

#include "dtls.h"
#include "lite_sdp.h"

#include <gst/gst.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace livepipe::signaling::fanout {

struct EngineOptions {
  uint16_t port = 0;  // 0: a free port chosen at start
  // Local addresses to serve on; empty: every address of every interface
  // that is up (loopback only when there is nothing else).
  std::vector<std::string> addresses;
  // Addresses put in the candidates instead of the local ones (a server
  // behind a 1:1 NAT announces its public address).
  std::vector<std::string> announce;
  int64_t connect_timeout_ms = 30000;  // from the answer to DTLS connected
  int64_t consent_timeout_ms = 30000;  // RFC 7675: no check for this long ends a viewer
};

struct PeerStats {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t retransmitted = 0;
  int64_t lost = 0;  // cumulative, from the viewer's receiver reports
  uint64_t keyframe_requests = 0;
};

struct PeerTrack {
  std::string kind;  // "video" or "audio"
  int payload_type = 0;
  int clock_rate = 90000;
};

class Engine;

// One viewer's transport inside the engine. Created by Engine::add_peer.
class Peer {
 public:
  struct Events {
    // The peer is gone (consent lost, DTLS failed or closed, no connection in
    // time); any thread, once.
    std::function<void(const std::string &reason)> closed;
    // The viewer asked for a key frame, or has just become able to receive.
    std::function<void()> keyframe;
  };
  virtual ~Peer() = default;
  // The answer to the viewer's offer.
  virtual const std::string &answer() const = 0;
  // One RTP packet of `kind`; any thread, never blocks.
  virtual void push(const std::string &kind, GstBuffer *rtp) = 0;
  // ICE restart with the viewer's new credentials: this side's new ufrag,
  // password and candidates.
  virtual void restart_ice(const std::string &remote_ufrag, std::string *ufrag, std::string *pwd,
                           std::vector<std::string> *candidates) = 0;
  virtual PeerStats stats() const = 0;
  virtual bool connected() const = 0;
  // Ends the peer without its closed event: BYE and close_notify go out.
  virtual void close() = 0;
};

class Engine {
 public:
  static std::shared_ptr<Engine> start(EngineOptions options, std::string *error);
  virtual ~Engine() = default;

  virtual uint16_t port() const = 0;
  // The host candidates every answer carries.
  virtual std::vector<std::string> candidates() const = 0;
  virtual const Fingerprint &fingerprint() const = 0;
  virtual size_t peer_count() const = 0;

  // A viewer for the offer in `plan` (its chosen m-lines are sent); the
  // reason when the offer cannot be served.
  virtual std::shared_ptr<Peer> add_peer(const media::OfferPlan &plan, const std::string &stream_id,
                                         Peer::Events events, std::string *error) = 0;
};

}  // namespace livepipe::signaling::fanout
