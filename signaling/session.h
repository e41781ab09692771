// The seam between media and signaling. A WebRTC session (webrtcbin on the
// server, or a client) exchanges descriptions and candidates with its remote
// side through this interface only, so the WebSocket protocols, WHIP and WHEP
// are implementations of it rather than copies of the session logic.
#pragma once

#include <functional>
#include <string>

namespace livepipe::signaling {

enum class SdpKind { kOffer, kAnswer };

class SessionSignaling {
 public:
  struct Callbacks {
    // The remote side wants this side to make the offer.
    std::function<void()> on_offer_requested;
    std::function<void(SdpKind kind, const std::string &sdp)> on_description;
    std::function<void(unsigned mline_index, const std::string &candidate)> on_candidate;
    // The remote side or the transport ended the session.
    std::function<void(const std::string &reason)> on_end;
  };

  virtual ~SessionSignaling() = default;
  // Callbacks run on the main context of the thread that called start().
  virtual void start(Callbacks callbacks) = 0;
  virtual void send_description(SdpKind kind, const std::string &sdp) = 0;
  virtual void send_candidate(unsigned mline_index, const std::string &candidate) = 0;
  virtual void end(const std::string &reason) = 0;
};

}  // namespace livepipe::signaling
