// Checking a WHIP or WHEP client's SDP offer and choosing, per m-line, the one
// codec the server will use, before webrtcbin sees it: the offer is reduced
// to those codecs so webrtcbin answers exactly them, with the offer's payload
// types.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace livepipe::signaling::media {

enum class Codec { kH264, kVP8, kOpus };
const char *codec_name(Codec codec);  // "H264", "VP8", "OPUS" (RTP encoding names)

enum class OfferRole {
  kPublish,  // WHIP: the client sends media
  kPlay,     // WHEP: the client receives media
};

struct ChosenMedia {
  unsigned mline = 0;
  std::string kind;  // "video" or "audio"
  std::string mid;
  Codec codec = Codec::kH264;
  int payload_type = 0;
  int clock_rate = 0;
  std::string fmtp;  // the chosen payload type's fmtp parameters ("" when none)
  // RTP caps for this payload type as webrtcbin expects them on a sink pad.
  std::string caps() const;
};

struct OfferPlan {
  std::vector<ChosenMedia> media;
  std::string sdp;  // the offer reduced to the chosen payload types
  const ChosenMedia *find(std::string_view kind) const;
};

// `video` and `audio` list the codecs the server accepts for each kind (an
// empty list: that kind is refused), in the server's order of preference, or
// with `client_order` in the order the offer lists them (a publisher's
// preference). Returns the reason when the offer is not valid SDP or nothing
// in it can be accepted.
std::variant<OfferPlan, std::string> plan_offer(std::string_view sdp, OfferRole role,
                                                const std::vector<Codec> &video,
                                                const std::vector<Codec> &audio,
                                                bool client_order = false);

}  // namespace livepipe::signaling::media
