#include "rtp_keyframe.h"

#include <glib.h>

namespace livepipe::signaling::media {
namespace {

constexpr uint8_t kNalIdr = 5;
constexpr uint8_t kNalSps = 7;
constexpr uint8_t kNalStapA = 24;
constexpr uint8_t kNalFuA = 28;

bool starts_h264_picture(uint8_t nal_type) {
  return nal_type == kNalIdr || nal_type == kNalSps;
}

bool h264(const uint8_t *p, size_t size) {
  if (size < 1) {
    return false;
  }
  uint8_t type = p[0] & 0x1f;
  if (starts_h264_picture(type)) {
    return true;
  }
  if (type == kNalStapA) {
    // One-byte STAP-A header, then units each with a 16-bit size.
    size_t at = 1;
    while (at + 2 < size) {
      size_t length = (size_t{p[at]} << 8) | p[at + 1];
      at += 2;
      if (length == 0 || length > size - at) {
        return false;
      }
      if (starts_h264_picture(p[at] & 0x1f)) {
        return true;
      }
      at += length;
    }
    return false;
  }
  if (type == kNalFuA) {
    // FU indicator, then the FU header: S bit and the fragmented unit's type.
    return size >= 2 && (p[1] & 0x80) && starts_h264_picture(p[1] & 0x1f);
  }
  return false;
}

bool vp8(const uint8_t *p, size_t size) {
  if (size < 1) {
    return false;
  }
  // Payload descriptor: X, S and the partition index.
  bool extended = p[0] & 0x80;
  bool start = p[0] & 0x10;
  if (!start || (p[0] & 0x07) != 0) {
    return false;
  }
  size_t at = 1;
  if (extended) {
    if (size < 2) {
      return false;
    }
    uint8_t flags = p[1];
    at = 2;
    if (flags & 0x80) {  // I: picture id, 7 or 15 bits
      if (at >= size) {
        return false;
      }
      at += (p[at] & 0x80) ? 2 : 1;
    }
    if (flags & 0x40) {  // L: TL0PICIDX
      at += 1;
    }
    if (flags & 0x30) {  // T or K: TID/Y/KEYIDX
      at += 1;
    }
  }
  // VP8 payload header: P (inverse key frame flag) is the lowest bit.
  return at < size && (p[at] & 0x01) == 0;
}

}  // namespace

bool rtp_begins_keyframe(std::string_view encoding, const uint8_t *payload, size_t size) {
  if (!payload) {
    return false;
  }
  auto is = [&](const char *name) {
    return encoding.size() == std::string_view(name).size() &&
           g_ascii_strncasecmp(encoding.data(), name, encoding.size()) == 0;
  };
  if (is("H264")) {
    return h264(payload, size);
  }
  if (is("VP8")) {
    return vp8(payload, size);
  }
  return false;
}

}  // namespace livepipe::signaling::media
