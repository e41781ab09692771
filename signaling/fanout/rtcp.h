// The RTCP a sending-only WebRTC endpoint reads and writes (RFC 3550, RFC
// 4585, RFC 5104): receiver reports, NACK, PLI and FIR in; sender reports
// with the CNAME out. Pure code over decrypted packets.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace livepipe::signaling::fanout {

struct ReportBlock {
  uint32_t ssrc = 0;  // the source reported on (ours)
  uint8_t fraction_lost = 0;
  int32_t cumulative_lost = 0;
  uint32_t highest_sequence = 0;
  uint32_t jitter = 0;
};

struct RtcpFeedback {
  std::vector<ReportBlock> reports;
  std::vector<uint32_t> keyframe_requests;           // media SSRCs of PLI and FIR
  std::vector<std::pair<uint32_t, uint16_t>> nacks;  // (media SSRC, lost sequence)
  bool bye = false;
};

// Reads a compound (or reduced-size, RFC 5506) RTCP packet. False and
// `error` when it is malformed; what was read before the problem is kept.
bool parse_rtcp(const uint8_t *data, size_t size, RtcpFeedback *out, std::string *error);

struct SenderReport {
  uint32_t ssrc = 0;
  uint64_t ntp = 0;  // NTP timestamp (32.32 fixed point)
  uint32_t rtp_timestamp = 0;
  uint32_t packets = 0;
  uint32_t octets = 0;
};

// An SR without report blocks followed by an SDES with the CNAME: the
// compound packet RFC 3550 section 6.1 asks for.
std::vector<uint8_t> sender_report(const SenderReport &report, std::string_view cname);

// A BYE for `ssrc`.
std::vector<uint8_t> bye(uint32_t ssrc);

// The NTP timestamp of a time in microseconds since the Unix epoch.
uint64_t ntp_from_unix_us(int64_t unix_us);

}  // namespace livepipe::signaling::fanout
