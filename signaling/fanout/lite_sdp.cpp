#include "lite_sdp.h"

#include <gst/sdp/sdp.h>
#include <sys/random.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>

namespace livepipe::signaling::fanout {
namespace {

struct SdpFree {
  void operator()(GstSDPMessage *message) const { gst_sdp_message_free(message); }
};
using SdpPtr = std::unique_ptr<GstSDPMessage, SdpFree>;

SdpPtr parse(const std::string &text) {
  GstSDPMessage *raw = nullptr;
  gst_sdp_message_new(&raw);
  SdpPtr sdp(raw);
  if (gst_sdp_message_parse_buffer(reinterpret_cast<const guint8 *>(text.data()),
                                   static_cast<guint>(text.size()), sdp.get()) != GST_SDP_OK) {
    return nullptr;
  }
  return sdp;
}

// A media attribute, else the session's.
const char *attribute(const GstSDPMessage *sdp, const GstSDPMedia *m, const char *key) {
  const char *value = m ? gst_sdp_media_get_attribute_val(m, key) : nullptr;
  return value ? value : gst_sdp_message_get_attribute_val(sdp, key);
}

std::string lower(std::string text) {
  for (auto &c : text) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return text;
}

std::string upper(std::string text) {
  for (auto &c : text) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return text;
}

void add_fingerprints(const GstSDPMessage *sdp, const GstSDPMedia *m,
                      std::vector<Fingerprint> *out) {
  auto add = [&](const char *value) {
    if (!value) {
      return;
    }
    std::string text = value;
    size_t space = text.find(' ');
    if (space == std::string::npos) {
      return;
    }
    out->push_back({lower(text.substr(0, space)), upper(text.substr(space + 1))});
  };
  for (guint i = 0; i < gst_sdp_media_attributes_len(m); ++i) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute(m, i);
    if (!std::strcmp(a->key, "fingerprint")) {
      add(a->value);
    }
  }
  if (out->empty()) {
    for (guint i = 0; i < gst_sdp_message_attributes_len(sdp); ++i) {
      const GstSDPAttribute *a = gst_sdp_message_get_attribute(sdp, i);
      if (!std::strcmp(a->key, "fingerprint")) {
        add(a->value);
      }
    }
  }
}

bool has_flag(const GstSDPMedia *m, const char *key) {
  for (guint i = 0; i < gst_sdp_media_attributes_len(m); ++i) {
    if (!std::strcmp(gst_sdp_media_get_attribute(m, i)->key, key)) {
      return true;
    }
  }
  return false;
}

// The rtcp-fb values of payload type `pt` this sender acts on.
std::vector<std::string> feedback_for(const GstSDPMedia *m, int pt) {
  static const std::set<std::string> supported = {"nack", "nack pli", "ccm fir"};
  std::vector<std::string> out;
  std::string prefix = std::to_string(pt) + " ";
  for (guint i = 0; i < gst_sdp_media_attributes_len(m); ++i) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute(m, i);
    if (std::strcmp(a->key, "rtcp-fb") || !a->value) {
      continue;
    }
    std::string value = a->value;
    std::string rest;
    if (value.rfind(prefix, 0) == 0) {
      rest = value.substr(prefix.size());
    } else if (value.rfind("* ", 0) == 0) {
      rest = value.substr(2);
    } else {
      continue;
    }
    if (supported.count(rest) && std::find(out.begin(), out.end(), rest) == out.end()) {
      out.push_back(rest);
    }
  }
  return out;
}

