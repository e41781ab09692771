// The SDP side of the shared-socket fan-out: what a viewer's offer says about
// its transport (ICE credentials, DTLS fingerprint and role), and the answer
// of an ICE-lite server that sends one bundled transport from a known socket.
// Pure code.
#pragma once

#include "offer.h"

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace livepipe::signaling::fanout {

struct Fingerprint {
  std::string algorithm;  // lower case: "sha-256", "sha-1", "sha-384", "sha-512"
  std::string value;      // upper-case hex pairs separated by colons
};

struct OfferTransport {
  std::string ufrag;
  std::string pwd;
  std::vector<Fingerprint> fingerprints;
  bool dtls_client = true;  // true: the viewer starts the DTLS handshake (it is active)
  bool rtcp_rsize = false;
};

// Reads the transport of the offer's bundle (its first accepted m-line, or
// the session level). Returns the reason when it cannot be served by one
// bundled transport with rtcp-mux.
std::variant<OfferTransport, std::string> read_offer_transport(const media::OfferPlan &plan);

struct LiteAnswer {
  std::string ufrag;
  std::string pwd;
  Fingerprint fingerprint;              // of the server's certificate
  std::vector<std::string> candidates;  // "candidate:..." lines (without "a=")
  bool dtls_client = false;             // the server's own role
  std::string cname;
  std::string stream_id;  // msid of the tracks (one MediaStream)
  uint32_t video_ssrc = 0;
  uint32_t audio_ssrc = 0;
  uint64_t session_id = 0;
};

// The answer to `plan`: every chosen m-line sends its codec with the offer's
// payload type, the rest are rejected (port 0).
std::string lite_answer(const media::OfferPlan &plan, const LiteAnswer &answer);

// "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host" for a host
// candidate; `index` orders foundations and priorities.
std::string host_candidate(unsigned index, const std::string &address, uint16_t port);

// Random ICE credentials: a ufrag of 8 and a password of 24 characters.
std::string random_ice_string(size_t length);

}  // namespace livepipe::signaling::fanout
