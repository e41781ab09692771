#include "stun.h"

#include <glib.h>
#include <netinet/in.h>

#include <cstring>

namespace livepipe::signaling::fanout {
namespace {

constexpr uint16_t kUsername = 0x0006;
constexpr uint16_t kMessageIntegrity = 0x0008;
constexpr uint16_t kErrorCode = 0x0009;
constexpr uint16_t kXorMappedAddress = 0x0020;
constexpr uint16_t kPriority = 0x0024;
constexpr uint16_t kUseCandidate = 0x0025;
constexpr uint16_t kFingerprint = 0x8028;
constexpr uint16_t kIceControlled = 0x8029;
constexpr uint16_t kIceControlling = 0x802A;
constexpr uint16_t kMessageIntegritySha256 = 0x001C;
constexpr uint32_t kFingerprintXor = 0x5354554e;
constexpr size_t kIntegrityBytes = 20;
constexpr size_t kMaxUsernameBytes = 513;  // RFC 8489 section 14.3

uint16_t read16(const uint8_t *p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
uint32_t read32(const uint8_t *p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
void put16(std::vector<uint8_t> &out, size_t at, uint16_t v) {
  out[at] = static_cast<uint8_t>(v >> 8);
  out[at + 1] = static_cast<uint8_t>(v);
}
void append16(std::vector<uint8_t> &out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void append32(std::vector<uint8_t> &out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}

std::array<uint8_t, kIntegrityBytes> hmac_sha1(std::string_view key, const uint8_t *data,
                                               size_t size) {
  std::array<uint8_t, kIntegrityBytes> digest{};
  GHmac *hmac =
      g_hmac_new(G_CHECKSUM_SHA1, reinterpret_cast<const guchar *>(key.data()), key.size());
  g_hmac_update(hmac, data, static_cast<gssize>(size));
  gsize length = digest.size();
  g_hmac_get_digest(hmac, digest.data(), &length);
  g_hmac_unref(hmac);
  return digest;
}

std::vector<uint8_t> header(uint16_t type, const std::array<uint8_t, 12> &transaction) {
  std::vector<uint8_t> out;
  out.reserve(96);
  append16(out, type);
  append16(out, 0);  // length, set as attributes are added
  append32(out, kStunMagicCookie);
  out.insert(out.end(), transaction.begin(), transaction.end());
  return out;
}

void add_attribute(std::vector<uint8_t> &out, uint16_t type, const uint8_t *value, size_t size) {
  append16(out, type);
  append16(out, static_cast<uint16_t>(size));
  out.insert(out.end(), value, value + size);
  while (out.size() % 4) {
    out.push_back(0);
  }
  put16(out, 2, static_cast<uint16_t>(out.size() - kStunHeaderBytes));
}

// MESSAGE-INTEGRITY then FINGERPRINT, each computed with the header's length
// already counting the attribute itself (RFC 8489 sections 14.5 and 14.7).
void sign(std::vector<uint8_t> &out, std::string_view password) {
  if (!password.empty()) {
    put16(out, 2, static_cast<uint16_t>(out.size() - kStunHeaderBytes + 4 + kIntegrityBytes));
    auto mac = hmac_sha1(password, out.data(), out.size());
    add_attribute(out, kMessageIntegrity, mac.data(), mac.size());
  }
  put16(out, 2, static_cast<uint16_t>(out.size() - kStunHeaderBytes + 8));
  uint32_t crc = crc32(out.data(), out.size()) ^ kFingerprintXor;
  uint8_t value[4] = {static_cast<uint8_t>(crc >> 24), static_cast<uint8_t>(crc >> 16),
                      static_cast<uint8_t>(crc >> 8), static_cast<uint8_t>(crc)};
  add_attribute(out, kFingerprint, value, sizeof value);
}

}  // namespace

PacketKind classify(const uint8_t *data, size_t size) {
  if (size == 0) {
    return PacketKind::kUnknown;
  }
  uint8_t b = data[0];
  if (b <= 3) {
    return PacketKind::kStun;
  }
  if (b >= 20 && b <= 63) {
    return PacketKind::kDtls;
  }
  if (b >= 128 && b <= 191) {
    return PacketKind::kRtp;
  }
  return PacketKind::kUnknown;
}

uint32_t crc32(const uint8_t *data, size_t size) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) {
        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      }
      t[i] = c;
    }
    return t;
  }();
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) {
    crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  }
  return crc ^ 0xFFFFFFFFu;
}