const char *kIceChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::variant<OfferTransport, std::string> read_offer_transport(const media::OfferPlan &plan) {
  if (plan.media.empty()) {
    return std::string("the offer has no media to serve");
  }
  SdpPtr sdp = parse(plan.sdp);
  if (!sdp) {
    return std::string("the offer is not valid SDP");
  }
  const unsigned first = plan.media.front().mline;
  if (first >= gst_sdp_message_medias_len(sdp.get())) {
    return std::string("the offer's m-lines do not match its plan");
  }
  const GstSDPMedia *m = gst_sdp_message_get_media(sdp.get(), first);
  OfferTransport transport;
  const char *ufrag = attribute(sdp.get(), m, "ice-ufrag");
  const char *pwd = attribute(sdp.get(), m, "ice-pwd");
  if (!ufrag || !pwd || !*ufrag || !*pwd) {
    return std::string("the offer has no ICE credentials");
  }
  transport.ufrag = ufrag;
  transport.pwd = pwd;
  add_fingerprints(sdp.get(), m, &transport.fingerprints);
  if (transport.fingerprints.empty()) {
    return std::string("the offer has no DTLS fingerprint");
  }
  const char *setup = attribute(sdp.get(), m, "setup");
  std::string role = setup ? lower(setup) : "actpass";
  if (role == "passive") {
    transport.dtls_client = false;
  } else if (role == "active" || role == "actpass") {
    transport.dtls_client = true;
  } else {
    return "the offer's a=setup:" + role + " is not one of actpass, active, passive";
  }
  for (const auto &chosen : plan.media) {
    const GstSDPMedia *media = gst_sdp_message_get_media(sdp.get(), chosen.mline);
    if (!media || !has_flag(media, "rtcp-mux")) {
      return "m-line " + std::to_string(chosen.mline) + " has no a=rtcp-mux";
    }
    if (attribute(sdp.get(), media, "ice-ufrag") != std::string(ufrag)) {
      return "m-line " + std::to_string(chosen.mline) +
             " has its own ICE credentials: the offer must bundle its media (max-bundle)";
    }
    if (has_flag(media, "rtcp-rsize")) {
      transport.rtcp_rsize = true;
    }
  }
  if (plan.media.size() > 1) {
    // Every served m-line must be in one BUNDLE group.
    bool bundled = false;
    for (guint i = 0; i < gst_sdp_message_attributes_len(sdp.get()); ++i) {
      const GstSDPAttribute *a = gst_sdp_message_get_attribute(sdp.get(), i);
      if (std::strcmp(a->key, "group") || !a->value) {
        continue;
      }
      std::string group = std::string(" ") + a->value + " ";
      if (group.rfind(" BUNDLE ", 0) != 0) {
        continue;
      }
      bundled = true;
      for (const auto &chosen : plan.media) {
        if (chosen.mid.empty() || group.find(" " + chosen.mid + " ") == std::string::npos) {
          bundled = false;
        }
      }
    }
    if (!bundled) {
      return std::string("the offer must bundle its media (a=group:BUNDLE with every mid)");
    }
  }
  return transport;
}

