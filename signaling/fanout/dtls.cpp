#include "dtls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <mutex>

namespace livepipe::signaling::fanout {
namespace {

// Records are cut to fit a datagram on any path WebRTC uses (TURN and
// tunnels included).
constexpr long kMtu = 1200;

std::string openssl_errors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    if (!out.empty()) {
      out += "; ";
    }
    out += text;
  }
  return out.empty() ? std::string("unknown OpenSSL error") : out;
}

// Each write from OpenSSL is one datagram for the peer; the BIO's data is the
// session's Send.
int outgoing_write(BIO *bio, const char *data, int size) {
  auto *send = static_cast<DtlsSession::Send *>(BIO_get_data(bio));
  if (send && *send && size > 0) {
    (*send)(reinterpret_cast<const uint8_t *>(data), static_cast<size_t>(size));
  }
  return size;
}

long outgoing_ctrl(BIO *, int cmd, long, void *) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_DGRAM_QUERY_MTU:
      return kMtu;
    default:
      return 0;
  }
}

BIO_METHOD *outgoing_method() {
  static BIO_METHOD *method = nullptr;
  static std::once_flag once;
  std::call_once(once, [] {
    method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "livepipe-dtls-out");
    BIO_meth_set_create(method, [](BIO *bio) {
      BIO_set_init(bio, 1);
      return 1;
    });
    BIO_meth_set_destroy(method, [](BIO *) { return 1; });
    BIO_meth_set_write(method, outgoing_write);
    BIO_meth_set_ctrl(method, outgoing_ctrl);
  });
  return method;
}

const EVP_MD *digest_named(const std::string &algorithm) {
  if (algorithm == "sha-256") {
    return EVP_sha256();
  }
  if (algorithm == "sha-1") {
    return EVP_sha1();
  }
  if (algorithm == "sha-384") {
    return EVP_sha384();
  }
  if (algorithm == "sha-512") {
    return EVP_sha512();
  }
  return nullptr;
}

}  // namespace

std::string fingerprint_hex(const uint8_t *digest, size_t size) {
  static const char *hex = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    if (i) {
      out += ':';
    }
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::shared_ptr<DtlsIdentity> DtlsIdentity::create(std::string *error) {
  std::shared_ptr<DtlsIdentity> identity(new DtlsIdentity());
  EVP_PKEY *key = EVP_EC_gen("P-256");
  X509 *cert = X509_new();
  auto cleanup = [&] {
    EVP_PKEY_free(key);
    X509_free(cert);
  };
  uint32_t serial = 0;
  if (!key || !cert || RAND_bytes(reinterpret_cast<unsigned char *>(&serial), sizeof serial) != 1) {
    *error = "cannot make the DTLS key: " + openssl_errors();
    cleanup();
    return nullptr;
  }
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial & 0x7FFFFFFF);
  // Peers check the certificate against the SDP fingerprint only, but some
  // refuse one not yet valid: start a day back.
  X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
  X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 86400);
  X509_set_pubkey(cert, key);
  X509_NAME *name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char *>("livepipe"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  if (!X509_sign(cert, key, EVP_sha256())) {
    *error = "cannot sign the DTLS certificate: " + openssl_errors();
    cleanup();
    return nullptr;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  X509_digest(cert, EVP_sha256(), digest, &digest_size);
  identity->fingerprint_ = {"sha-256", fingerprint_hex(digest, digest_size)};

  SSL_CTX *ctx = SSL_CTX_new(DTLS_method());
  identity->context_ = ctx;
  if (!ctx || !SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) ||
      !SSL_CTX_use_certificate(ctx, cert) || !SSL_CTX_use_PrivateKey(ctx, key) ||
      !SSL_CTX_check_private_key(ctx) ||
      !SSL_CTX_set_cipher_list(ctx,
                               "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                               "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-SHA:"
                               "ECDHE-ECDSA-AES256-SHA") ||
      // Returns 0 on success, unlike its neighbours.
      SSL_CTX_set_tlsext_use_srtp(ctx, "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80") != 0) {
    *error = "cannot set up DTLS: " + openssl_errors();
    cleanup();
    return nullptr;
  }
  // The peer's certificate is self-signed: it is checked against the SDP
  // fingerprint once the handshake is done, not against a CA.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                     [](int, X509_STORE_CTX *) { return 1; });
  SSL_CTX_set_read_ahead(ctx, 1);
  SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  cleanup();  // the context holds its own references
  return identity;
}

DtlsIdentity::~DtlsIdentity() {
  SSL_CTX_free(context_);
}

DtlsSession::DtlsSession(std::shared_ptr<DtlsIdentity> identity, bool client, Send send)
    : identity_(std::move(identity)), send_(std::move(send)), client_(client) {
  ssl_ = SSL_new(identity_->context());
  incoming_ = BIO_new(BIO_s_mem());
  BIO_set_mem_eof_return(incoming_, -1);
  BIO *outgoing = BIO_new(outgoing_method());
  BIO_set_data(outgoing, &send_);
  SSL_set_bio(ssl_, incoming_, outgoing);
  SSL_set_mtu(ssl_, kMtu);
  DTLS_set_link_mtu(ssl_, kMtu);
  if (client_) {
    SSL_set_connect_state(ssl_);
  } else {
    SSL_set_accept_state(ssl_);
  }
}

