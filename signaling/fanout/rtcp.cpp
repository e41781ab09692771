#include "rtcp.h"

#include <algorithm>
#include <cstddef>

namespace livepipe::signaling::fanout {
namespace {

constexpr uint8_t kSenderReport = 200;
constexpr uint8_t kReceiverReport = 201;
constexpr uint8_t kSdes = 202;
constexpr uint8_t kBye = 203;
constexpr uint8_t kTransportFeedback = 205;  // RTPFB
constexpr uint8_t kPayloadFeedback = 206;    // PSFB
constexpr uint8_t kGenericNack = 1;          // RTPFB FMT
constexpr uint8_t kPli = 1;                  // PSFB FMT
constexpr uint8_t kFir = 4;                  // PSFB FMT
constexpr size_t kMaxNacksPerPacket = 1024;

uint16_t read16(const uint8_t *p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t read32(const uint8_t *p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
void append32(std::vector<uint8_t> &out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}

void read_reports(const uint8_t *p, size_t count, RtcpFeedback *out) {
  for (size_t i = 0; i < count; ++i, p += 24) {
    ReportBlock block;
    block.ssrc = read32(p);
    block.fraction_lost = p[4];
    int32_t lost = static_cast<int32_t>(static_cast<uint32_t>(p[5]) << 16 |
                                        static_cast<uint32_t>(p[6]) << 8 | p[7]);
    if (lost & 0x800000) {
      lost -= 0x1000000;  // 24-bit signed
    }
    block.cumulative_lost = lost;
    block.highest_sequence = read32(p + 8);
    block.jitter = read32(p + 12);
    out->reports.push_back(block);
  }
}

}  // namespace

bool parse_rtcp(const uint8_t *data, size_t size, RtcpFeedback *out, std::string *error) {
  size_t at = 0;
  if (size < 4) {
    *error = "shorter than an RTCP header";
    return false;
  }
  while (at < size) {
    if (size - at < 4) {
      *error = "a truncated RTCP header";
      return false;
    }
    const uint8_t *p = data + at;
    if ((p[0] >> 6) != 2) {
      *error = "RTCP version is not 2";
      return false;
    }
    uint8_t count = p[0] & 0x1F;
    uint8_t type = p[1];
    size_t length = (static_cast<size_t>(read16(p + 2)) + 1) * 4;
    if (length > size - at) {
      *error = "an RTCP packet runs past the end";
      return false;
    }
    const uint8_t *body = p + 4;
    size_t body_size = length - 4;
    switch (type) {
      case kSenderReport:
        if (body_size < 24 + size_t(count) * 24) {
          *error = "a sender report is too short for its blocks";
          return false;
        }
        read_reports(body + 24, count, out);
        break;
      case kReceiverReport:
        if (body_size < 4 + size_t(count) * 24) {
          *error = "a receiver report is too short for its blocks";
          return false;
        }
        read_reports(body + 4, count, out);
        break;
      case kBye:
        out->bye = true;
        break;
      case kTransportFeedback:
        if (body_size < 8) {
          *error = "a transport feedback packet is too short";
          return false;
        }
        if (count == kGenericNack) {
          uint32_t media = read32(body + 4);
          for (size_t f = 8; f + 4 <= body_size; f += 4) {
            uint16_t pid = read16(body + f);
            uint16_t blp = read16(body + f + 2);
            if (out->nacks.size() < kMaxNacksPerPacket) {
              out->nacks.emplace_back(media, pid);
            }
            for (int bit = 0; bit < 16 && out->nacks.size() < kMaxNacksPerPacket; ++bit) {
              if (blp & (1u << bit)) {
                out->nacks.emplace_back(media, static_cast<uint16_t>(pid + bit + 1));
              }
            }
          }
        }
        break;
      case kPayloadFeedback:
        if (body_size < 8) {
          *error = "a payload feedback packet is too short";
          return false;
        }
        if (count == kPli) {
          out->keyframe_requests.push_back(read32(body + 4));
        } else if (count == kFir) {
          // FIR names its sources in the FCI entries (RFC 5104 section 4.3.1).
          for (size_t f = 8; f + 8 <= body_size; f += 8) {
            out->keyframe_requests.push_back(read32(body + f));
          }
        }
        break;
      default:
        break;  // SDES, APP, XR, REMB...: nothing this sender uses
    }
    at += length;
  }
  return true;
}

std::vector<uint8_t> sender_report(const SenderReport &report, std::string_view cname) {
  std::vector<uint8_t> out;
  out.reserve(64);
  out.push_back(0x80);  // V=2, no padding, no report blocks
  out.push_back(kSenderReport);
  out.push_back(0);
  out.push_back(6);  // 7 words
  append32(out, report.ssrc);
  append32(out, static_cast<uint32_t>(report.ntp >> 32));
  append32(out, static_cast<uint32_t>(report.ntp));
  append32(out, report.rtp_timestamp);
  append32(out, report.packets);
  append32(out, report.octets);
  // SDES: one chunk, CNAME, then the null item and padding to a word.
  size_t name = std::min<size_t>(cname.size(), 255);
  size_t chunk = 4 + 2 + name + 1;
  size_t padded = (chunk + 3) & ~size_t(3);
  out.push_back(0x81);
  out.push_back(kSdes);
  out.push_back(static_cast<uint8_t>(padded / 4 >> 8));
  out.push_back(static_cast<uint8_t>(padded / 4));  // (4 + padded) / 4 - 1
  append32(out, report.ssrc);
  out.push_back(1);  // CNAME
  out.push_back(static_cast<uint8_t>(name));
  out.insert(out.end(), cname.begin(), cname.begin() + static_cast<std::ptrdiff_t>(name));
  for (size_t i = chunk - 1; i < padded; ++i) {
    out.push_back(0);
  }
  return out;
}

std::vector<uint8_t> bye(uint32_t ssrc) {
  std::vector<uint8_t> out = {0x81, kBye, 0, 1};
  append32(out, ssrc);
  return out;
}

uint64_t ntp_from_unix_us(int64_t unix_us) {
  constexpr uint64_t kNtpUnixOffsetSeconds = 2208988800ull;
  uint64_t seconds = static_cast<uint64_t>(unix_us / 1000000) + kNtpUnixOffsetSeconds;
  uint64_t fraction = (static_cast<uint64_t>(unix_us % 1000000) << 32) / 1000000;
  return seconds << 32 | fraction;
}

}  // namespace livepipe::signaling::fanout