std::string lite_answer(const media::OfferPlan &plan, const LiteAnswer &answer) {
  SdpPtr sdp = parse(plan.sdp);
  std::string out = "v=0\r\no=- " + std::to_string(answer.session_id) +
                    " 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n";
  std::string bundle;
  for (const auto &chosen : plan.media) {
    if (!chosen.mid.empty()) {
      bundle += " " + chosen.mid;
    }
  }
  if (!bundle.empty()) {
    out += "a=group:BUNDLE" + bundle + "\r\n";
  }
  out += "a=msid-semantic: WMS " + answer.stream_id + "\r\n";
  const guint count = sdp ? gst_sdp_message_medias_len(sdp.get()) : 0;
  bool first_served = true;
  for (guint i = 0; i < count; ++i) {
    const GstSDPMedia *m = gst_sdp_message_get_media(sdp.get(), i);
    const char *kind = gst_sdp_media_get_media(m);
    const char *proto = gst_sdp_media_get_proto(m);
    const char *mid = gst_sdp_media_get_attribute_val(m, "mid");
    const media::ChosenMedia *chosen = nullptr;
    for (const auto &c : plan.media) {
      if (c.mline == i) {
        chosen = &c;
      }
    }
    std::string proto_text = proto ? proto : "UDP/TLS/RTP/SAVPF";
    if (!chosen) {
      std::string format =
          gst_sdp_media_formats_len(m) ? gst_sdp_media_get_format(m, 0) : std::string("0");
      out += std::string("m=") + (kind ? kind : "application") + " 0 " + proto_text + " " + format +
             "\r\nc=IN IP4 0.0.0.0\r\n";
      if (mid) {
        out += std::string("a=mid:") + mid + "\r\n";
      }
      out += "a=inactive\r\n";
      continue;
    }
    const int pt = chosen->payload_type;
    out += "m=" + chosen->kind + " 9 " + proto_text + " " + std::to_string(pt) +
           "\r\nc=IN IP4 0.0.0.0\r\n";
    out += "a=ice-ufrag:" + answer.ufrag + "\r\na=ice-pwd:" + answer.pwd + "\r\n";
    out +=
        "a=fingerprint:" + answer.fingerprint.algorithm + " " + answer.fingerprint.value + "\r\n";
    out += std::string("a=setup:") + (answer.dtls_client ? "active" : "passive") + "\r\n";
    if (!chosen->mid.empty()) {
      out += "a=mid:" + chosen->mid + "\r\n";
    }
    out += "a=sendonly\r\na=rtcp-mux\r\n";
    if (has_flag(m, "rtcp-rsize")) {
      out += "a=rtcp-rsize\r\n";
    }
    std::string encoding = media::codec_name(chosen->codec);
    if (chosen->codec == media::Codec::kOpus) {
      encoding = "opus";
    }
    out += "a=rtpmap:" + std::to_string(pt) + " " + encoding + "/" +
           std::to_string(chosen->clock_rate) + (chosen->codec == media::Codec::kOpus ? "/2" : "") +
           "\r\n";
    if (!chosen->fmtp.empty()) {
      out += "a=fmtp:" + std::to_string(pt) + " " + chosen->fmtp + "\r\n";
    }
    if (chosen->kind == "video") {
      for (const auto &fb : feedback_for(m, pt)) {
        out += "a=rtcp-fb:" + std::to_string(pt) + " " + fb + "\r\n";
      }
    }
    const uint32_t ssrc = chosen->kind == "video" ? answer.video_ssrc : answer.audio_ssrc;
    out += "a=msid:" + answer.stream_id + " " + chosen->kind + "\r\n";
    out += "a=ssrc:" + std::to_string(ssrc) + " cname:" + answer.cname + "\r\n";
    out += "a=ssrc:" + std::to_string(ssrc) + " msid:" + answer.stream_id + " " + chosen->kind +
           "\r\n";
    // With max-bundle the first served m-line carries the transport's
    // candidates; they serve every m-line of the bundle.
    if (first_served) {
      for (const auto &candidate : answer.candidates) {
        out += "a=" + candidate + "\r\n";
      }
      out += "a=end-of-candidates\r\n";
      first_served = false;
    }
  }
  return out;
}

std::string host_candidate(unsigned index, const std::string &address, uint16_t port) {
  // Type preference 126 (host), local preference falling with the index,
  // component 1 (RFC 8445 section 5.1.2.1).
  uint32_t priority = (126u << 24) | ((65535u - index) << 8) | 255u;
  return "candidate:" + std::to_string(index + 1) + " 1 udp " + std::to_string(priority) + " " +
         address + " " + std::to_string(port) + " typ host";
}

std::string random_ice_string(size_t length) {
  std::vector<uint8_t> bytes(length);
  size_t got = 0;
  while (got < length) {
    ssize_t n = getrandom(bytes.data() + got, length - got, 0);
    if (n <= 0) {
      break;
    }
    got += static_cast<size_t>(n);
  }
  std::string out;
  for (uint8_t b : bytes) {
    out.push_back(kIceChars[b & 63]);
  }
  return out;
}

}  // namespace livepipe::signaling::fanout