DtlsSession::~DtlsSession() {
  SSL_free(ssl_);
}

void DtlsSession::start() {
  if (client_ && state_ == State::kHandshaking) {
    advance();
  }
}

void DtlsSession::fail(const std::string &what) {
  state_ = State::kFailed;
  error_ = what;
}

void DtlsSession::advance() {
  ERR_clear_error();
  int result = SSL_do_handshake(ssl_);
  if (result == 1) {
    const SRTP_PROTECTION_PROFILE *profile = SSL_get_selected_srtp_profile(ssl_);
    if (!profile) {
      fail("the peer agreed no SRTP profile");
      return;
    }
    SrtpKeys keys;
    size_t key_size = 16;
    size_t salt_size = 14;
    if (profile->id == SRTP_AEAD_AES_128_GCM) {
      keys.profile = SrtpProfile::kAeadAes128Gcm;
      salt_size = 12;
    } else if (profile->id != SRTP_AES128_CM_SHA1_80) {
      fail(std::string("unexpected SRTP profile ") + profile->name);
      return;
    }
    std::vector<uint8_t> material(2 * (key_size + salt_size));
    static const char kLabel[] = "EXTRACTOR-dtls_srtp";
    if (SSL_export_keying_material(ssl_, material.data(), material.size(), kLabel,
                                   sizeof kLabel - 1, nullptr, 0, 0) != 1) {
      fail("cannot export the SRTP keys: " + openssl_errors());
      return;
    }
    // RFC 5764 section 4.2: client key, server key, client salt, server salt.
    const uint8_t *client_key = material.data();
    const uint8_t *server_key = client_key + key_size;
    const uint8_t *client_salt = server_key + key_size;
    const uint8_t *server_salt = client_salt + salt_size;
    auto join = [&](const uint8_t *key, const uint8_t *salt) {
      std::vector<uint8_t> out(key, key + key_size);
      out.insert(out.end(), salt, salt + salt_size);
      return out;
    };
    keys.local = client_ ? join(client_key, client_salt) : join(server_key, server_salt);
    keys.remote = client_ ? join(server_key, server_salt) : join(client_key, client_salt);
    keys_ = std::move(keys);
    state_ = State::kConnected;
    return;
  }
  int error = SSL_get_error(ssl_, result);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    return;
  }
  fail("DTLS handshake failed: " + openssl_errors());
}

DtlsSession::State DtlsSession::receive(const uint8_t *data, size_t size) {
  if (state_ == State::kFailed || state_ == State::kClosed) {
    return state_;
  }
  BIO_write(incoming_, data, static_cast<int>(size));
  if (state_ == State::kHandshaking) {
    advance();
    if (state_ != State::kConnected) {
      return state_;
    }
  }
  // Connected: application data is not expected (WebRTC data channels are not
  // served); reading drains the records and notices close_notify and alerts.
  for (int i = 0; i < 16 && BIO_ctrl_pending(incoming_) > 0; ++i) {
    ERR_clear_error();
    unsigned char sink[2048];
    int read = SSL_read(ssl_, sink, sizeof sink);
    if (read > 0) {
      continue;
    }
    int error = SSL_get_error(ssl_, read);
    if (error == SSL_ERROR_ZERO_RETURN) {
      state_ = State::kClosed;
      error_ = "the peer closed DTLS";
    } else if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      fail("DTLS failed: " + openssl_errors());
    }
    break;
  }
  return state_;
}

int64_t DtlsSession::on_timer() {
  if (state_ != State::kHandshaking) {
    return -1;
  }
  timeval left{};
  if (!DTLSv1_get_timeout(ssl_, &left)) {
    return -1;
  }
  if (left.tv_sec == 0 && left.tv_usec == 0) {
    if (DTLSv1_handle_timeout(ssl_) < 0) {
      fail("DTLS handshake timed out: " + openssl_errors());
      return -1;
    }
    if (!DTLSv1_get_timeout(ssl_, &left)) {
      return -1;
    }
  }
  return int64_t(left.tv_sec) * 1000000 + left.tv_usec;
}

void DtlsSession::close() {
  if (state_ == State::kConnected) {
    SSL_shutdown(ssl_);
    state_ = State::kClosed;
  }
}

bool DtlsSession::peer_matches(const std::vector<Fingerprint> &expected) const {
  X509 *peer = SSL_get1_peer_certificate(ssl_);
  if (!peer) {
    return false;
  }
  bool match = false;
  for (const auto &fp : expected) {
    const EVP_MD *md = digest_named(fp.algorithm);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (md && X509_digest(peer, md, digest, &size) && fingerprint_hex(digest, size) == fp.value) {
      match = true;
      break;
    }
  }
  X509_free(peer);
  return match;
}

}  // namespace livepipe::signaling::fanout
