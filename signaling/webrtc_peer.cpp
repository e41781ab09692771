#include "webrtc_peer.h"

#include "util/maincontext.h"

#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include <functional>

namespace livepipe::signaling {

// Outlives the peer while webrtcbin callbacks are in flight: they hold a
// shared reference and do nothing once `peer` is cleared.
struct WebRtcPeer::Shared {
  WebRtcPeer *peer = nullptr;
  GMainContext *context = nullptr;
};

namespace {

struct PromiseCall {
  std::shared_ptr<void> keep;  // the peer's shared state stays alive until the reply
  std::function<void(GstPromise *)> done;
};

// A promise whose reply handler runs on webrtcbin's thread; handlers only
// copy the reply out and hop to the main context.
GstPromise *promise_then(std::shared_ptr<void> keep, std::function<void(GstPromise *)> done) {
  auto *call = new PromiseCall{std::move(keep), std::move(done)};
  return gst_promise_new_with_change_func(
      [](GstPromise *promise, gpointer data) { static_cast<PromiseCall *>(data)->done(promise); },
      call, [](gpointer data) { delete static_cast<PromiseCall *>(data); });
}

// The change function runs once the promise is settled, so the reply is read
// without waiting.
std::string promise_error(GstPromise *promise) {
  const GstStructure *reply = gst_promise_get_reply(promise);
  if (!reply) {
    return "no reply";
  }
  if (gst_structure_has_field(reply, "error")) {
    GError *error = nullptr;
    gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr);
    std::string message = error ? error->message : "unknown error";
    g_clear_error(&error);
    return message;
  }
  return {};
}

}  // namespace

WebRtcPeer::WebRtcPeer(GstElement *webrtcbin, SessionSignaling &signaling, Role role)
    : webrtcbin_(ref(webrtcbin)),
      signaling_(signaling),
      role_(role),
      shared_(std::make_shared<Shared>()) {
  shared_->peer = this;
  shared_->context = g_main_context_ref_thread_default();
  ice_handler_ = g_signal_connect_data(
      webrtcbin, "on-ice-candidate",
      G_CALLBACK(+[](GstElement *, guint mline, gchar *candidate, gpointer data) {
        auto shared = *static_cast<std::shared_ptr<Shared> *>(data);
        std::string text = candidate;
        invoke_on(shared->context, [shared, mline, text] {
          if (shared->peer && !shared->peer->ended_) {
            shared->peer->signaling_.send_candidate(mline, text);
          }
        });
      }),
      new std::shared_ptr<Shared>(shared_),
      [](gpointer data, GClosure *) { delete static_cast<std::shared_ptr<Shared> *>(data); },
      GConnectFlags(0));
}

WebRtcPeer::~WebRtcPeer() {
  g_signal_handler_disconnect(webrtcbin_.get(), ice_handler_);
  shared_->peer = nullptr;
  g_main_context_unref(shared_->context);
}

void WebRtcPeer::start() {
  SessionSignaling::Callbacks callbacks;
  std::weak_ptr<Shared> weak = shared_;
  callbacks.on_offer_requested = [weak] {
    if (auto s = weak.lock(); s && s->peer) {
      s->peer->offer();
    }
  };
  callbacks.on_description = [weak](SdpKind kind, const std::string &sdp) {
    if (auto s = weak.lock(); s && s->peer) {
      s->peer->on_description(kind, sdp);
    }
  };
  callbacks.on_candidate = [weak](unsigned mline, const std::string &candidate) {
    if (auto s = weak.lock(); s && s->peer) {
      s->peer->on_candidate(mline, candidate);
    }
  };
  callbacks.on_end = [weak](const std::string &) {
    if (auto s = weak.lock(); s && s->peer) {
      s->peer->ended_ = true;
    }
  };
  signaling_.start(std::move(callbacks));
  if (role_ == Role::kOfferer) {
    offer();
  }
}

