#include "offer.h"

#include <gst/sdp/sdp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>

namespace livepipe::signaling::media {
namespace {

struct SdpFree {
  void operator()(GstSDPMessage *message) const { gst_sdp_message_free(message); }
};

struct Format {
  int pt = 0;
  std::string encoding;  // upper case
  int clock_rate = 0;
  std::string fmtp;
};

std::string upper(std::string text) {
  for (auto &c : text) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return text;
}

// The leading payload type of an attribute value ("96 H264/90000").
int leading_pt(const char *value) {
  if (!value) {
    return -1;
  }
  char *end = nullptr;
  long pt = std::strtol(value, &end, 10);
  if (end == value || pt < 0 || pt > 127) {
    return -1;
  }
  return static_cast<int>(pt);
}

std::vector<Format> formats_of(const GstSDPMedia *m) {
  std::map<int, Format> by_pt;
  for (guint i = 0; i < gst_sdp_media_formats_len(m); ++i) {
    int pt = leading_pt(gst_sdp_media_get_format(m, i));
    if (pt >= 0) {
      by_pt[pt].pt = pt;
    }
  }
  for (guint i = 0; i < gst_sdp_media_attributes_len(m); ++i) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute(m, i);
    int pt = leading_pt(a->value);
    if (pt < 0 || !by_pt.count(pt)) {
      continue;
    }
    const char *rest = std::strchr(a->value, ' ');
    if (!rest) {
      continue;
    }
    ++rest;
    if (!std::strcmp(a->key, "rtpmap")) {
      std::string map = rest;
      size_t slash = map.find('/');
      by_pt[pt].encoding = upper(map.substr(0, slash));
      if (slash != std::string::npos) {
        by_pt[pt].clock_rate = std::atoi(map.c_str() + slash + 1);
      }
    } else if (!std::strcmp(a->key, "fmtp")) {
      by_pt[pt].fmtp = rest;
    }
  }
  std::vector<Format> out;
  // Keep the offer's order: it is the client's preference.
  for (guint i = 0; i < gst_sdp_media_formats_len(m); ++i) {
    int pt = leading_pt(gst_sdp_media_get_format(m, i));
    if (pt >= 0 && by_pt.count(pt)) {
      out.push_back(by_pt[pt]);
      by_pt.erase(pt);
    }
  }
  return out;
}

std::string fmtp_param(const std::string &fmtp, const std::string &name) {
  size_t pos = 0;
  while (pos < fmtp.size()) {
    size_t end = fmtp.find(';', pos);
    std::string item = fmtp.substr(pos, end == std::string::npos ? end : end - pos);
    pos = end == std::string::npos ? fmtp.size() : end + 1;
    item.erase(0, item.find_first_not_of(' '));
    size_t eq = item.find('=');
    if (eq != std::string::npos && item.substr(0, eq) == name) {
      return item.substr(eq + 1);
    }
  }
  return {};
}

// Lower is better; -1: unusable. Browsers decode constrained baseline with
// packetization-mode 1 everywhere, so that comes first.
int h264_rank(const Format &f) {
  if (fmtp_param(f.fmtp, "packetization-mode") != "1") {
    return -1;
  }
  std::string profile = fmtp_param(f.fmtp, "profile-level-id");
  for (auto &c : profile) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (profile == "42e01f") {
    return 0;
  }
  if (profile.rfind("42e0", 0) == 0 || profile.rfind("4200", 0) == 0) {
    return 1;
  }
  if (profile.rfind("42", 0) == 0) {
    return 2;
  }
  return 3;
}

const Format *choose(const std::vector<Format> &formats, Codec codec) {
  const Format *best = nullptr;
  int best_rank = 1000;
  for (const auto &f : formats) {
    if (f.encoding != codec_name(codec)) {
      continue;
    }
    int rank = 0;
    if (codec == Codec::kH264) {
      rank = h264_rank(f);
    } else if (codec == Codec::kOpus) {
      rank = f.clock_rate == 48000 ? 0 : -1;
    } else {
      rank = f.clock_rate == 90000 ? 0 : -1;
    }
    if (rank >= 0 && rank < best_rank) {
      best = &f;
      best_rank = rank;
    }
  }
  return best;
}

std::string codec_list(const std::vector<Codec> &codecs) {
  std::string out;
  for (size_t i = 0; i < codecs.size(); ++i) {
    out += (i ? i + 1 == codecs.size() ? " or " : ", " : "");
    out += codecs[i] == Codec::kH264 ? "H.264 (packetization-mode=1)" : codec_name(codecs[i]);
  }
  return out;
}

bool has_attribute(const GstSDPMessage *sdp, const GstSDPMedia *m, const char *key) {
  return gst_sdp_media_get_attribute_val(m, key) || gst_sdp_message_get_attribute_val(sdp, key);
}

// Drops every payload type but `pt` from the m-line, with its attributes.
void reduce_to(GstSDPMedia *m, int pt) {
  for (guint i = gst_sdp_media_formats_len(m); i-- > 0;) {
    if (leading_pt(gst_sdp_media_get_format(m, i)) != pt) {
      gst_sdp_media_remove_format(m, i);
    }
  }
  for (guint i = gst_sdp_media_attributes_len(m); i-- > 0;) {
    const GstSDPAttribute *a = gst_sdp_media_get_attribute(m, i);
    bool per_pt = !std::strcmp(a->key, "rtpmap") || !std::strcmp(a->key, "fmtp") ||
                  !std::strcmp(a->key, "rtcp-fb");
    if ((per_pt && a->value && a->value[0] != '*' && leading_pt(a->value) != pt) ||
        !std::strcmp(a->key, "ssrc-group")) {
      gst_sdp_media_remove_attribute(m, i);
    }
  }
}

}  // namespace

