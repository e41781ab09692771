// Builds the STUN Binding requests a full ICE agent sends, for the tests'
// stand-in viewers.
#pragma once

#include "stun.h"

#include <glib.h>
#include <sys/random.h>

#include <cstdint>
#include <string>
#include <vector>

namespace livepipe::signaling::fanout::test {

struct StunRequest {
  std::string username;  // "server-ufrag:client-ufrag"
  bool use_candidate = false;
  bool controlling = true;
  uint32_t priority = 1845501695;
  bool fingerprint = true;
  uint16_t extra_attribute = 0;  // an attribute with 4 bytes of zeros, when set
  std::array<uint8_t, 12> transaction{};
};

inline void put_attribute(std::vector<uint8_t> &out, uint16_t type, const void *value,
                          size_t size) {
  out.push_back(static_cast<uint8_t>(type >> 8));
  out.push_back(static_cast<uint8_t>(type));
  out.push_back(static_cast<uint8_t>(size >> 8));
  out.push_back(static_cast<uint8_t>(size));
  auto *bytes = static_cast<const uint8_t *>(value);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(bytes[i]);
  }
  while (out.size() % 4) {
    out.push_back(0);
  }
}

inline void set_length(std::vector<uint8_t> &out, size_t length) {
  out[2] = static_cast<uint8_t>(length >> 8);
  out[3] = static_cast<uint8_t>(length);
}

inline std::vector<uint8_t> binding_request(StunRequest request, const std::string &password) {
  if (request.transaction == std::array<uint8_t, 12>{}) {
    getrandom(request.transaction.data(), request.transaction.size(), 0);
  }
  std::vector<uint8_t> out;
  out.reserve(256);
  for (uint8_t b : {0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42}) {
    out.push_back(b);
  }
  for (uint8_t b : request.transaction) {
    out.push_back(b);
  }
  put_attribute(out, 0x0006, request.username.data(), request.username.size());
  uint8_t priority[4] = {
      static_cast<uint8_t>(request.priority >> 24), static_cast<uint8_t>(request.priority >> 16),
      static_cast<uint8_t>(request.priority >> 8), static_cast<uint8_t>(request.priority)};
  put_attribute(out, 0x0024, priority, 4);
  uint8_t tiebreaker[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  put_attribute(out, request.controlling ? 0x802A : 0x8029, tiebreaker, 8);
  if (request.use_candidate) {
    put_attribute(out, 0x0025, nullptr, 0);
  }
  if (request.extra_attribute) {
    uint8_t zeros[4] = {};
    put_attribute(out, request.extra_attribute, zeros, 4);
  }
  // MESSAGE-INTEGRITY over everything before it, the length counting it.
  set_length(out, out.size() - 20 + 24);
  guint8 mac[20];
  gsize mac_size = sizeof mac;
  GHmac *hmac = g_hmac_new(G_CHECKSUM_SHA1, reinterpret_cast<const guchar *>(password.data()),
                           password.size());
  g_hmac_update(hmac, out.data(), static_cast<gssize>(out.size()));
  g_hmac_get_digest(hmac, mac, &mac_size);
  g_hmac_unref(hmac);
  put_attribute(out, 0x0008, mac, sizeof mac);
  if (request.fingerprint) {
    set_length(out, out.size() - 20 + 8);
    uint32_t crc = crc32(out.data(), out.size()) ^ 0x5354554e;
    uint8_t value[4] = {static_cast<uint8_t>(crc >> 24), static_cast<uint8_t>(crc >> 16),
                        static_cast<uint8_t>(crc >> 8), static_cast<uint8_t>(crc)};
    put_attribute(out, 0x8028, value, 4);
  }
  set_length(out, out.size() - 20);
  return out;
}

}  // namespace livepipe::signaling::fanout::test
