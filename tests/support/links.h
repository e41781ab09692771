// SessionSignaling over the two room protocols, for webrtcbin test clients:
// V1Link speaks protocol v1 (/ws) to one named peer; GstLink speaks the
// GStreamer examples protocol (/ws/gst) in a 1-1 SESSION.
#pragma once

#include "messages.h"
#include "session.h"
#include "util/json.h"
#include "ws_client.h"

#include <string>

namespace livepipe::testing {

class V1Link final : public signaling::SessionSignaling {
 public:
  V1Link(WsClient &client, std::string remote) : client_(client), remote_(std::move(remote)) {}

  void start(Callbacks callbacks) override {
    callbacks_ = std::move(callbacks);
    client_.on_text = [this](const std::string &text) {
      auto message = signaling::parse_server_message(text);
      if (!message) {
        return;
      }
      if (auto *relay = std::get_if<signaling::Relay>(&*message)) {
        if (relay->peer != remote_) {
          return;
        }
        switch (relay->kind) {
          case signaling::RelayKind::kOffer:
            callbacks_.on_description(signaling::SdpKind::kOffer, relay->sdp);
            break;
          case signaling::RelayKind::kAnswer:
            callbacks_.on_description(signaling::SdpKind::kAnswer, relay->sdp);
            break;
          case signaling::RelayKind::kCandidate:
            callbacks_.on_candidate(static_cast<unsigned>(relay->sdp_mline_index.value_or(0)),
                                    relay->candidate);
            break;
          case signaling::RelayKind::kEndOfCandidates:
            break;
        }
      } else if (auto *left = std::get_if<signaling::PeerLeft>(&*message)) {
        if (left->peer == remote_ && callbacks_.on_end) {
          callbacks_.on_end(left->reason);
        }
      } else {
        others.push_back(text);
      }
    };
  }
  void send_description(signaling::SdpKind kind, const std::string &sdp) override {
    signaling::Relay relay;
    relay.kind = kind == signaling::SdpKind::kOffer ? signaling::RelayKind::kOffer
                                                    : signaling::RelayKind::kAnswer;
    relay.peer = remote_;
    relay.sdp = sdp;
    client_.send(signaling::serialize(signaling::ClientMessage{relay}));
  }
  void send_candidate(unsigned mline, const std::string &candidate) override {
    sent_candidates.push_back(candidate);
    signaling::Relay relay;
    relay.kind = signaling::RelayKind::kCandidate;
    relay.peer = remote_;
    relay.candidate = candidate;
    relay.sdp_mline_index = mline;
    client_.send(signaling::serialize(signaling::ClientMessage{relay}));
  }
  void end(const std::string &) override {
    client_.send(signaling::serialize(signaling::ClientMessage{signaling::Leave{}}));
  }

  std::vector<std::string> others;  // messages that were not for this session
  std::vector<std::string> sent_candidates;

 private:
  WsClient &client_;
  std::string remote_;
  Callbacks callbacks_;
};

// In a SESSION every frame goes to the other peer: JSON {"sdp":{...}} or {"ice":{...}}.
class GstLink final : public signaling::SessionSignaling {
 public:
  explicit GstLink(WsClient &client) : client_(client) {}

  void start(Callbacks callbacks) override {
    callbacks_ = std::move(callbacks);
    client_.on_text = [this](const std::string &text) {
      if (text == "OFFER_REQUEST") {
        callbacks_.on_offer_requested();
        return;
      }
      json::NodePtr root = json::parse(text, nullptr);
      if (!root || !JSON_NODE_HOLDS_OBJECT(root.get())) {
        others.push_back(text);
        return;
      }
      JsonObject *object = json_node_get_object(root.get());
      if (JsonObject *sdp = json::get_object(object, "sdp")) {
        auto type = json::get_string(sdp, "type").value_or("");
        callbacks_.on_description(
            type == "offer" ? signaling::SdpKind::kOffer : signaling::SdpKind::kAnswer,
            json::get_string(sdp, "sdp").value_or(""));
      } else if (JsonObject *ice = json::get_object(object, "ice")) {
        callbacks_.on_candidate(
            static_cast<unsigned>(json::get_int(ice, "sdpMLineIndex").value_or(0)),
            json::get_string(ice, "candidate").value_or(""));
      }
    };
  }
  void send_description(signaling::SdpKind kind, const std::string &sdp) override {
    json::NodePtr inner = json::ObjectBuilder()
                              .set("type", kind == signaling::SdpKind::kOffer ? "offer" : "answer")
                              .set("sdp", sdp)
                              .build();
    client_.send(json::ObjectBuilder().set("sdp", std::move(inner)).to_string());
  }
  void send_candidate(unsigned mline, const std::string &candidate) override {
    json::NodePtr inner = json::ObjectBuilder()
                              .set("candidate", candidate)
                              .set("sdpMLineIndex", int64_t{mline})
                              .build();
    client_.send(json::ObjectBuilder().set("ice", std::move(inner)).to_string());
  }
  void end(const std::string &) override { client_.close(); }

  std::vector<std::string> others;

 private:
  WsClient &client_;
  Callbacks callbacks_;
};

}  // namespace livepipe::testing
