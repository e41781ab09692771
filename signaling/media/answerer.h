// Answers a client's offer on a webrtcbin: remote description, answer, local
// description, then a bounded wait for ICE gathering so the answer carries the
// server's candidates (WHIP and WHEP have no server-to-client trickle).
// Everything webrtcbin reports from its threads is marshalled to the main
// context; nothing here blocks a streaming thread.
#pragma once

#include "util/gstptr.h"

#include <gst/gst.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace livepipe::signaling::media {

// `sdp` with `candidates` (mline, "candidate:...") added to its first m-line
// (max-bundle: they serve every m-line) and end-of-candidates, unless it
// already carries candidates.
std::string with_candidates(const std::string &sdp,
                            const std::vector<std::pair<unsigned, std::string>> &candidates);

// webrtcbin reports "gathering complete" on libnice's thread while the last
// candidates may still be queued on its own; this much later they are in.
inline constexpr guint kCandidateSettleMs = 150;

// Gathers ICE candidates on these local addresses (libnice leaves loopback
// out unless it is named). False when one is refused.
bool add_ice_addresses(GstElement *webrtcbin, const std::vector<std::string> &addresses);

class Answerer {
 public:
  // `error` is empty on success.
  using Done = std::function<void(const std::string &answer, const std::string &error)>;
  // Called with "connected", "failed", "closed", ... (ICE connection state).
  using StateChanged = std::function<void(const std::string &state)>;

  Answerer(GstElement *webrtcbin, StateChanged on_state);
  ~Answerer();
  Answerer(const Answerer &) = delete;
  Answerer &operator=(const Answerer &) = delete;

  void answer(const std::string &offer, guint gather_timeout_ms, Done done);
  // Remote candidates (trickle); buffered until the remote description is set.
  void add_candidate(unsigned mline, const std::string &candidate);
  // The local ICE credentials of the current answer.
  std::string local_ufrag() const;
  std::string local_pwd() const;
  // The remote description as set (for building an ICE restart offer).
  const std::string &remote_sdp() const { return remote_sdp_; }
  bool answered() const { return answered_; }
  GstElement *webrtcbin() const { return webrtcbin_.get(); }

 private:
  struct Shared;
  void on_remote_set(const std::string &error);
  void on_answer(GstStructure *reply_copy, const std::string &error);
  void maybe_finish();
  void finish(const std::string &answer, const std::string &error);

  GstPtr<GstElement> webrtcbin_;
  std::shared_ptr<Shared> shared_;
  StateChanged on_state_;
  Done done_;
  guint gather_timeout_ms_ = 0;
  bool remote_set_ = false;
  bool answered_ = false;
  bool gathering_ = false;
  std::string remote_sdp_;
  std::string answer_sdp_;
  std::vector<std::pair<unsigned, std::string>> pending_candidates_;
  std::vector<std::pair<unsigned, std::string>> local_candidates_;
  std::vector<gulong> handlers_;
  struct Timeout;
  std::unique_ptr<Timeout> timeout_;
};

}  // namespace livepipe::signaling::media
