#include "answerer.h"

#include "util/maincontext.h"

#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

namespace livepipe::signaling::media {

struct Answerer::Shared {
  Answerer *self = nullptr;  // cleared by the destructor: late callbacks do nothing
  GMainContext *context = nullptr;
};

struct Answerer::Timeout {
  SourceGuard source;
};

namespace {

struct PromiseCall {
  std::function<void(GstPromise *)> done;
};

GstPromise *promise_then(std::function<void(GstPromise *)> done) {
  return gst_promise_new_with_change_func(
      [](GstPromise *promise, gpointer data) { static_cast<PromiseCall *>(data)->done(promise); },
      new PromiseCall{std::move(done)},
      [](gpointer data) { delete static_cast<PromiseCall *>(data); });
}

std::string promise_error(GstPromise *promise) {
  // The change function runs once the promise is settled: no waiting.
  const GstStructure *reply = gst_promise_get_reply(promise);
  if (reply && gst_structure_has_field(reply, "error")) {
    GError *error = nullptr;
    gst_structure_get(reply, "error", G_TYPE_ERROR, &error, nullptr);
    std::string message = error ? error->message : "unknown error";
    g_clear_error(&error);
    return message;
  }
  return {};
}

const char *ice_state_name(GstWebRTCICEConnectionState state) {
  switch (state) {
    case GST_WEBRTC_ICE_CONNECTION_STATE_NEW:
      return "new";
    case GST_WEBRTC_ICE_CONNECTION_STATE_CHECKING:
      return "checking";
    case GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED:
      return "connected";
    case GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED:
      return "completed";
    case GST_WEBRTC_ICE_CONNECTION_STATE_FAILED:
      return "failed";
    case GST_WEBRTC_ICE_CONNECTION_STATE_DISCONNECTED:
      return "disconnected";
    case GST_WEBRTC_ICE_CONNECTION_STATE_CLOSED:
      return "closed";
  }
  return "unknown";
}

std::string sdp_attribute(const std::string &sdp, const std::string &key) {
  size_t pos = sdp.find("a=" + key + ":");
  if (pos == std::string::npos) {
    return {};
  }
  pos += key.size() + 3;
  size_t end = sdp.find_first_of("\r\n", pos);
  return sdp.substr(pos, end == std::string::npos ? end : end - pos);
}

}  // namespace

bool add_ice_addresses(GstElement *webrtcbin, const std::vector<std::string> &addresses) {
  if (addresses.empty()) {
    return true;
  }
  GObject *ice = nullptr;
  g_object_get(webrtcbin, "ice-agent", &ice, nullptr);
  bool ok = ice != nullptr;
  for (const auto &address : addresses) {
    gboolean added = FALSE;
    if (ice) {
      g_signal_emit_by_name(ice, "add-local-ip-address", address.c_str(), &added);
    }
    ok = ok && added;
  }
  if (ice) {
    g_object_unref(ice);
  }
  return ok;
}

std::string with_candidates(const std::string &sdp_in,
                            const std::vector<std::pair<unsigned, std::string>> &candidates) {
  std::string sdp = sdp_in;
  if (sdp.find("a=candidate:") != std::string::npos) {
    return sdp;
  }
  size_t first_m = sdp.find("\nm=");
  if (first_m == std::string::npos) {
    return sdp;
  }
  size_t next_m = sdp.find("\nm=", first_m + 1);
  std::string lines;
  for (const auto &[mline, candidate] : candidates) {
    if (mline == 0) {
      lines += "a=" + candidate + "\r\n";
    }
  }
  lines += "a=end-of-candidates\r\n";
  sdp.insert(next_m == std::string::npos ? sdp.size() : next_m + 1, lines);
  return sdp;
}

Answerer::Answerer(GstElement *webrtcbin, StateChanged on_state)
    : webrtcbin_(ref(webrtcbin)),
      shared_(std::make_shared<Shared>()),
      on_state_(std::move(on_state)),
      timeout_(std::make_unique<Timeout>()) {
  shared_->self = this;
  shared_->context = g_main_context_ref_thread_default();
  auto connect = [&](const char *signal, GCallback callback) {
    handlers_.push_back(g_signal_connect_data(
        webrtcbin, signal, callback, new std::shared_ptr<Shared>(shared_),
        [](gpointer data, GClosure *) { delete static_cast<std::shared_ptr<Shared> *>(data); },
        GConnectFlags(0)));
  };
  connect("on-ice-candidate",
          G_CALLBACK(+[](GstElement *, guint mline, gchar *candidate, gpointer data) {
            auto shared = *static_cast<std::shared_ptr<Shared> *>(data);
            std::string text = candidate;
            invoke_on(shared->context, [shared, mline, text] {
              if (shared->self) {
                shared->self->local_candidates_.emplace_back(mline, text);
              }
            });
          }));
  connect("notify::ice-gathering-state",
          G_CALLBACK(+[](GstElement *element, GParamSpec *, gpointer data) {
            auto shared = *static_cast<std::shared_ptr<Shared> *>(data);
            GstWebRTCICEGatheringState state;
            g_object_get(element, "ice-gathering-state", &state, nullptr);
            if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE) {
              invoke_on(shared->context, [shared] {
                if (shared->self && shared->self->gathering_) {
                  shared->self->timeout_->source =
                      add_timeout(shared->context, kCandidateSettleMs, [shared] {
                        if (shared->self) {
                          shared->self->gathering_ = false;
                          shared->self->maybe_finish();
                        }
                        return false;
                      });
                }
              });
            }
          }));
  connect("notify::ice-connection-state",
          G_CALLBACK(+[](GstElement *element, GParamSpec *, gpointer data) {
            auto shared = *static_cast<std::shared_ptr<Shared> *>(data);
            GstWebRTCICEConnectionState state;
            g_object_get(element, "ice-connection-state", &state, nullptr);
            std::string name = ice_state_name(state);
            invoke_on(shared->context, [shared, name] {
              if (shared->self && shared->self->on_state_) {
                shared->self->on_state_(name);
              }
            });
          }));
}

