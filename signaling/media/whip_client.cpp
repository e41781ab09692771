#include "whip_client.h"

#include "answerer.h"
#include "icerestart.h"
#include "sdpfrag.h"
#include "util/maincontext.h"

#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

namespace livepipe::signaling::media {

struct WhipClient::Shared {
  WhipClient *self = nullptr;
  GMainContext *context = nullptr;
  gulong gathering_handler = 0;
  SourceGuard timeout;
  bool posted = false;
  gulong candidate_handler = 0;
  std::vector<std::pair<unsigned, std::string>> candidates;
  // Posts the local offer with the candidates gathered so far.
  void post_now() {
    if (!self || posted) {
      return;
    }
    GstWebRTCSessionDescription *local = nullptr;
    g_object_get(self->webrtcbin_.get(), "local-description", &local, nullptr);
    if (!local) {
      return;
    }
    gchar *text = gst_sdp_message_as_text(local->sdp);
    std::string offer = with_candidates(text, candidates);
    g_free(text);
    gst_webrtc_session_description_free(local);
    self->post(offer);
  }
};

namespace {

GstPromise *promise_then(std::function<void(GstPromise *)> done) {
  struct Call {
    std::function<void(GstPromise *)> done;
  };
  return gst_promise_new_with_change_func(
      [](GstPromise *promise, gpointer data) { static_cast<Call *>(data)->done(promise); },
      new Call{std::move(done)}, [](gpointer data) { delete static_cast<Call *>(data); });
}

}  // namespace

WhipClient::WhipClient(GstElement *webrtcbin, std::string url, std::string token)
    : webrtcbin_(ref(webrtcbin)),
      url_(std::move(url)),
      token_(std::move(token)),
      session_(soup_session_new()),
      shared_(std::make_shared<Shared>()) {
  shared_->self = this;
  shared_->context = g_main_context_ref_thread_default();
}

WhipClient::~WhipClient() {
  if (shared_->candidate_handler) {
    g_signal_handler_disconnect(webrtcbin_.get(), shared_->candidate_handler);
  }
  if (shared_->gathering_handler) {
    g_signal_handler_disconnect(webrtcbin_.get(), shared_->gathering_handler);
  }
  shared_->timeout.reset();
  shared_->self = nullptr;
  g_main_context_unref(shared_->context);
}

std::string WhipClient::ice_state() const {
  GstWebRTCICEConnectionState state;
  g_object_get(webrtcbin_.get(), "ice-connection-state", &state, nullptr);
  GEnumClass *klass = G_ENUM_CLASS(g_type_class_ref(GST_TYPE_WEBRTC_ICE_CONNECTION_STATE));
  GEnumValue *value = g_enum_get_value(klass, state);
  std::string name = value ? value->value_nick : "unknown";
  g_type_class_unref(klass);
  return name;
}

void WhipClient::start(std::function<void(const Result &)> done) {
  done_ = std::move(done);
  auto shared = shared_;
  shared->candidate_handler = g_signal_connect_data(
      webrtcbin_.get(), "on-ice-candidate",
      G_CALLBACK(+[](GstElement *, guint mline, gchar *candidate, gpointer data) {
        auto shared = *static_cast<std::shared_ptr<Shared> *>(data);
        std::string text = candidate;
        invoke_on(shared->context,
                  [shared, mline, text] { shared->candidates.emplace_back(mline, text); });
      }),
      new std::shared_ptr<Shared>(shared),
      [](gpointer data, GClosure *) { delete static_cast<std::shared_ptr<Shared> *>(data); },
      GConnectFlags(0));
  // The offer goes out once gathering completes (or after a bounded wait), so
  // it carries this side's candidates.
  shared->gathering_handler = g_signal_connect_data(
      webrtcbin_.get(), "notify::ice-gathering-state",
      G_CALLBACK(+[](GstElement *element, GParamSpec *, gpointer data) {
        auto shared = *static_cast<std::shared_ptr<Shared> *>(data);
        GstWebRTCICEGatheringState state;
        g_object_get(element, "ice-gathering-state", &state, nullptr);
        if (state != GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE) {
          return;
        }
        invoke_on(shared->context, [shared] {
          if (shared->self && !shared->posted) {
            shared->timeout = add_timeout(shared->context, kCandidateSettleMs, [shared] {
              shared->post_now();
              return false;
            });
          }
        });
      }),
      new std::shared_ptr<Shared>(shared),
      [](gpointer data, GClosure *) { delete static_cast<std::shared_ptr<Shared> *>(data); },
      GConnectFlags(0));
  GstPromise *promise = promise_then([shared](GstPromise *p) {
    const GstStructure *reply = gst_promise_get_reply(p);
    GstWebRTCSessionDescription *offer = nullptr;
    if (reply) {
      gst_structure_get(reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer, nullptr);
    }
    invoke_on(shared->context, [shared, offer] {
      WhipClient *self = shared->self;
      if (!self || !offer) {
        if (self) {
          self->result_.error = "webrtcbin made no offer";
          if (auto done = std::exchange(self->done_, nullptr)) {
            done(self->result_);
          }
        }
        if (offer) {
          gst_webrtc_session_description_free(offer);
        }
        return;
      }
      g_signal_emit_by_name(self->webrtcbin_.get(), "set-local-description", offer, nullptr);
      gst_webrtc_session_description_free(offer);
      shared->timeout = add_timeout(shared->context, 3000, [shared] {
        shared->post_now();
        return false;
      });
    });
  });
  g_signal_emit_by_name(webrtcbin_.get(), "create-offer", nullptr, promise);
  gst_promise_unref(promise);
}

void WhipClient::post(const std::string &offer) {
  shared_->posted = true;
  shared_->timeout.reset();
  SoupMessage *msg = soup_message_new("POST", url_.c_str());
  if (!msg) {
    result_.error = "not a valid URL: " + url_;
    if (auto done = std::exchange(done_, nullptr)) {
      done(result_);
    }
    return;
  }
  if (!token_.empty()) {
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization",
                                 ("Bearer " + token_).c_str());
  }
  GBytes *body = g_bytes_new(offer.data(), offer.size());
  soup_message_set_request_body_from_bytes(msg, "application/sdp", body);
  g_bytes_unref(body);
  result_.posted_us = g_get_monotonic_time();
  struct Call {
    std::shared_ptr<Shared> shared;
    SoupMessage *msg;
  };
  soup_session_send_and_read_async(
      session_.get(), msg, G_PRIORITY_DEFAULT, nullptr,
      [](GObject *source, GAsyncResult *res, gpointer data) {
        std::unique_ptr<Call> call(static_cast<Call *>(data));
        GError *error = nullptr;
        GBytes *bytes = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &error);
        WhipClient *self = call->shared->self;
        if (self) {
          Result &r = self->result_;
          r.status = soup_message_get_status(call->msg);
          std::string body;
          if (bytes) {
            gsize size = 0;
            const char *data = static_cast<const char *>(g_bytes_get_data(bytes, &size));
            body.assign(data ? data : "", size);
          }
          if (error) {
            r.error = error->message;
          } else if (r.status != SOUP_STATUS_CREATED) {
            r.error = "HTTP " + std::to_string(r.status) + ": " + body;
          } else {
            SoupMessageHeaders *h = soup_message_get_response_headers(call->msg);
            const char *location = soup_message_headers_get_one(h, "Location");
            const char *etag = soup_message_headers_get_one(h, "ETag");
            r.etag = etag ? etag : "";
            if (location) {
              GUri *resolved = g_uri_parse_relative(soup_message_get_uri(call->msg), location,
                                                    G_URI_FLAGS_NONE, nullptr);
              if (resolved) {
                gchar *text = g_uri_to_string(resolved);
                r.location = text;
                g_free(text);
                g_uri_unref(resolved);
              }
            }
            GstSDPMessage *sdp = nullptr;
            if (gst_sdp_message_new_from_text(body.c_str(), &sdp) == GST_SDP_OK) {
              GstWebRTCSessionDescription *answer =
                  gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
              g_signal_emit_by_name(self->webrtcbin_.get(), "set-remote-description", answer,
                                    nullptr);
              gst_webrtc_session_description_free(answer);
            } else {
              r.error = "the answer is not SDP";
            }
          }
          if (auto done = std::exchange(self->done_, nullptr)) {
            done(r);
          }
        }
        g_clear_error(&error);
        if (bytes) {
          g_bytes_unref(bytes);
        }
        g_object_unref(call->msg);
      },
      new Call{shared_, msg});
}