void WebRtcPeer::fail(const std::string &what) {
  if (error_.empty()) {
    error_ = what;
  }
}

void WebRtcPeer::offer() {
  if (offered_) {
    return;
  }
  offered_ = true;
  auto shared = shared_;
  GstPromise *promise = promise_then(shared, [shared](GstPromise *p) {
    std::string error = promise_error(p);
    GstWebRTCSessionDescription *offer = nullptr;
    if (error.empty()) {
      gst_structure_get(gst_promise_get_reply(p), "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
                        &offer, nullptr);
    }
    invoke_on(shared->context, [shared, error, offer] {
      WebRtcPeer *self = shared->peer;
      if (!self || !error.empty() || !offer) {
        if (self) {
          self->fail("create-offer: " + (error.empty() ? std::string("no offer") : error));
        }
        if (offer) {
          gst_webrtc_session_description_free(offer);
        }
        return;
      }
      g_signal_emit_by_name(self->webrtcbin_.get(), "set-local-description", offer, nullptr);
      gchar *text = gst_sdp_message_as_text(offer->sdp);
      self->signaling_.send_description(SdpKind::kOffer, text);
      g_free(text);
      gst_webrtc_session_description_free(offer);
    });
  });
  g_signal_emit_by_name(webrtcbin_.get(), "create-offer", nullptr, promise);
  gst_promise_unref(promise);
}

void WebRtcPeer::on_description(SdpKind kind, const std::string &sdp) {
  GstSDPMessage *message = nullptr;
  if (gst_sdp_message_new_from_text(sdp.c_str(), &message) != GST_SDP_OK) {
    fail("remote description is not valid SDP");
    return;
  }
  GstWebRTCSessionDescription *description = gst_webrtc_session_description_new(
      kind == SdpKind::kOffer ? GST_WEBRTC_SDP_TYPE_OFFER : GST_WEBRTC_SDP_TYPE_ANSWER, message);
  g_signal_emit_by_name(webrtcbin_.get(), "set-remote-description", description, nullptr);
  gst_webrtc_session_description_free(description);
  have_remote_ = true;
  for (const auto &[mline, candidate] : pending_candidates_) {
    g_signal_emit_by_name(webrtcbin_.get(), "add-ice-candidate", mline, candidate.c_str());
  }
  pending_candidates_.clear();
  if (kind != SdpKind::kOffer) {
    return;
  }
  auto shared = shared_;
  GstPromise *promise = promise_then(shared, [shared](GstPromise *p) {
    std::string error = promise_error(p);
    GstWebRTCSessionDescription *answer = nullptr;
    if (error.empty()) {
      gst_structure_get(gst_promise_get_reply(p), "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
                        &answer, nullptr);
    }
    invoke_on(shared->context, [shared, error, answer] {
      WebRtcPeer *self = shared->peer;
      if (!self || !error.empty() || !answer) {
        if (self) {
          self->fail("create-answer: " + (error.empty() ? std::string("no answer") : error));
        }
        if (answer) {
          gst_webrtc_session_description_free(answer);
        }
        return;
      }
      g_signal_emit_by_name(self->webrtcbin_.get(), "set-local-description", answer, nullptr);
      gchar *text = gst_sdp_message_as_text(answer->sdp);
      self->signaling_.send_description(SdpKind::kAnswer, text);
      g_free(text);
      gst_webrtc_session_description_free(answer);
    });
  });
  g_signal_emit_by_name(webrtcbin_.get(), "create-answer", nullptr, promise);
  gst_promise_unref(promise);
}

void WebRtcPeer::on_candidate(unsigned mline, const std::string &candidate) {
  if (candidate.empty()) {
    return;  // end of candidates: webrtcbin needs no marker
  }
  if (!have_remote_) {
    pending_candidates_.emplace_back(mline, candidate);
    return;
  }
  g_signal_emit_by_name(webrtcbin_.get(), "add-ice-candidate", mline, candidate.c_str());
}

}  // namespace livepipe::signaling
