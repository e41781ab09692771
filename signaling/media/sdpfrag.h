// Trickle ICE fragments (RFC 8840, application/trickle-ice-sdpfrag): what a
// WHIP or WHEP client sends by PATCH to add candidates or restart ICE.
#pragma once

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace livepipe::signaling::media {

struct SdpFragMedia {
  std::string mid;                      // empty when the fragment names none
  std::vector<std::string> candidates;  // "candidate:..." (without "a=")
  bool end_of_candidates = false;
};

struct SdpFrag {
  // Session-level credentials, or the first media section's.
  std::string ice_ufrag;
  std::string ice_pwd;
  std::vector<SdpFragMedia> media;
  bool has_credentials() const { return !ice_ufrag.empty() && !ice_pwd.empty(); }
};

inline constexpr size_t kMaxSdpFragBytes = 64 * 1024;

// Strict about what it uses (credential characters and lengths, candidate
// fields), lenient about lines it does not need (other a= lines, c=, etc.).
// Returns the reason when `text` is not a usable fragment.
std::variant<SdpFrag, std::string> parse_sdpfrag(std::string_view text);

}  // namespace livepipe::signaling::media
