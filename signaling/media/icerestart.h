// ICE restart (RFC 8839 section 4.4.1.1.1, RFC 9725 section 4.4) on the
// libnice agent inside a webrtcbin. webrtcbin 1.22 cannot do it through SDP:
// a renegotiated answer or offer keeps the previous ice-ufrag/ice-pwd (its
// "FIXME: deal with ICE restarts"), and new remote credentials only reach
// nice_agent_set_remote_credentials, which restarts no checks. WHIP and WHEP
// carry the restart in a trickle-ice-sdpfrag instead of an SDP exchange, so
// both sides restart their agent's stream directly: new local credentials,
// the peer's new credentials, and fresh connectivity checks on the same
// DTLS-SRTP transport.
#pragma once

#include <gst/gst.h>

#include <optional>
#include <string>
#include <vector>

namespace livepipe::signaling::media {

struct IceParams {
  std::string ufrag;
  std::string pwd;
  std::vector<std::string> candidates;  // "candidate:..." (without "a=")
  unsigned stream = 0;                  // the libnice stream restarted
};

// Restarts the ICE stream `webrtcbin` uses (the one with a selected pair,
// else its first): new local credentials and candidates come back. With
// `remote` given, its credentials are applied (the answering side); an
// offering side applies the answer's with set_remote_ice() once it has it.
// Remote candidates go through webrtcbin's add-ice-candidate as usual.
std::optional<IceParams> restart_ice(GstElement *webrtcbin, const IceParams *remote,
                                     std::string *error);
bool set_remote_ice(GstElement *webrtcbin, unsigned stream, const std::string &ufrag,
                    const std::string &pwd, std::string *error);

// Turns off UPnP port mapping in webrtcbin's libnice agent (on by default):
// a server has no home router to ask, and for every session the agent would
// start an IGD discovery thread and a GUPnP context with its own HTTP server
// per local address. Call before gathering. False when the agent is not
// libnice.
bool disable_upnp(GstElement *webrtcbin);

}  // namespace livepipe::signaling::media
