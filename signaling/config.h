// `livepipe serve` configuration: built-in defaults good enough for a laptop,
// overridden by a JSON file (docs/configuration.md). Loading reports every
// problem at once, each with its JSON path.
#pragma once

#include "messages.h"
#include "recording/settings.h"

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace livepipe::signaling {

struct Limits {
  int64_t max_message_bytes = 64 * 1024;
  int64_t messages_per_second = 50;  // per peer, with a burst of the same size
  int64_t peers_per_room = 16;
  int64_t rooms = 1000;
  int64_t connections = 20000;
};

struct TurnRest {
  std::vector<std::string> urls;  // turn:host:port?transport=udp ...
  std::string secret;             // coturn's static-auth-secret
  int64_t ttl_seconds = 86400;
};

// Chooses a stream's description by the stream's name (first match wins).
struct MediaRule {
  std::string match;                          // a glob on the stream name ('*' and '?')
  std::string description;                    // a preset name or a file
  std::map<std::string, std::string> params;  // param values as text
};

// WHIP/WHEP streams (docs/configuration.md, "media").
struct MediaSettings {
  std::string description = "webrtc-publish-fanout";  // a preset name or a file
  int64_t idle_timeout_seconds = 10;
  int64_t max_streams = 100;
  int64_t max_viewers_per_stream = 500;
  // Local addresses viewers and publishers connect to; empty: every
  // address of the machine (loopback only when alone).
  std::vector<std::string> ice_addresses;
  // Addresses viewers are told instead of the local ones (1:1 NAT).
  std::vector<std::string> announce_addresses;
  // "shared": every viewer on one UDP port (the fan-out engine);
  // "webrtcbin": one webrtcbin per viewer.
  std::string viewer_transport = "shared";
  int64_t udp_port = 0;  // the shared transport's port; 0: a free one
  std::vector<MediaRule> rules;
  // What a publisher gets with ?beauty=on.
  std::string beauty_description = "webrtc-publish-beauty";
};

// RTMP restreams (docs/rtmp.md, "rtmp").
struct RtmpDestinationRule {
  std::string stream;  // a stream name, or "*" for every stream
  std::string url;     // "{stream}" in it becomes the stream's name
};
struct RtmpSettings {
  std::vector<RtmpDestinationRule> destinations;
  int64_t backoff_initial_ms = 1000;
  int64_t backoff_max_ms = 30000;
  int64_t keyframe_interval_seconds = 2;
  int64_t video_bitrate_kbps = 2500;
  int64_t audio_bitrate = 128000;
  int64_t audio_rate = 48000;
  // Ingest: where the supervised nginx takes publishers; off when empty.
  std::string listen_host;
  int listen_port = 0;
  std::vector<std::string> keys;  // stream keys accepted besides publish tokens
};

// Access hooks (docs/configuration.md, "hooks"): an HTTP endpoint asked
// before a publish or a play is accepted; empty: not asked.
struct HookSettings {
  std::string on_publish;  // http:// URL
  std::string on_play;     // http:// URL
  int64_t timeout_ms = 2000;
  // Notifications (docs/moderation.md, "Notifications"): events POSTed as
  // JSON, retried with exponential backoff; empty: not sent.
  std::string on_publish_done;  // http(s):// URL
  std::string on_record_done;   // http(s):// URL
  std::string on_moderation;    // http(s):// URL
  int64_t notify_attempts = 5;
  int64_t notify_backoff_ms = 500;  // before the second attempt; doubles after each
};

// Moderated streams (docs/moderation.md, "In the service"): what the
// moderated description's moderation-* params get unless a rule sets them.
struct ModerationSettings {
  std::string description = "webrtc-publish-moderated-passthrough";  // ?moderation=on
  std::string hook_uri;  // http(s):// URL or exec:/command; empty: forced verdicts only
  std::string auth_token;
  int64_t interval_ms = 1000;
  int64_t timeout_ms = 2000;
  std::string on_error = "fail-open";
  int64_t max_size = 640;
};

struct Config {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string tls_cert;  // both or neither
  std::string tls_key;
  std::string token_secret;            // empty: the server runs open
  std::vector<IceServer> ice_servers;  // STUN and static TURN, handed out as they are
  TurnRest turn_rest;                  // used when secret is set
  Limits limits;
  int64_t keepalive_interval_seconds = 15;
  int64_t keepalive_timeout_seconds = 45;
  std::string web_root;  // empty: the page built into the binary
  int64_t shutdown_grace_ms = 1000;
  MediaSettings media;
  RtmpSettings rtmp;
  RecordingSettings recording;
  HookSettings hooks;
  ModerationSettings moderation;

  bool tls() const { return !tls_cert.empty(); }
  bool turn_rest_enabled() const { return !turn_rest.secret.empty(); }
};

using ConfigResult = std::variant<Config, std::vector<std::string>>;

// `text` is a JSON document whose members override the defaults.
// Checks what the JSON alone cannot tell (that media descriptions load with
// their params); its problems join the others. Runs on the valid part.
using MediaCheck = std::function<std::vector<std::string>(const MediaSettings &)>;
ConfigResult parse_config(std::string_view text, const MediaCheck &check_media = {});
ConfigResult load_config_file(const std::string &path, const MediaCheck &check_media = {});

// "HOST:PORT", "[v6]:PORT" or ":PORT"; false on anything else.
bool parse_listen(std::string_view text, std::string *host, int *port);

}  // namespace livepipe::signaling
