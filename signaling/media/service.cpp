#include "service.h"

#include "access_hooks.h"
#include "admin.h"
#include "http_reply.h"
#include "icerestart.h"
#include "sdpfrag.h"
#include "token.h"
#include "turn.h"
#include "util/json.h"
#include "util/maincontext.h"

#include <cstring>
#include <set>

namespace livepipe::signaling::media {
namespace {

constexpr size_t kMaxOfferBytes = 128 * 1024;

std::string random_hex(size_t bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    guint32 value = g_random_int();
    out += digits[value & 15];
    out += digits[(value >> 4) & 15];
  }
  return out;
}

bool valid_name(const std::string &name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  for (char c : name) {
    if (!g_ascii_isalnum(c) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return name != "." && name != "..";
}

SoupMessageHeaders *response_headers(SoupServerMessage *msg) {
  return soup_server_message_get_response_headers(msg);
}

void cors(SoupServerMessage *msg) {
  SoupMessageHeaders *h = response_headers(msg);
  soup_message_headers_replace(h, "Access-Control-Allow-Origin", "*");
  soup_message_headers_replace(h, "Access-Control-Expose-Headers",
                               "Location, ETag, Link, Accept-Patch, Retry-After");
}

void reply_text(SoupServerMessage *msg, guint status, const std::string &text) {
  cors(msg);
  soup_server_message_set_status(msg, status, nullptr);
  std::string body = text.empty() ? text : text + "\n";
  soup_server_message_set_response(msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY, body.data(),
                                   body.size());
}

std::string content_type(SoupServerMessage *msg) {
  const char *type =
      soup_message_headers_get_content_type(soup_server_message_get_request_headers(msg), nullptr);
  if (!type) {
    return {};
  }
  GCharPtr lower(g_ascii_strdown(type, -1));
  return lower.get();
}

std::string header(SoupServerMessage *msg, const char *name) {
  const char *value =
      soup_message_headers_get_one(soup_server_message_get_request_headers(msg), name);
  return value ? value : "";
}

// The first a=ice-ufrag value in `sdp` (an offer the planner accepted has one
// in every m-section).
std::string first_ice_ufrag(const std::string &sdp) {
  static constexpr std::string_view kAttribute = "a=ice-ufrag:";
  size_t at = sdp.find(kAttribute);
  if (at == std::string::npos) {
    return {};
  }
  at += kAttribute.size();
  return sdp.substr(at, sdp.find_first_of("\r\n", at) - at);
}

// A reply given later (after webrtcbin answered): the message stays paused
// until then, and is not touched once the client has gone.
struct Pending {
  SoupServerMessage *msg = nullptr;
  bool gone = false;
  gulong handler = 0;
  gulong disconnected = 0;
  explicit Pending(SoupServerMessage *m) : msg(SOUP_SERVER_MESSAGE(g_object_ref(m))) {
    auto mark_gone = G_CALLBACK(
        +[](SoupServerMessage *, gpointer data) { static_cast<Pending *>(data)->gone = true; });
    handler = g_signal_connect(msg, "finished", mark_gone, this);
    disconnected = g_signal_connect(msg, "disconnected", mark_gone, this);
    soup_server_message_pause(msg);
  }
  ~Pending() {
    g_signal_handler_disconnect(msg, handler);
    g_signal_handler_disconnect(msg, disconnected);
    g_object_unref(msg);
  }
  void resume() {
    if (!gone) {
      soup_server_message_unpause(msg);
    }
  }
};

}  // namespace

struct MediaService::Impl {
  enum class Kind { kPublish, kPlay };
  struct Session {
    Kind kind = Kind::kPublish;
    std::string stream;
    std::string viewer;  // play sessions
    std::string etag;
    OfferPlan plan;
    bool websocket = false;    // started over /ws: not reachable over HTTP
    std::string client_ufrag;  // the client's ICE ufrag: its offer's, then its last restart's
  };
  struct Entry {
    std::unique_ptr<Stream> stream;
    std::string publisher_session;
  };

  const Config &config;
  MediaOptions options;
  Logger &log;
  std::unique_ptr<ViewerTransportFactory> transports;
  std::map<std::string, Entry> streams;
  std::map<std::string, Session> sessions;
  std::map<std::string, uint64_t> failures;  // by reason
  uint64_t sessions_created = 0;
  uint64_t bytes_in_ended = 0;
  uint64_t bytes_out_ended = 0;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  DescriptionChooser chooser;
  std::unique_ptr<StreamsAdmin> admin;
  MediaSessions::Events ws_events;
  std::vector<StreamHooks> hooks;
  AccessHooks access;
  std::set<std::string> ws_asking;  // WebSocket sessions waiting for an access hook

  Impl(const Config &c, MediaOptions o, Logger &l, std::unique_ptr<ViewerTransportFactory> t)
      : config(c),
        options(std::move(o)),
        log(l),
        transports(std::move(t)),
        chooser(options.description, options.beauty_description, options.rules,
                options.include_dirs),
        access(config.hooks, log) {
    chooser.set_moderation(options.moderated_description, options.moderation_params);
    if (!transports) {
      std::string stun;
      for (const auto &server : config.ice_servers) {
        for (const auto &url : server.urls) {
          if (stun.empty() && url.rfind("stun:", 0) == 0) {
            stun = "stun://" + url.substr(5);
          }
        }
      }
      transports = std::make_unique<WebrtcbinViewerFactory>(stun, options.ice_addresses);
    }
  }

  void fail(SoupServerMessage *msg, guint status, const std::string &reason,
            const std::string &metric_reason) {
    ++failures[metric_reason];
    reply_text(msg, status, reason);
  }

  // 401/403 when the request may not `wanted` on `stream`; true when allowed
  // (and the token's subject in `subject`).
  bool authorize(SoupServerMessage *msg, Role wanted, const std::string &stream,
                 std::string *subject = nullptr) {
    if (config.token_secret.empty()) {
      return true;
    }
    std::string auth = header(msg, "Authorization");
    if (auth.size() < 8 || g_ascii_strncasecmp(auth.c_str(), "Bearer ", 7) != 0) {
      fail(msg, SOUP_STATUS_UNAUTHORIZED, "a Bearer token is required", "unauthorized");
      soup_message_headers_replace(response_headers(msg), "WWW-Authenticate", "Bearer");
      return false;
    }
    auto verified =
        verify_token(auth.substr(7), config.token_secret, g_get_real_time() / G_USEC_PER_SEC);
    if (auto *error = std::get_if<TokenError>(&verified)) {
      fail(msg, SOUP_STATUS_UNAUTHORIZED, error->reason, "unauthorized");
      soup_message_headers_replace(response_headers(msg), "WWW-Authenticate",
                                   "Bearer error=\"invalid_token\"");
      return false;
    }
    const Claims &claims = std::get<Claims>(verified);
    if (!role_allows(claims.role, wanted)) {
      fail(msg, SOUP_STATUS_FORBIDDEN,
           std::string("the token's role ") + role_name(claims.role) + " may not " +
               role_name(wanted),
           "forbidden");
      return false;
    }
    if (!claims.stream.empty() && claims.stream != stream && claims.role != Role::kAdmin) {
      fail(msg, SOUP_STATUS_FORBIDDEN, "the token is for stream " + claims.stream, "forbidden");
      return false;
    }
    if (subject) {
      *subject = claims.sub;
    }
    return true;
  }

  void add_link_headers(SoupServerMessage *msg, const std::string &user) {
    for (const auto &server : ice_servers_for(config, user, g_get_real_time() / G_USEC_PER_SEC)) {
      for (const auto &url : server.urls) {
        std::string link = "<" + url + ">; rel=\"ice-server\"";
        if (!server.username.empty()) {
          auto quoted = [](const std::string &v) {
            std::string out;
            for (char c : v) {
              if (c == '"' || c == '\\') {
                out += '\\';
              }
              out += c;
            }
            return out;
          };
          link += "; username=\"" + quoted(server.username) + "\"; credential=\"" +
                  quoted(server.credential) + "\"; credential-type=\"password\"";
        }
        soup_message_headers_append(response_headers(msg), "Link", link.c_str());
      }
    }
  }

  static void handle(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *query,
                     gpointer data) {
    std::map<std::string, std::string> params;
    if (query) {
      GHashTableIter it;
      gpointer key = nullptr, value = nullptr;
      g_hash_table_iter_init(&it, query);
      while (g_hash_table_iter_next(&it, &key, &value)) {
        params[static_cast<const char *>(key)] = value ? static_cast<const char *>(value) : "";
      }
    }
    static_cast<Impl *>(data)->route(msg, path, params);
  }

  void route(SoupServerMessage *msg, const std::string &path,
             const std::map<std::string, std::string> &query) {
    const bool whip = path.rfind("/whip", 0) == 0;
    const std::string prefix = whip ? "/whip/" : "/whep/";
    std::string rest = path.size() > prefix.size() ? path.substr(prefix.size()) : "";
    std::string stream = rest.substr(0, rest.find('/'));
    std::string session =
        rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
    std::string method = soup_server_message_get_method(msg);
    if (method == "OPTIONS") {
      cors(msg);
      SoupMessageHeaders *h = response_headers(msg);
      soup_message_headers_replace(h, "Access-Control-Allow-Methods",
                                   session.empty() ? "POST, OPTIONS" : "PATCH, DELETE, OPTIONS");
      soup_message_headers_replace(h, "Access-Control-Allow-Headers",
                                   "Authorization, Content-Type, If-Match");
      if (session.empty()) {
        soup_message_headers_replace(h, "Accept-Post", "application/sdp");
      } else {
        soup_message_headers_replace(h, "Accept-Patch", "application/trickle-ice-sdpfrag");
      }
      soup_server_message_set_status(msg, SOUP_STATUS_NO_CONTENT, nullptr);
      return;
    }
    if (!valid_name(stream) || session.find('/') != std::string::npos) {
      reply_text(msg, SOUP_STATUS_NOT_FOUND,
                 "no such resource: use " + prefix +
                     "{stream} with a name of letters, digits, "
                     "'-', '_' or '.'");
      return;
    }
    if (session.empty()) {
      if (method != "POST") {
        reply_text(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use POST with an SDP offer");
        soup_message_headers_replace(response_headers(msg), "Allow", "POST, OPTIONS");
        return;
      }
      whip ? publish(msg, stream, query) : play(msg, stream, query);
      return;
    }
    auto it = sessions.find(session);
    if (it == sessions.end() || it->second.stream != stream || it->second.websocket ||
        (it->second.kind == Kind::kPublish) != whip) {
      reply_text(msg, SOUP_STATUS_NOT_FOUND, "no session " + session);
      return;
    }
    if (!authorize(msg, whip ? Role::kPublish : Role::kPlay, stream)) {
      return;
    }
    if (method == "DELETE") {
      end_session(session, "ended by the client");
      cors(msg);
      soup_server_message_set_status(msg, SOUP_STATUS_OK, nullptr);
      return;
    }
    if (method == "PATCH") {
      patch(msg, it->first, it->second);
      return;
    }
    reply_text(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use PATCH or DELETE on a session");
    soup_message_headers_replace(response_headers(msg), "Allow", "PATCH, DELETE, OPTIONS");
  }

  // Checks what POST /whip and /whep share; the plan on success.
  std::optional<OfferPlan> read_offer(SoupServerMessage *msg, OfferRole role,
                                      const std::vector<Codec> &video,
                                      const std::vector<Codec> &audio,
                                      const std::string &context = {}) {
    if (content_type(msg) != "application/sdp") {
      fail(msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "the offer must be sent as application/sdp",
           "unsupported-media-type");
      return std::nullopt;
    }
    std::string body = request_body(msg);
    if (body.size() > kMaxOfferBytes) {
      fail(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "the offer is larger than 128 KiB",
           "too-large");
      return std::nullopt;
    }
    auto planned = plan_offer(body, role, video, audio, role == OfferRole::kPublish);
    if (auto *why = std::get_if<std::string>(&planned)) {
      fail(msg, SOUP_STATUS_BAD_REQUEST, *why + context, "bad-offer");
      return std::nullopt;
    }
    return std::get<OfferPlan>(std::move(planned));
  }

  void respond_created(SoupServerMessage *msg, const std::string &location, const std::string &etag,
                       const std::string &answer, const std::string &user) {
    cors(msg);
    SoupMessageHeaders *h = response_headers(msg);
    soup_message_headers_replace(h, "Location", location.c_str());
    soup_message_headers_replace(h, "ETag", etag.c_str());
    soup_message_headers_replace(h, "Accept-Patch", "application/trickle-ice-sdpfrag");
    add_link_headers(msg, user);
    soup_server_message_set_status(msg, SOUP_STATUS_CREATED, nullptr);
    soup_server_message_set_response(msg, "application/sdp", SOUP_MEMORY_COPY, answer.data(),
                                     answer.size());
  }

  // Asks the access hook for `action` (when one is configured) and goes on
  // with `accepted` once it allows; 403 with its reason when it denies.
  void ask_access(SoupServerMessage *msg, AccessRequest::Action action, const std::string &name,
                  const std::string &subject, const std::map<std::string, std::string> &query,
                  std::function<void(SoupServerMessage *)> accepted) {
    if (!access.enabled(action)) {
      accepted(msg);
      return;
    }
    AccessRequest request{action, name, subject, {}, query};
    GSocketAddress *remote = soup_server_message_get_remote_address(msg);
    if (remote && G_IS_INET_SOCKET_ADDRESS(remote)) {
      GCharPtr host(g_inet_address_to_string(
          g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(remote))));
      request.remote = host.get();
    }
    auto pending = std::make_shared<Pending>(msg);
    access.ask(request, [this, pending, accepted](const AccessVerdict &verdict) {
      if (pending->gone) {
        return;
      }
      // libsoup defers an unpause and a pause before it runs cancels it, so
      // `accepted` may pause the message again for webrtcbin's answer.
      pending->resume();
      if (!verdict.allowed) {
        fail(pending->msg, SOUP_STATUS_FORBIDDEN, verdict.reason, "hook-denied");
        return;
      }
      accepted(pending->msg);
    });
  }

  void publish(SoupServerMessage *msg, const std::string &name,
               const std::map<std::string, std::string> &query) {
    std::string subject;
    if (!authorize(msg, Role::kPublish, name, &subject)) {
      return;
    }
    ask_access(msg, AccessRequest::Action::kPublish, name, subject, query,
               [this, name, query](SoupServerMessage *m) { publish_accepted(m, name, query); });
  }

  void publish_accepted(SoupServerMessage *msg, const std::string &name,
                        const std::map<std::string, std::string> &query) {
    if (streams.count(name)) {
      fail(msg, SOUP_STATUS_CONFLICT, "stream " + name + " already has a publisher", "conflict");
      return;
    }
    if (static_cast<int64_t>(streams.size()) >= options.max_streams) {
      fail(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "the server has its maximum of streams", "limit");
      soup_message_headers_replace(response_headers(msg), "Retry-After",
                                   std::to_string(options.retry_after_seconds).c_str());
      return;
    }
    auto chosen = chooser.choose(name, query);
    if (auto *why = std::get_if<std::string>(&chosen)) {
      fail(msg, SOUP_STATUS_BAD_REQUEST, *why, "bad-params");
      return;
    }
    DescriptionChoice &choice = std::get<DescriptionChoice>(chosen);
    auto plan = read_offer(msg, OfferRole::kPublish, choice.video_codecs, {Codec::kOpus});
    if (!plan) {
      return;
    }
    if (const ChosenMedia *video = plan->find("video"); video && choice.sets_video_codec) {
      choice.params[kVideoCodecParam] = codec_param_value(video->codec);
    }
    std::string session_id = random_hex(16);
    std::string etag = "\"" + random_hex(8) + "\"";
    auto pending = std::make_shared<Pending>(msg);
    std::weak_ptr<bool> weak = alive;
    std::string error;
    bool started = start_stream(
        name, session_id, etag, *plan, choice, false,
        [this, weak, pending, name, session_id, etag](const std::string &answer,
                                                      const std::string &why) {
          if (!weak.lock()) {
            pending->resume();
            return;
          }
          if (!why.empty()) {
            fail(pending->msg, SOUP_STATUS_BAD_REQUEST, why, "negotiation");
            pending->resume();
            end_session(session_id, why);
            return;
          }
          respond_created(pending->msg, "/whip/" + name + "/" + session_id, etag, answer, name);
          pending->resume();
          log.info("publishing", {{"stream", name}, {"session", session_id}});
        },
        &error);
    if (!started) {
      fail(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error, "pipeline");
      pending->resume();
    }
  }

  // Creates and starts the stream `name` for its publisher's session; false
  // (and `error`) when its pipeline cannot start.
  bool start_stream(const std::string &name, const std::string &session_id, const std::string &etag,
                    const OfferPlan &plan, const DescriptionChoice &choice, bool websocket,
                    Answerer::Done done, std::string *error) {
    StreamOptions stream_options;
    stream_options.description = choice.file;
    stream_options.params = choice.params;
    stream_options.include_dirs = options.include_dirs;
    stream_options.gather_timeout_ms = options.gather_timeout_ms;
    stream_options.idle_timeout_seconds = options.idle_timeout_seconds;
    stream_options.ice_addresses = options.ice_addresses;
    Stream::Events events;
    events.on_ended = [this, name](const std::string &reason) { remove_stream(name, reason); };
    events.on_viewer_closed = [this, name](const std::string &viewer, const std::string &reason) {
      log.info("viewer-closed", {{"stream", name}, {"viewer", viewer}, {"reason", reason}});
      drop_orphan_sessions(reason);
    };
    auto stream = std::make_unique<Stream>(name, stream_options, *transports, std::move(events));
    Stream *raw = stream.get();
    streams[name] = Entry{std::move(stream), session_id};
    sessions[session_id] = Session{Kind::kPublish, name, {}, etag, plan, websocket};
    ++sessions_created;
    if (!raw->start(plan, std::move(done), error)) {
      sessions.erase(session_id);
      streams.erase(name);
      log.error("stream-failed", {{"stream", name}, {"error", *error}});
      return false;
    }
    for (const auto &h : hooks) {
      if (h.started && !raw->ended()) {
        h.started(*raw);
      }
    }
    return true;
  }

  void play(SoupServerMessage *msg, const std::string &name,
            const std::map<std::string, std::string> &query) {
    std::string subject;
    if (!authorize(msg, Role::kPlay, name, &subject)) {
      return;
    }
    ask_access(msg, AccessRequest::Action::kPlay, name, subject, query,
               [this, name](SoupServerMessage *m) { play_accepted(m, name); });
  }

  void play_accepted(SoupServerMessage *msg, const std::string &name) {
    auto found = streams.find(name);
    if (found == streams.end() || found->second.stream->ended()) {
      fail(msg, SOUP_STATUS_NOT_FOUND, "no stream named " + name + " is being published",
           "not-found");
      return;
    }
    Stream &stream = *found->second.stream;
    if (static_cast<int64_t>(stream.viewer_count()) >= options.max_viewers_per_stream) {
      fail(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "stream " + name + " has its maximum of viewers",
           "limit");
      soup_message_headers_replace(response_headers(msg), "Retry-After",
                                   std::to_string(options.retry_after_seconds).c_str());
      return;
    }
    std::string sends;
    for (Codec codec : stream.video_codecs()) {
      sends += std::string(sends.empty() ? "" : ", ") + codec_name(codec);
    }
    auto plan = read_offer(msg, OfferRole::kPlay, stream.video_codecs(), stream.audio_codecs(),
                           sends.empty() ? "" : "; stream " + name + " sends " + sends + " video");
    if (!plan) {
      return;
    }
    std::string session_id = random_hex(16);
    std::string etag = "\"" + random_hex(8) + "\"";
    auto pending = std::make_shared<Pending>(msg);
    std::weak_ptr<bool> weak = alive;
    std::string error;
    bool added = add_viewer(
        stream, session_id, etag, *plan, false,
        [this, weak, pending, name, session_id, etag](const std::string &answer,
                                                      const std::string &why) {
          if (!weak.lock()) {
            pending->resume();
            return;
          }
          if (!why.empty()) {
            fail(pending->msg, SOUP_STATUS_BAD_REQUEST, why, "negotiation");
            pending->resume();
            end_session(session_id, why);
            return;
          }
          respond_created(pending->msg, "/whep/" + name + "/" + session_id, etag, answer, name);
          pending->resume();
        },
        &error);
    if (!added) {
      fail(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error, "viewer");
      pending->resume();
    }
  }

  // Adds a viewer's session to `stream`; false (and `error`) when it cannot.
  bool add_viewer(Stream &stream, const std::string &session_id, const std::string &etag,
                  const OfferPlan &plan, bool websocket, Answerer::Done done, std::string *error) {
    std::string viewer = stream.add_viewer(plan, std::move(done), error);
    if (viewer.empty()) {
      return false;
    }
    sessions[session_id] = Session{Kind::kPlay, stream.name(), viewer, etag, plan, websocket};
    ++sessions_created;
    log.info("playing", {{"stream", stream.name()}, {"session", session_id}, {"viewer", viewer}});
    return true;
  }

  void patch(SoupServerMessage *msg, const std::string &id, Session &session) {
    if (content_type(msg) != "application/trickle-ice-sdpfrag") {
      fail(msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, "PATCH takes application/trickle-ice-sdpfrag",
           "unsupported-media-type");
      return;
    }
    auto parsed = parse_sdpfrag(request_body(msg));
    if (auto *why = std::get_if<std::string>(&parsed)) {
      fail(msg, SOUP_STATUS_BAD_REQUEST, *why, "bad-sdpfrag");
      return;
    }
    const SdpFrag &frag = std::get<SdpFrag>(parsed);
    std::string if_match = header(msg, "If-Match");
    // RFC 8840 fragments carry the sender's credentials with every trickle;
    // only new ones ask for an ICE restart.
    if (session.client_ufrag.empty()) {
      session.client_ufrag = first_ice_ufrag(session.plan.sdp);
    }
    const bool restart = frag.has_credentials() && frag.ice_ufrag != session.client_ufrag;
    if (restart && if_match.empty()) {
      // New credentials mean an ICE restart, which needs the session's ETag.
      fail(msg, 428, "an ICE restart needs If-Match with the session's ETag",
           "precondition-required");
      return;
    }
    if (!if_match.empty() && if_match != "*" && if_match != session.etag) {
      fail(msg, SOUP_STATUS_PRECONDITION_FAILED, "the ETag does not match the ICE session",
           "precondition-failed");
      return;
    }
    auto it = streams.find(session.stream);
    if (it == streams.end()) {
      reply_text(msg, SOUP_STATUS_NOT_FOUND, "the session's stream has ended");
      return;
    }
    std::vector<std::pair<unsigned, std::string>> candidates;
    for (size_t i = 0; i < frag.media.size(); ++i) {
      const auto &m = frag.media[i];
      unsigned mline = static_cast<unsigned>(i);
      bool known = m.mid.empty() && i < session.plan.media.size();
      for (const auto &chosen : session.plan.media) {
        if (!m.mid.empty() && chosen.mid == m.mid) {
          mline = chosen.mline;
          known = true;
        }
      }
      if (!known) {
        fail(msg, SOUP_STATUS_UNPROCESSABLE_ENTITY,
             "the fragment names mid " + m.mid + ", which the session does not have",
             "bad-sdpfrag");
        return;
      }
      for (const auto &candidate : m.candidates) {
        candidates.emplace_back(mline, candidate);
      }
    }
    Stream &stream = *it->second.stream;
    std::optional<IceParams> restarted;
    if (restart) {
      std::string error;
      IceParams remote{frag.ice_ufrag, frag.ice_pwd, {}, 0};
      restarted = session.kind == Kind::kPublish
                      ? stream.restart_publisher_ice(remote, &error)
                      : stream.restart_viewer_ice(session.viewer, remote, &error);
      if (!restarted) {
        fail(msg, SOUP_STATUS_UNPROCESSABLE_ENTITY, "ICE restart failed: " + error, "ice-restart");
        return;
      }
    }
    for (const auto &[mline, candidate] : candidates) {
      if (session.kind == Kind::kPublish) {
        stream.add_publisher_candidate(mline, candidate);
      } else {
        stream.add_viewer_candidate(session.viewer, mline, candidate);
      }
    }
    cors(msg);
    if (!restarted) {
      soup_server_message_set_status(msg, SOUP_STATUS_NO_CONTENT, nullptr);
      return;
    }
    // The server's new credentials and candidates, for the session's bundle.
    session.etag = "\"" + random_hex(8) + "\"";
    session.client_ufrag = frag.ice_ufrag;
    std::string body =
        "a=ice-ufrag:" + restarted->ufrag + "\r\na=ice-pwd:" + restarted->pwd + "\r\n";
    if (!session.plan.media.empty()) {
      const ChosenMedia &first = session.plan.media.front();
      body +=
          "m=" + first.kind + " 9 UDP/TLS/RTP/SAVPF " + std::to_string(first.payload_type) + "\r\n";
      if (!first.mid.empty()) {
        body += "a=mid:" + first.mid + "\r\n";
      }
    }
    for (const auto &candidate : restarted->candidates) {
      body += "a=" + candidate + "\r\n";
    }
    body += "a=end-of-candidates\r\n";
    soup_message_headers_replace(response_headers(msg), "ETag", session.etag.c_str());
    soup_server_message_set_status(msg, SOUP_STATUS_OK, nullptr);
    soup_server_message_set_response(msg, "application/trickle-ice-sdpfrag", SOUP_MEMORY_COPY,
                                     body.data(), body.size());
    log.info("ice-restart", {{"stream", session.stream}, {"session", id}});
  }

  void end_session(const std::string &id, const std::string &reason) {
    auto it = sessions.find(id);
    if (it == sessions.end()) {
      return;
    }
    Session session = it->second;
    sessions.erase(it);
    if (session.websocket && ws_events.ended) {
      ws_events.ended(id, reason);
    }
    auto stream = streams.find(session.stream);
    if (stream == streams.end()) {
      return;
    }
    if (session.kind == Kind::kPublish) {
      stream->second.stream->end(reason);
    } else {
      for (const auto &v : stream->second.stream->viewers()) {
        if (v.id == session.viewer) {
          bytes_out_ended += v.sent.bytes;
        }
      }
      stream->second.stream->remove_viewer(session.viewer);
      log.info("viewer-left", {{"stream", session.stream}, {"reason", reason}});
    }
  }

  void drop_orphan_sessions(const std::string &reason = "the stream ended") {
    std::vector<std::string> ended_ws;
    for (auto it = sessions.begin(); it != sessions.end();) {
      bool orphan = false;
      auto stream = streams.find(it->second.stream);
      if (stream == streams.end()) {
        orphan = true;
      } else if (it->second.kind == Kind::kPlay) {
        orphan = true;
        for (const auto &v : stream->second.stream->viewers()) {
          orphan = orphan && v.id != it->second.viewer;
        }
      }
      if (orphan && it->second.websocket) {
        ended_ws.push_back(it->first);
      }
      it = orphan ? sessions.erase(it) : std::next(it);
    }
    for (const auto &id : ended_ws) {
      if (ws_events.ended) {
        ws_events.ended(id, reason);
      }
    }
  }

  // --- sessions started over the WebSocket protocol (MediaSessions) ---

  void ws_refuse(const std::string &session, ErrorCode code, const std::string &why,
                 const std::string &metric_reason) {
    ++failures[metric_reason];
    if (ws_events.failed) {
      ws_events.failed(session, code, why);
    }
  }

  // What a WebSocket client gets once webrtcbin has answered.
  Answerer::Done ws_reply(const std::string &session, const std::string &name, const char *what) {
    std::weak_ptr<bool> weak = alive;
    return [this, weak, session, name, what](const std::string &answer, const std::string &why) {
      if (!weak.lock()) {
        return;
      }
      if (!why.empty()) {
        ws_refuse(session, ErrorCode::kBadOffer, why, "negotiation");
        end_session(session, why);
        return;
      }
      if (ws_events.answered) {
        ws_events.answered(session, answer);
      }
      log.info(what, {{"stream", name}, {"session", session}, {"signaling", "ws"}});
    };
  }

  // A WebSocket client's publish or play goes on with `accepted` once the
  // access hook allows it; a denial is the error `forbidden`.
  void ws_ask_access(const std::string &session, AccessRequest::Action action,
                     const std::string &name, const Client &client,
                     std::function<void()> accepted) {
    if (!access.enabled(action)) {
      accepted();
      return;
    }
    ws_asking.insert(session);
    access.ask(AccessRequest{action, name, client.subject, client.remote, {}},
               [this, session, accepted](const AccessVerdict &verdict) {
                 if (!ws_asking.erase(session)) {
                   return;  // stopped while the hook was asked
                 }
                 if (!verdict.allowed) {
                   ws_refuse(session, ErrorCode::kForbidden, verdict.reason, "hook-denied");
                   return;
                 }
                 accepted();
               });
  }

  void ws_publish(const std::string &session, const std::string &name, const std::string &offer,
                  const Client &client) {
    ws_ask_access(session, AccessRequest::Action::kPublish, name, client,
                  [this, session, name, offer] { ws_publish_accepted(session, name, offer); });
  }

  void ws_play(const std::string &session, const std::string &name, const std::string &offer,
               const Client &client) {
    ws_ask_access(session, AccessRequest::Action::kPlay, name, client,
                  [this, session, name, offer] { ws_play_accepted(session, name, offer); });
  }

  void ws_publish_accepted(const std::string &session, const std::string &name,
                           const std::string &offer) {
    if (streams.count(name)) {
      ws_refuse(session, ErrorCode::kStreamBusy, "stream " + name + " already has a publisher",
                "conflict");
      return;
    }
    if (static_cast<int64_t>(streams.size()) >= options.max_streams) {
      ws_refuse(session, ErrorCode::kMediaUnavailable, "the server has its maximum of streams",
                "limit");
      return;
    }
    // The description and codecs as for a WHIP publisher (publish() above),
    // with no request params.
    auto chosen = chooser.choose(name, {});
    if (auto *why = std::get_if<std::string>(&chosen)) {
      ws_refuse(session, ErrorCode::kBadOffer, *why, "bad-params");
      return;
    }
    DescriptionChoice &choice = std::get<DescriptionChoice>(chosen);
    auto planned = plan_offer(offer, OfferRole::kPublish, choice.video_codecs, {Codec::kOpus});
    if (auto *why = std::get_if<std::string>(&planned)) {
      ws_refuse(session, ErrorCode::kBadOffer, *why, "bad-offer");
      return;
    }
    OfferPlan &plan = std::get<OfferPlan>(planned);
    if (const ChosenMedia *video = plan.find("video"); video && choice.sets_video_codec) {
      choice.params[kVideoCodecParam] = codec_param_value(video->codec);
    }
    std::string error;
    if (!start_stream(name, session, {}, plan, choice, true, ws_reply(session, name, "publishing"),
                      &error)) {
      ws_refuse(session, ErrorCode::kMediaUnavailable, error, "pipeline");
    }
  }

  void ws_play_accepted(const std::string &session, const std::string &name,
                        const std::string &offer) {
    auto found = streams.find(name);
    if (found == streams.end() || found->second.stream->ended()) {
      ws_refuse(session, ErrorCode::kUnknownStream,
                "no stream named " + name + " is being published", "not-found");
      return;
    }
    Stream &stream = *found->second.stream;
    if (static_cast<int64_t>(stream.viewer_count()) >= options.max_viewers_per_stream) {
      ws_refuse(session, ErrorCode::kMediaUnavailable,
                "stream " + name + " has its maximum of viewers", "limit");
      return;
    }
    auto planned =
        plan_offer(offer, OfferRole::kPlay, stream.video_codecs(), stream.audio_codecs());
    if (auto *why = std::get_if<std::string>(&planned)) {
      ws_refuse(session, ErrorCode::kBadOffer, *why, "bad-offer");
      return;
    }
    std::string error;
    if (!add_viewer(stream, session, {}, std::get<OfferPlan>(planned), true,
                    ws_reply(session, name, "playing"), &error)) {
      ws_refuse(session, ErrorCode::kMediaUnavailable, error, "viewer");
    }
  }

  void ws_candidate(const std::string &id, const std::optional<std::string> &mid,
                    std::optional<int64_t> mline, const std::string &candidate) {
    auto it = sessions.find(id);
    if (it == sessions.end() || !it->second.websocket) {
      return;
    }
    const Session &session = it->second;
    auto stream = streams.find(session.stream);
    if (stream == streams.end()) {
      return;
    }
    // The offer's m-line, found by mid first as JSEP says.
    std::optional<unsigned> index;
    for (const auto &chosen : session.plan.media) {
      if ((mid && chosen.mid == *mid) || (!mid && mline && chosen.mline == *mline)) {
        index = chosen.mline;
      }
    }
    if (!index) {
      return;  // an m-line the server did not accept carries no media
    }
    if (session.kind == Kind::kPublish) {
      stream->second.stream->add_publisher_candidate(*index, candidate);
    } else {
      stream->second.stream->add_viewer_candidate(session.viewer, *index, candidate);
    }
  }

  void remove_stream(const std::string &name, const std::string &reason) {
    auto it = streams.find(name);
    if (it == streams.end()) {
      return;
    }
    bytes_in_ended += it->second.stream->bytes_in();
    for (const auto &v : it->second.stream->viewers()) {
      bytes_out_ended += v.sent.bytes;
    }
    for (const auto &h : hooks) {
      if (h.ending) {
        h.ending(*it->second.stream, reason);
      }
    }
    std::unique_ptr<Stream> stream = std::move(it->second.stream);
    streams.erase(it);
    drop_orphan_sessions(reason);
    log.info("stream-ended", {{"stream", name}, {"reason", reason}});
    stream.reset();
  }
};

MediaService::MediaService(const Config &config, MediaOptions options, Logger &log,
                           std::unique_ptr<ViewerTransportFactory> transports)
    : impl_(std::make_unique<Impl>(config, std::move(options), log, std::move(transports))) {}

MediaService::~MediaService() {
  impl_->ws_events = {};
  *impl_->alive = false;
  impl_->sessions.clear();
  for (auto &[name, entry] : impl_->streams) {
    for (const auto &h : impl_->hooks) {
      if (h.ending) {
        h.ending(*entry.stream, "server shutting down");
      }
    }
  }
  impl_->streams.clear();
}

bool MediaService::add_source_stream(const std::string &name,
                                     const std::filesystem::path &description,
                                     const std::map<std::string, std::string> &params,
                                     const OfferPlan &media, std::string *error) {
  Impl &s = *impl_;
  if (!valid_name(name)) {
    *error = "a stream name has letters, digits, '-', '_' or '.'";
    return false;
  }
  if (s.streams.count(name)) {
    *error = "stream " + name + " already has a publisher";
    return false;
  }
  if (static_cast<int64_t>(s.streams.size()) >= s.options.max_streams) {
    *error = "the server has its maximum of streams";
    return false;
  }
  StreamOptions stream_options;
  stream_options.description = description;
  stream_options.include_dirs = s.options.include_dirs;
  stream_options.params = params;
  stream_options.gather_timeout_ms = s.options.gather_timeout_ms;
  stream_options.idle_timeout_seconds = s.options.idle_timeout_seconds;
  stream_options.ice_addresses = s.options.ice_addresses;
  Stream::Events events;
  events.on_ended = [&s, name](const std::string &reason) { s.remove_stream(name, reason); };
  events.on_viewer_closed = [&s](const std::string &, const std::string &) {
    s.drop_orphan_sessions();
  };
  auto stream = std::make_unique<Stream>(name, stream_options, *s.transports, std::move(events));
  if (!stream->start_source(media, error)) {
    return false;
  }
  Stream *raw = stream.get();
  s.streams[name] = Impl::Entry{std::move(stream), {}};
  s.log.info("source-stream", {{"stream", name}});
  for (const auto &h : s.hooks) {
    if (h.started) {
      h.started(*raw);
    }
  }
  return true;
}

bool MediaService::end_stream(const std::string &name, const std::string &reason) {
  auto it = impl_->streams.find(name);
  if (it == impl_->streams.end()) {
    return false;
  }
  it->second.stream->end(reason);
  return true;
}

void MediaService::add_stream_hooks(StreamHooks hooks) {
  impl_->hooks.push_back(std::move(hooks));
}

Stream *MediaService::find_stream(const std::string &name) const {
  auto it = impl_->streams.find(name);
  return it == impl_->streams.end() || it->second.stream->ended() ? nullptr
                                                                  : it->second.stream.get();
}

void MediaService::install(SoupServer *server) {
  soup_server_add_handler(server, "/whip", Impl::handle, impl_.get(), nullptr);
  soup_server_add_handler(server, "/whep", Impl::handle, impl_.get(), nullptr);
  impl_->admin = std::make_unique<StreamsAdmin>(*this, impl_->config);
}

bool MediaService::handle_admin(SoupServerMessage *msg, const std::string &method,
                                const std::string &path) {
  return impl_->admin && impl_->admin->handle(msg, method, path);
}

void MediaService::set_events(Events events) {
  impl_->ws_events = std::move(events);
}

void MediaService::publish(const std::string &session, const std::string &stream,
                           const std::string &offer, const Client &client) {
  impl_->ws_publish(session, stream, offer, client);
}

void MediaService::play(const std::string &session, const std::string &stream,
                        const std::string &offer, const Client &client) {
  impl_->ws_play(session, stream, offer, client);
}

void MediaService::add_candidate(const std::string &session, const std::optional<std::string> &mid,
                                 std::optional<int64_t> mline, const std::string &candidate) {
  impl_->ws_candidate(session, mid, mline, candidate);
}

void MediaService::stop(const std::string &session) {
  impl_->ws_asking.erase(session);
  auto it = impl_->sessions.find(session);
  if (it != impl_->sessions.end() && it->second.websocket) {
    impl_->end_session(session, "ended by the client");
  }
}

std::vector<const Stream *> MediaService::streams() const {
  std::vector<const Stream *> out;
  for (const auto &[name, entry] : impl_->streams) {
    out.push_back(entry.stream.get());
  }
  return out;
}

bool MediaService::kick_viewer(const std::string &stream, const std::string &viewer) {
  auto it = impl_->streams.find(stream);
  if (it == impl_->streams.end()) {
    return false;
  }
  for (const auto &[id, session] : impl_->sessions) {
    if (session.kind == Impl::Kind::kPlay && session.stream == stream && session.viewer == viewer) {
      impl_->end_session(std::string(id), "kicked by an administrator");
      return true;
    }
  }
  return false;
}

size_t MediaService::stream_count() const {
  return impl_->streams.size();
}

void MediaService::end_all(const std::string &reason) {
  for (auto &[name, entry] : impl_->streams) {
    entry.stream->end(reason);
  }
}

std::string MediaService::metrics() const {
  const Impl &s = *impl_;
  std::string body;
  auto metric = [&](const char *name, const char *type, const char *help) {
    body += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  uint64_t viewers = 0, bytes_in = s.bytes_in_ended, bytes_out = s.bytes_out_ended;
  for (const auto &[name, entry] : s.streams) {
    viewers += entry.stream->viewer_count();
    bytes_in += entry.stream->bytes_in();
    for (const auto &v : entry.stream->viewers()) {
      bytes_out += v.sent.bytes;
    }
  }
  size_t encoders = 0;
  for (const auto &[name, entry] : s.streams) {
    encoders += entry.stream->encoder_count();
  }
  metric("livepipe_media_streams", "gauge", "Streams with a publisher.");
  body += "livepipe_media_streams " + std::to_string(s.streams.size()) + "\n";
  metric("livepipe_media_viewers", "gauge", "WebRTC viewers attached to streams.");
  body += "livepipe_media_viewers " + std::to_string(viewers) + "\n";
  metric("livepipe_media_encoders", "gauge",
         "Encoder elements in stream pipelines (viewer transports never encode).");
  body += "livepipe_media_encoders " + std::to_string(encoders) + "\n";
  metric("livepipe_media_received_bytes_total", "counter", "RTP bytes received from publishers.");
  body += "livepipe_media_received_bytes_total " + std::to_string(bytes_in) + "\n";
  metric("livepipe_media_sent_bytes_total", "counter", "RTP bytes handed to viewers.");
  body += "livepipe_media_sent_bytes_total " + std::to_string(bytes_out) + "\n";
  metric("livepipe_media_sessions_created_total", "counter", "WHIP and WHEP sessions created.");
  body += "livepipe_media_sessions_created_total " + std::to_string(s.sessions_created) + "\n";
  metric("livepipe_media_sessions_failed_total", "counter",
         "WHIP and WHEP requests refused, by reason.");
  for (const auto &[reason, count] : s.failures) {
    body += "livepipe_media_sessions_failed_total{reason=\"" + reason + "\"} " +
            std::to_string(count) + "\n";
  }
  return body;
}

}  // namespace livepipe::signaling::media
