// Whether an RTP packet of the stream's video begins a key frame, read from
// its payload alone (no depayloading): H.264 (RFC 6184) and VP8 (RFC 7741).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace livepipe::signaling::media {

// `encoding` is the RTP encoding name ("H264", "VP8", any case). A packet
// begins a key frame when it carries an IDR slice or a sequence parameter set
// (alone, in a STAP-A, or as the first fragment of an FU-A), or the first
// partition of a VP8 key frame. Unknown encodings and malformed payloads
// answer false.
bool rtp_begins_keyframe(std::string_view encoding, const uint8_t *payload, size_t size);

}  // namespace livepipe::signaling::media