const char *codec_name(Codec codec) {
  switch (codec) {
    case Codec::kH264:
      return "H264";
    case Codec::kVP8:
      return "VP8";
    case Codec::kOpus:
      return "OPUS";
  }
  return "";
}

std::string ChosenMedia::caps() const {
  std::string caps = "application/x-rtp,media=" + kind + ",encoding-name=" + codec_name(codec) +
                     ",payload=" + std::to_string(payload_type) +
                     ",clock-rate=" + std::to_string(clock_rate);
  if (codec == Codec::kH264) {
    caps += ",packetization-mode=(string)1";
    std::string profile = fmtp_param(fmtp, "profile-level-id");
    if (profile.size() == 6 && std::all_of(profile.begin(), profile.end(), ::isxdigit)) {
      caps += ",profile-level-id=(string)" + profile;
    }
  } else if (codec == Codec::kOpus) {
    caps += ",encoding-params=(string)2";
  }
  return caps;
}

const ChosenMedia *OfferPlan::find(std::string_view kind) const {
  for (const auto &m : media) {
    if (m.kind == kind) {
      return &m;
    }
  }
  return nullptr;
}

std::variant<OfferPlan, std::string> plan_offer(std::string_view text, OfferRole role,
                                                const std::vector<Codec> &video,
                                                const std::vector<Codec> &audio,
                                                bool client_order) {
  std::string sdp_text(text);
  if (sdp_text.find('\0') != std::string::npos) {
    return std::string("the offer contains a NUL byte");
  }
  if (sdp_text.rfind("v=0", 0) != 0) {
    return std::string("the offer is not SDP: it must start with v=0");
  }
  GstSDPMessage *raw = nullptr;
  gst_sdp_message_new(&raw);
  std::unique_ptr<GstSDPMessage, SdpFree> sdp(raw);
  if (gst_sdp_message_parse_buffer(reinterpret_cast<const guint8 *>(sdp_text.data()),
                                   static_cast<guint>(sdp_text.size()), sdp.get()) != GST_SDP_OK) {
    return std::string("the offer is not valid SDP");
  }
  if (gst_sdp_message_medias_len(sdp.get()) == 0) {
    return std::string("the offer has no m= lines");
  }
  OfferPlan plan;
  for (guint i = 0; i < gst_sdp_message_medias_len(sdp.get()); ++i) {
    auto *m = const_cast<GstSDPMedia *>(gst_sdp_message_get_media(sdp.get(), i));
    std::string where = "m-line " + std::to_string(i);
    const char *kind = gst_sdp_media_get_media(m);
    std::string k = kind ? kind : "";
    if (!has_attribute(sdp.get(), m, "ice-ufrag") || !has_attribute(sdp.get(), m, "ice-pwd")) {
      return where + " has no ice-ufrag/ice-pwd";
    }
    if (!has_attribute(sdp.get(), m, "fingerprint")) {
      return where + " has no DTLS fingerprint";
    }
    const bool sends = !gst_sdp_media_get_attribute_val(m, "recvonly") &&
                       !gst_sdp_media_get_attribute_val(m, "inactive");
    const bool receives = !gst_sdp_media_get_attribute_val(m, "sendonly") &&
                          !gst_sdp_media_get_attribute_val(m, "inactive");
    if (gst_sdp_media_get_port(m) == 0 && !gst_sdp_media_get_attribute_val(m, "bundle-only")) {
      continue;  // a rejected m-line (port 0 without bundle-only)
    }
    if (k != "video" && k != "audio") {
      return where + " is " + (k.empty() ? std::string("empty") : k) +
             ": only audio and video are served";
    }
    if (role == OfferRole::kPublish && !sends) {
      return where + " (" + k + ") does not send: a WHIP offer must be sendonly";
    }
    if (role == OfferRole::kPlay && !receives) {
      return where + " (" + k + ") does not receive: a WHEP offer must be recvonly";
    }
    if (plan.find(k)) {
      return where + ": only one " + k + " track per session is served";
    }
    const auto &accepted = k == "video" ? video : audio;
    if (accepted.empty()) {
      return where + ": this stream has no " + k;
    }
    auto formats = formats_of(m);
    const Format *chosen = nullptr;
    Codec chosen_codec = accepted.front();
    if (client_order) {
      for (size_t f = 0; f < formats.size() && !chosen; ++f) {
        for (Codec codec : accepted) {
          if (formats[f].encoding == codec_name(codec) && (chosen = choose(formats, codec))) {
            chosen_codec = codec;
            break;
          }
        }
      }
    } else {
      for (Codec codec : accepted) {
        if ((chosen = choose(formats, codec))) {
          chosen_codec = codec;
          break;
        }
      }
    }
    if (!chosen) {
      return where + " (" + k + ") offers none of " + codec_list(accepted);
    }
    ChosenMedia media;
    media.mline = i;
    media.kind = k;
    const char *mid = gst_sdp_media_get_attribute_val(m, "mid");
    media.mid = mid ? mid : "";
    media.codec = chosen_codec;
    media.payload_type = chosen->pt;
    media.clock_rate = chosen->clock_rate;
    media.fmtp = chosen->fmtp;
    reduce_to(m, chosen->pt);
    plan.media.push_back(std::move(media));
  }
  if (plan.media.empty()) {
    return std::string("the offer has no audio or video");
  }
  gchar *reduced = gst_sdp_message_as_text(sdp.get());
  plan.sdp = reduced;
  g_free(reduced);
  return plan;
}

}  // namespace livepipe::signaling::media