void WhipClient::restart_ice(std::function<void(guint, const std::string &)> done) {
  if (result_.location.empty()) {
    done(0, "the session has not started");
    return;
  }
  // The fragment names the bundle's first m-line.
  std::string kind = "video", mid;
  GstWebRTCSessionDescription *local = nullptr;
  g_object_get(webrtcbin_.get(), "local-description", &local, nullptr);
  if (local) {
    if (gst_sdp_message_medias_len(local->sdp) > 0) {
      const GstSDPMedia *m = gst_sdp_message_get_media(local->sdp, 0);
      kind = gst_sdp_media_get_media(m) ? gst_sdp_media_get_media(m) : kind;
      const char *value = gst_sdp_media_get_attribute_val(m, "mid");
      mid = value ? value : "";
    }
    gst_webrtc_session_description_free(local);
  }
  std::string error;
  auto params = media::restart_ice(webrtcbin_.get(), nullptr, &error);
  if (!params) {
    done(0, error);
    return;
  }
  std::string frag = "a=ice-ufrag:" + params->ufrag + "\r\na=ice-pwd:" + params->pwd +
                     "\r\nm=" + kind + " 9 UDP/TLS/RTP/SAVPF 0\r\n";
  if (!mid.empty()) {
    frag += "a=mid:" + mid + "\r\n";
  }
  for (const auto &candidate : params->candidates) {
    frag += "a=" + candidate + "\r\n";
  }
  frag += "a=end-of-candidates\r\n";
  SoupMessage *msg = soup_message_new("PATCH", result_.location.c_str());
  SoupMessageHeaders *headers = soup_message_get_request_headers(msg);
  if (!token_.empty()) {
    soup_message_headers_replace(headers, "Authorization", ("Bearer " + token_).c_str());
  }
  soup_message_headers_replace(headers, "If-Match", result_.etag.c_str());
  GBytes *body = g_bytes_new(frag.data(), frag.size());
  soup_message_set_request_body_from_bytes(msg, "application/trickle-ice-sdpfrag", body);
  g_bytes_unref(body);
  struct Call {
    std::shared_ptr<Shared> shared;
    SoupMessage *msg;
    unsigned stream;
    std::function<void(guint, const std::string &)> done;
  };
  soup_session_send_and_read_async(
      session_.get(), msg, G_PRIORITY_DEFAULT, nullptr,
      [](GObject *source, GAsyncResult *res, gpointer data) {
        std::unique_ptr<Call> call(static_cast<Call *>(data));
        GError *gerror = nullptr;
        GBytes *bytes = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &gerror);
        guint status = soup_message_get_status(call->msg);
        std::string text;
        if (bytes) {
          gsize size = 0;
          const char *raw = static_cast<const char *>(g_bytes_get_data(bytes, &size));
          text.assign(raw ? raw : "", size);
          g_bytes_unref(bytes);
        }
        std::string why;
        WhipClient *self = call->shared->self;
        if (gerror) {
          why = gerror->message;
        } else if (status != SOUP_STATUS_OK) {
          why = "HTTP " + std::to_string(status) + ": " + text;
        } else if (!self) {
          why = "the client is gone";
        } else {
          auto parsed = parse_sdpfrag(text);
          if (auto *bad = std::get_if<std::string>(&parsed)) {
            why = "the server's fragment: " + *bad;
          } else if (const SdpFrag &frag = std::get<SdpFrag>(parsed); !frag.has_credentials()) {
            why = "the server's fragment has no ice-ufrag/ice-pwd";
          } else if (set_remote_ice(self->webrtcbin_.get(), call->stream, frag.ice_ufrag,
                                    frag.ice_pwd, &why)) {
            for (const auto &m : frag.media) {
              for (const auto &candidate : m.candidates) {
                g_signal_emit_by_name(self->webrtcbin_.get(), "add-ice-candidate", 0u,
                                      candidate.c_str());
              }
            }
            const char *etag =
                soup_message_headers_get_one(soup_message_get_response_headers(call->msg), "ETag");
            self->result_.etag = etag ? etag : self->result_.etag;
          }
        }
        g_clear_error(&gerror);
        g_object_unref(call->msg);
        call->done(status, why);
      },
      new Call{shared_, msg, params->stream, std::move(done)});
}

void WhipClient::stop(std::function<void(guint status)> done) {
  if (result_.location.empty()) {
    done(0);
    return;
  }
  SoupMessage *msg = soup_message_new("DELETE", result_.location.c_str());
  if (!token_.empty()) {
    soup_message_headers_replace(soup_message_get_request_headers(msg), "Authorization",
                                 ("Bearer " + token_).c_str());
  }
  struct Call {
    std::function<void(guint)> done;
    SoupMessage *msg;
  };
  soup_session_send_and_read_async(
      session_.get(), msg, G_PRIORITY_DEFAULT, nullptr,
      [](GObject *source, GAsyncResult *res, gpointer data) {
        std::unique_ptr<Call> call(static_cast<Call *>(data));
        GBytes *bytes = soup_session_send_and_read_finish(SOUP_SESSION(source), res, nullptr);
        if (bytes) {
          g_bytes_unref(bytes);
        }
        guint status = soup_message_get_status(call->msg);
        g_object_unref(call->msg);
        call->done(status);
      },
      new Call{std::move(done), msg});
}

}  // namespace livepipe::signaling::media