Answerer::~Answerer() {
  // A waiting client is told rather than left hanging.
  finish({}, "the session ended before it was answered");
  for (gulong id : handlers_) {
    g_signal_handler_disconnect(webrtcbin_.get(), id);
  }
  shared_->self = nullptr;
  g_main_context_unref(shared_->context);
}

void Answerer::answer(const std::string &offer, guint gather_timeout_ms, Done done) {
  done_ = std::move(done);
  gather_timeout_ms_ = gather_timeout_ms;
  remote_sdp_ = offer;
  GstSDPMessage *message = nullptr;
  if (gst_sdp_message_new_from_text(offer.c_str(), &message) != GST_SDP_OK) {
    finish({}, "the offer is not valid SDP");
    return;
  }
  GstWebRTCSessionDescription *description =
      gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, message);
  auto shared = shared_;
  GstPromise *promise = promise_then([shared](GstPromise *p) {
    std::string error = promise_error(p);
    invoke_on(shared->context, [shared, error] {
      if (shared->self) {
        shared->self->on_remote_set(error);
      }
    });
  });
  g_signal_emit_by_name(webrtcbin_.get(), "set-remote-description", description, promise);
  gst_promise_unref(promise);
  gst_webrtc_session_description_free(description);
  // webrtcbin may sit on a description it cannot use; the client must never hang.
  timeout_->source = add_timeout(shared_->context, 5000 + gather_timeout_ms, [this] {
    finish({}, "the session did not produce an answer in time");
    return false;
  });
}

void Answerer::on_remote_set(const std::string &error) {
  if (!error.empty()) {
    finish({}, "the offer was refused: " + error);
    return;
  }
  remote_set_ = true;
  for (const auto &[mline, candidate] : pending_candidates_) {
    g_signal_emit_by_name(webrtcbin_.get(), "add-ice-candidate", mline, candidate.c_str());
  }
  pending_candidates_.clear();
  auto shared = shared_;
  GstPromise *promise = promise_then([shared](GstPromise *p) {
    std::string error = promise_error(p);
    GstStructure *reply = nullptr;
    if (error.empty() && gst_promise_get_reply(p)) {
      reply = gst_structure_copy(gst_promise_get_reply(p));
    }
    invoke_on(shared->context, [shared, reply, error] {
      if (shared->self) {
        shared->self->on_answer(reply, error);
      } else if (reply) {
        gst_structure_free(reply);
      }
    });
  });
  g_signal_emit_by_name(webrtcbin_.get(), "create-answer", nullptr, promise);
  gst_promise_unref(promise);
}

void Answerer::on_answer(GstStructure *reply, const std::string &error) {
  GstWebRTCSessionDescription *answer = nullptr;
  if (reply) {
    gst_structure_get(reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, nullptr);
    gst_structure_free(reply);
  }
  if (!answer) {
    finish({}, "no answer could be made" + (error.empty() ? std::string() : ": " + error));
    return;
  }
  gchar *text = gst_sdp_message_as_text(answer->sdp);
  answer_sdp_ = text;
  g_free(text);
  gathering_ = true;
  g_signal_emit_by_name(webrtcbin_.get(), "set-local-description", answer, nullptr);
  gst_webrtc_session_description_free(answer);
  GstWebRTCICEGatheringState state;
  g_object_get(webrtcbin_.get(), "ice-gathering-state", &state, nullptr);
  timeout_->source = add_timeout(shared_->context, gather_timeout_ms_, [this] {
    gathering_ = false;
    maybe_finish();
    return false;
  });
  maybe_finish();
}

void Answerer::maybe_finish() {
  if (gathering_ || answer_sdp_.empty() || !done_) {
    return;
  }
  std::string sdp = with_candidates(answer_sdp_, local_candidates_);
  answered_ = true;
  finish(sdp, {});
}

void Answerer::finish(const std::string &answer, const std::string &error) {
  timeout_->source.reset();
  if (auto done = std::exchange(done_, nullptr)) {
    done(answer, error);
  }
}

void Answerer::add_candidate(unsigned mline, const std::string &candidate) {
  if (!remote_set_) {
    pending_candidates_.emplace_back(mline, candidate);
    return;
  }
  g_signal_emit_by_name(webrtcbin_.get(), "add-ice-candidate", mline, candidate.c_str());
}

std::string Answerer::local_ufrag() const {
  return sdp_attribute(answer_sdp_, "ice-ufrag");
}

std::string Answerer::local_pwd() const {
  return sdp_attribute(answer_sdp_, "ice-pwd");
}

}  // namespace livepipe::signaling::media
