// One webrtcbin session driven through SessionSignaling: offers or answers,
// trickles candidates both ways and buffers remote ones until the remote
// description is set. Everything webrtcbin reports from its own threads is
// marshalled to the main context in FIFO order, so a description always goes
// out before its candidates.
#pragma once

#include "session.h"
#include "util/gstptr.h"

#include <gst/gst.h>

#include <memory>
#include <string>
#include <vector>

namespace livepipe::signaling {

class WebRtcPeer {
 public:
  enum class Role { kOfferer, kAnswerer };

  // `webrtcbin` belongs to a pipeline the caller owns and starts.
  WebRtcPeer(GstElement *webrtcbin, SessionSignaling &signaling, Role role);
  ~WebRtcPeer();
  WebRtcPeer(const WebRtcPeer &) = delete;
  WebRtcPeer &operator=(const WebRtcPeer &) = delete;

  // Begins signaling; an offerer makes its offer now.
  void start();
  // Empty while all is well; the first failure otherwise.
  const std::string &error() const { return error_; }
  bool ended() const { return ended_; }

 private:
  struct Shared;
  void offer();
  void on_description(SdpKind kind, const std::string &sdp);
  void on_candidate(unsigned mline, const std::string &candidate);
  void fail(const std::string &what);

  GstPtr<GstElement> webrtcbin_;
  SessionSignaling &signaling_;
  Role role_;
  std::shared_ptr<Shared> shared_;
  bool have_remote_ = false;
  bool offered_ = false;
  bool ended_ = false;
  std::vector<std::pair<unsigned, std::string>> pending_candidates_;
  std::string error_;
  gulong ice_handler_ = 0;
};

}  // namespace livepipe::signaling
