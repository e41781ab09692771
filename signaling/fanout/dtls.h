// DTLS-SRTP (RFC 5763, RFC 5764) for one viewer of the shared-socket fan-out,
// on OpenSSL: the handshake runs over datagrams the caller carries (no socket
// here), checks the peer's certificate against the fingerprint of its SDP and
// yields the SRTP keys.
#pragma once

#include "lite_sdp.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
typedef struct bio_st BIO;

namespace livepipe::signaling::fanout {

// The server's certificate (ECDSA P-256, self-signed) and the OpenSSL context
// every session shares.
class DtlsIdentity {
 public:
  static std::shared_ptr<DtlsIdentity> create(std::string *error);
  ~DtlsIdentity();
  DtlsIdentity(const DtlsIdentity &) = delete;
  DtlsIdentity &operator=(const DtlsIdentity &) = delete;

  const Fingerprint &fingerprint() const { return fingerprint_; }
  SSL_CTX *context() const { return context_; }

 private:
  DtlsIdentity() = default;
  SSL_CTX *context_ = nullptr;
  Fingerprint fingerprint_;
};

enum class SrtpProfile { kAes128CmSha1_80, kAeadAes128Gcm };

struct SrtpKeys {
  SrtpProfile profile = SrtpProfile::kAes128CmSha1_80;
  std::vector<uint8_t> local;   // master key then salt: what this side protects with
  std::vector<uint8_t> remote;  // the peer's
};

// Hex pairs of a certificate digest, "AB:CD:...", for an SDP a=fingerprint.
std::string fingerprint_hex(const uint8_t *digest, size_t size);

class DtlsSession {
 public:
  enum class State { kHandshaking, kConnected, kFailed, kClosed };
  // Sends one datagram to the peer.
  using Send = std::function<void(const uint8_t *data, size_t size)>;

  DtlsSession(std::shared_ptr<DtlsIdentity> identity, bool client, Send send);
  ~DtlsSession();
  DtlsSession(const DtlsSession &) = delete;
  DtlsSession &operator=(const DtlsSession &) = delete;

  // A client sends its first flight; a server waits for one.
  void start();
  // One datagram from the peer (a DTLS record or several).
  State receive(const uint8_t *data, size_t size);
  // Retransmits a lost flight when its timer has run out; microseconds until
  // the next timer, or -1 when none is running.
  int64_t on_timer();
  // Sends close_notify once connected.
  void close();

  State state() const { return state_; }
  const std::string &error() const { return error_; }
  // Once connected: the SRTP profile and keys.
  const std::optional<SrtpKeys> &keys() const { return keys_; }
  // True when the peer's certificate matches one of `expected` (a=fingerprint).
  bool peer_matches(const std::vector<Fingerprint> &expected) const;

 private:
  void advance();
  void fail(const std::string &what);

  std::shared_ptr<DtlsIdentity> identity_;
  Send send_;
  SSL *ssl_ = nullptr;
  BIO *incoming_ = nullptr;  // owned by ssl_
  bool client_ = false;
  State state_ = State::kHandshaking;
  std::string error_;
  std::optional<SrtpKeys> keys_;
};

}  // namespace livepipe::signaling::fanout