std::optional<StunMessage> parse_stun(const uint8_t *data, size_t size, std::string *error) {
  auto fail = [&](const char *why) -> std::optional<StunMessage> {
    *error = why;
    return std::nullopt;
  };
  if (size < kStunHeaderBytes) {
    return fail("shorter than a STUN header");
  }
  StunMessage message;
  message.type = read16(data);
  if (message.type & 0xC000) {
    return fail("the two top bits of the type are not zero");
  }
  size_t length = read16(data + 2);
  if (length % 4) {
    return fail("the length is not a multiple of 4");
  }
  if (kStunHeaderBytes + length != size) {
    return fail("the length does not match the packet");
  }
  if (read32(data + 4) != kStunMagicCookie) {
    return fail("no magic cookie");
  }
  std::memcpy(message.transaction.data(), data + 8, 12);
  size_t at = kStunHeaderBytes;
  bool after_integrity = false;
  while (at < size) {
    if (size - at < 4) {
      return fail("a truncated attribute header");
    }
    uint16_t type = read16(data + at);
    size_t alen = read16(data + at + 2);
    size_t padded = (alen + 3) & ~size_t(3);
    if (padded > size - at - 4) {
      return fail("an attribute runs past the end");
    }
    const uint8_t *value = data + at + 4;
    if (message.has_fingerprint) {
      return fail("an attribute follows FINGERPRINT");
    }
    if (type == kFingerprint) {
      if (alen != 4) {
        return fail("FINGERPRINT is not 4 bytes");
      }
      uint32_t expected = crc32(data, at) ^ kFingerprintXor;
      if (read32(value) != expected) {
        return fail("FINGERPRINT does not match");
      }
      message.has_fingerprint = true;
    } else if (after_integrity) {
      // Only FINGERPRINT (and MESSAGE-INTEGRITY-SHA256) may follow; anything
      // else is ignored (RFC 8489 section 14.5).
    } else if (type == kMessageIntegrity) {
      if (alen != kIntegrityBytes) {
        return fail("MESSAGE-INTEGRITY is not 20 bytes");
      }
      message.has_integrity = true;
      message.integrity_offset = at;
      after_integrity = true;
    } else if (type == kUsername) {
      if (alen == 0 || alen > kMaxUsernameBytes) {
        return fail("USERNAME is empty or too long");
      }
      message.username.assign(reinterpret_cast<const char *>(value), alen);
    } else if (type == kPriority) {
      if (alen != 4) {
        return fail("PRIORITY is not 4 bytes");
      }
      message.priority = read32(value);
    } else if (type == kUseCandidate) {
      if (alen != 0) {
        return fail("USE-CANDIDATE has a value");
      }
      message.use_candidate = true;
    } else if (type == kIceControlling || type == kIceControlled) {
      if (alen != 8) {
        return fail("ICE-CONTROLLING/ICE-CONTROLLED is not 8 bytes");
      }
      (type == kIceControlling ? message.ice_controlling : message.ice_controlled) = true;
    } else if (type == kMessageIntegritySha256 || type == kErrorCode || type == kXorMappedAddress) {
      // Known; nothing an ICE-lite agent needs from them.
    } else if (type < 0x8000) {
      message.unknown_required.push_back(type);
    }
    at += 4 + padded;
  }
  return message;
}

bool check_integrity(const uint8_t *data, size_t size, const StunMessage &message,
                     std::string_view password) {
  if (!message.has_integrity || message.integrity_offset + 4 + kIntegrityBytes > size ||
      password.empty()) {
    return false;
  }
  // The HMAC covers the message up to MESSAGE-INTEGRITY, with the header's
  // length counting up to and including that attribute.
  std::vector<uint8_t> covered(data, data + message.integrity_offset);
  put16(covered, 2,
        static_cast<uint16_t>(message.integrity_offset - kStunHeaderBytes + 4 + kIntegrityBytes));
  auto mac = hmac_sha1(password, covered.data(), covered.size());
  const uint8_t *got = data + message.integrity_offset + 4;
  // Constant time: the comparison must not tell how many bytes matched.
  uint8_t diff = 0;
  for (size_t i = 0; i < kIntegrityBytes; ++i) {
    diff |= static_cast<uint8_t>(mac[i] ^ got[i]);
  }
  return diff == 0;
}

std::vector<uint8_t> binding_success(const std::array<uint8_t, 12> &transaction,
                                     const sockaddr_storage &from, std::string_view password) {
  std::vector<uint8_t> out = header(0x0101, transaction);
  std::vector<uint8_t> value;
  if (from.ss_family == AF_INET6) {
    const auto *in6 = reinterpret_cast<const sockaddr_in6 *>(&from);
    value = {0, 0x02};
    uint16_t port = ntohs(in6->sin6_port) ^ static_cast<uint16_t>(kStunMagicCookie >> 16);
    append16(value, port);
    uint8_t mask[16];
    for (int i = 0; i < 4; ++i) {
      mask[i] = static_cast<uint8_t>(kStunMagicCookie >> (24 - 8 * i));
    }
    std::memcpy(mask + 4, transaction.data(), 12);
    for (int i = 0; i < 16; ++i) {
      value.push_back(in6->sin6_addr.s6_addr[i] ^ mask[i]);
    }
  } else {
    const auto *in4 = reinterpret_cast<const sockaddr_in *>(&from);
    value = {0, 0x01};
    append16(value, ntohs(in4->sin_port) ^ static_cast<uint16_t>(kStunMagicCookie >> 16));
    append32(value, ntohl(in4->sin_addr.s_addr) ^ kStunMagicCookie);
  }
  add_attribute(out, kXorMappedAddress, value.data(), value.size());
  sign(out, password);
  return out;
}

std::vector<uint8_t> binding_error(const std::array<uint8_t, 12> &transaction, int code,
                                   std::string_view reason, std::string_view password) {
  std::vector<uint8_t> out = header(0x0111, transaction);
  std::vector<uint8_t> value = {0, 0, static_cast<uint8_t>(code / 100),
                                static_cast<uint8_t>(code % 100)};
  value.insert(value.end(), reason.begin(), reason.end());
  add_attribute(out, kErrorCode, value.data(), value.size());
  sign(out, password);
  return out;
}

}  // namespace livepipe::signaling::fanout
