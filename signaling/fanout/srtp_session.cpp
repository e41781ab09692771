#include "srtp_session.h"

#include <srtp2/srtp.h>

#include <mutex>

namespace livepipe::signaling::fanout {
namespace {

static_assert(kSrtpMaxOverhead >= SRTP_MAX_TRAILER_LEN + 4, "room for the SRTCP trailer");

// srtp_init() fails when another user of the library in this process (the
// srtp plugin GStreamer loads for webrtcbin) has already run it; the library is
// usable either way, and srtp_create() reports a real problem.
void init_library() {
  static std::once_flag once;
  std::call_once(once, [] { srtp_init(); });
}

void set_profile(SrtpProfile profile, srtp_policy_t *policy) {
  if (profile == SrtpProfile::kAeadAes128Gcm) {
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy->rtcp);
  } else {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy->rtcp);
  }
}

}  // namespace

SrtpSession::~SrtpSession() {
  if (outbound_) {
    srtp_dealloc(outbound_);
  }
  if (inbound_) {
    srtp_dealloc(inbound_);
  }
}

bool SrtpSession::start(const SrtpKeys &keys, std::string *error) {
  if (outbound_ || inbound_) {
    *error = "SRTP is already keyed";
    return false;
  }
  const size_t expected = keys.profile == SrtpProfile::kAeadAes128Gcm ? 28 : 30;
  if (keys.local.size() != expected || keys.remote.size() != expected) {
    *error = "SRTP keys of " + std::to_string(keys.local.size()) + " and " +
             std::to_string(keys.remote.size()) + " bytes; this profile takes " +
             std::to_string(expected);
    return false;
  }
  init_library();
  std::vector<uint8_t> local = keys.local;
  std::vector<uint8_t> remote = keys.remote;
  srtp_policy_t out{};
  set_profile(keys.profile, &out);
  out.ssrc.type = ssrc_any_outbound;
  out.key = local.data();
  out.window_size = 1024;
  // NACKed packets go out again unchanged, with their sequence number.
  out.allow_repeat_tx = 1;
  srtp_policy_t in{};
  set_profile(keys.profile, &in);
  in.ssrc.type = ssrc_any_inbound;
  in.key = remote.data();
  in.window_size = 1024;
  srtp_err_status_t status = srtp_create(&outbound_, &out);
  if (status == srtp_err_status_ok) {
    status = srtp_create(&inbound_, &in);
  }
  if (status != srtp_err_status_ok) {
    *error = "libsrtp refused the keys (status " + std::to_string(status) + ")";
    return false;
  }
  return true;
}

bool SrtpSession::protect_rtp(uint8_t *buffer, int *size) {
  return outbound_ && srtp_protect(outbound_, buffer, size) == srtp_err_status_ok;
}

bool SrtpSession::protect_rtcp(uint8_t *buffer, int *size) {
  return outbound_ && srtp_protect_rtcp(outbound_, buffer, size) == srtp_err_status_ok;
}

bool SrtpSession::unprotect_rtcp(uint8_t *buffer, int *size) {
  return inbound_ && srtp_unprotect_rtcp(inbound_, buffer, size) == srtp_err_status_ok;
}

bool SrtpSession::unprotect_rtp(uint8_t *buffer, int *size) {
  return inbound_ && srtp_unprotect(inbound_, buffer, size) == srtp_err_status_ok;
}

}  // namespace livepipe::signaling::fanout
