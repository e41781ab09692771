// The client side of WHIP and WHEP: offers from a webrtcbin the caller set up
// (sendonly tracks to publish, recvonly to play), POSTs the offer with its
// gathered candidates, applies the answer, and DELETEs the session at the end.
#pragma once

#include "util/gstptr.h"

#include <gst/gst.h>
#include <libsoup/soup.h>

#include <functional>
#include <memory>
#include <string>

namespace livepipe::signaling::media {

class WhipClient {
 public:
  struct Result {
    guint status = 0;
    std::string error;     // empty on success
    std::string location;  // absolute session URL
    std::string etag;
    // g_get_monotonic_time() when the offer was sent (the POST), for timing.
    int64_t posted_us = 0;
  };
  WhipClient(GstElement *webrtcbin, std::string url, std::string token);
  ~WhipClient();
  WhipClient(const WhipClient &) = delete;
  WhipClient &operator=(const WhipClient &) = delete;

  // Runs on the calling thread's main context; `done` once answered or failed.
  void start(std::function<void(const Result &)> done);
  // Restarts ICE (RFC 9725 section 4.4): new credentials and this side's
  // candidates by PATCH with If-Match, the server's from its 200 reply.
  // `done` gets the status and an error ("" on success).
  void restart_ice(std::function<void(guint status, const std::string &error)> done);
  // Ends the session on the server (DELETE); `done` runs when it answered.
  void stop(std::function<void(guint status)> done);
  const Result &result() const { return result_; }
  // The ICE connection state ("connected", "failed", ...).
  std::string ice_state() const;

 private:
  struct Shared;
  void post(const std::string &offer);

  GstPtr<GstElement> webrtcbin_;
  std::string url_;
  std::string token_;
  GObjPtr<SoupSession> session_;
  std::shared_ptr<Shared> shared_;
  Result result_;
  std::function<void(const Result &)> done_;
};

}  // namespace livepipe::signaling::media
