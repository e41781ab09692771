// Protocol v1's publish and play reach the same streams as WHIP and WHEP:
// the real server and media service in this process, a WHIP publisher played
// by a webrtcbin client over /ws, and a /ws publisher played over WHEP. Runs
// inside a network namespace whose only interface is lo (CMakeLists.txt).
#define BOOST_TEST_MODULE ws_media
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"
#include "messages.h"
#include "server.h"
#include "service.h"
#include "support/ws_client.h"
#include "util/gstptr.h"
#include "webrtc_peer.h"
#include "whip_client.h"

#include <gst/webrtc/webrtc.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>

using namespace livepipe;
using namespace livepipe::signaling;
using livepipe::testing::iterate_until;
using livepipe::testing::WsClient;
using namespace std::chrono_literals;

BOOST_GLOBAL_FIXTURE(GstGlobalFixture);

namespace livepipe::signaling {
std::ostream &operator<<(std::ostream &out, ErrorCode code) {
  return out << error_code_name(code);
}
}  // namespace livepipe::signaling

namespace {

constexpr int kWidth = 320;
constexpr int kHeight = 240;

// libnice leaves loopback out of gathering unless it is named.
void use_loopback(GstElement *webrtcbin) {
  GObject *ice = nullptr;
  g_object_get(webrtcbin, "ice-agent", &ice, nullptr);
  gboolean added = FALSE;
  g_signal_emit_by_name(ice, "add-local-ip-address", "127.0.0.1", &added);
  g_object_unref(ice);
  BOOST_REQUIRE(added);
}

// A test pattern as constrained-baseline H.264 and Opus into a sendonly webrtcbin.
struct Publisher {
  GstPtr<GstElement> pipeline;
  GstElement *webrtcbin = nullptr;

  Publisher() {
    std::string description =
        "webrtcbin name=webrtc bundle-policy=max-bundle videotestsrc is-live=true pattern=ball ! "
        "video/x-raw,format=I420,width=" +
        std::to_string(kWidth) + ",height=" + std::to_string(kHeight) +
        ",framerate=30/1 ! x264enc tune=zerolatency speed-preset=ultrafast bframes=0 "
        "key-int-max=30 bitrate=500 ! video/x-h264,profile=constrained-baseline ! "
        "rtph264pay pt=96 config-interval=-1 aggregate-mode=zero-latency ! "
        "application/x-rtp,media=video,encoding-name=H264,payload=96,"
        "packetization-mode=(string)1 ! webrtc. "
        "audiotestsrc is-live=true wave=ticks ! audioconvert ! audioresample ! opusenc ! "
        "rtpopuspay pt=111 ! application/x-rtp,media=audio,encoding-name=OPUS,payload=111 ! "
        "webrtc.";
    GError *error = nullptr;
    pipeline = sink(gst_parse_launch(description.c_str(), &error));
    BOOST_REQUIRE_MESSAGE(pipeline && !error, (error ? error->message : ""));
    webrtcbin = gst_bin_get_by_name(GST_BIN(pipeline.get()), "webrtc");
    gst_object_unref(webrtcbin);  // the pipeline keeps it
    use_loopback(webrtcbin);
    GArray *transceivers = nullptr;
    g_signal_emit_by_name(webrtcbin, "get-transceivers", &transceivers);
    for (guint i = 0; transceivers && i < transceivers->len; ++i) {
      auto *t = g_array_index(transceivers, GstWebRTCRTPTransceiver *, i);
      g_object_set(t, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, nullptr);
    }
    if (transceivers) {
      g_array_unref(transceivers);
    }
  }
  ~Publisher() { gst_element_set_state(pipeline.get(), GST_STATE_NULL); }
  void play() {
    BOOST_REQUIRE(gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) !=
                  GST_STATE_CHANGE_FAILURE);
  }
};

// A recvonly webrtcbin that decodes what arrives and counts the video frames.
struct Viewer {
  GstPtr<GstElement> pipeline;
  GstElement *webrtcbin = nullptr;
  std::atomic<int> frames{0};
  std::atomic<int> width{0};
  std::atomic<int> height{0};

  Viewer() {
    pipeline = sink(gst_pipeline_new("viewer"));
    webrtcbin = gst_element_factory_make("webrtcbin", "webrtc");
    g_object_set(webrtcbin, "bundle-policy", 3 /* max-bundle */, nullptr);
    gst_bin_add(GST_BIN(pipeline.get()), webrtcbin);
    use_loopback(webrtcbin);
    for (const char *caps_text :
         {"application/x-rtp,media=video,encoding-name=H264,payload=102,clock-rate=90000,"
          "packetization-mode=(string)1,profile-level-id=(string)42e01f",
          "application/x-rtp,media=audio,encoding-name=OPUS,payload=109,clock-rate=48000,"
          "encoding-params=(string)2"}) {
      GstCaps *caps = gst_caps_from_string(caps_text);
      GstWebRTCRTPTransceiver *t = nullptr;
      g_signal_emit_by_name(webrtcbin, "add-transceiver",
                            GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &t);
      gst_caps_unref(caps);
      if (t) {
        gst_object_unref(t);
      }
    }
    g_signal_connect(webrtcbin, "pad-added", G_CALLBACK(on_pad_added), this);
  }
  ~Viewer() {
    g_signal_handlers_disconnect_by_data(webrtcbin, this);
    gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  }
  void play() {
    BOOST_REQUIRE(gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) !=
                  GST_STATE_CHANGE_FAILURE);
  }

  // Streaming thread: link and sync state only.
  static void on_pad_added(GstElement *, GstPad *pad, gpointer data) {
    auto *self = static_cast<Viewer *>(data);
    if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) {
      return;
    }
    GstCaps *caps = gst_pad_get_current_caps(pad);
    const char *media =
        caps ? gst_structure_get_string(gst_caps_get_structure(caps, 0), "media") : nullptr;
    bool video = media && !std::strcmp(media, "video");
    if (caps) {
      gst_caps_unref(caps);
    }
    GstBin *bin = GST_BIN(self->pipeline.get());
    GstElement *sink = gst_element_factory_make("fakesink", nullptr);
    g_object_set(sink, "sync", FALSE, "async", FALSE, nullptr);
    if (!video) {
      gst_bin_add(bin, sink);
      gst_element_sync_state_with_parent(sink);
      GstPad *target = gst_element_get_static_pad(sink, "sink");
      gst_pad_link(pad, target);
      gst_object_unref(target);
      return;
    }
    GstElement *decode = gst_element_factory_make("decodebin", nullptr);
    gst_bin_add_many(bin, decode, sink, nullptr);
    g_signal_connect(decode, "pad-added", G_CALLBACK(+[](GstElement *, GstPad *src, gpointer to) {
                       GstPad *target = gst_element_get_static_pad(GST_ELEMENT(to), "sink");
                       gst_pad_link(src, target);
                       gst_object_unref(target);
                     }),
                     sink);
    GstPad *sink_pad = gst_element_get_static_pad(sink, "sink");
    gst_pad_add_probe(
        sink_pad, GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *p, GstPadProbeInfo *, gpointer d) -> GstPadProbeReturn {
          auto *v = static_cast<Viewer *>(d);
          if (v->frames.fetch_add(1) == 0) {
            GstCaps *c = gst_pad_get_current_caps(p);
            if (c) {
              int w = 0, h = 0;
              gst_structure_get_int(gst_caps_get_structure(c, 0), "width", &w);
              gst_structure_get_int(gst_caps_get_structure(c, 0), "height", &h);
              v->width = w;
              v->height = h;
              gst_caps_unref(c);
            }
          }
          return GST_PAD_PROBE_OK;
        },
        self, nullptr);
    gst_object_unref(sink_pad);
    gst_element_sync_state_with_parent(decode);
    gst_element_sync_state_with_parent(sink);
    GstPad *decode_sink = gst_element_get_static_pad(decode, "sink");
    gst_pad_link(pad, decode_sink);
    gst_object_unref(decode_sink);
  }
};

// Protocol v1 publish / play as a SessionSignaling for WebRtcPeer: the offer
// goes out as `publish` or `play`; the answer names the session that local
// candidates then carry (held back until it is known).
class StreamLink final : public SessionSignaling {
 public:
  StreamLink(WsClient &client, std::string type, std::string stream)
      : client_(client), type_(std::move(type)), stream_(std::move(stream)) {}

  void start(Callbacks callbacks) override {
    callbacks_ = std::move(callbacks);
    client_.on_text = [this](const std::string &text) {
      auto message = parse_server_message(text);
      if (auto *answer = message ? std::get_if<SessionAnswer>(&*message) : nullptr) {
        session = answer->session;
        callbacks_.on_description(SdpKind::kAnswer, answer->sdp);
        for (const auto &[mline, candidate] : held_) {
          send_candidate(mline, candidate);
        }
        held_.clear();
      } else if (auto *ended = message ? std::get_if<SessionEnded>(&*message) : nullptr) {
        ended_reason = ended->reason;
      } else if (auto *error = message ? std::get_if<Error>(&*message) : nullptr) {
        errors.push_back(*error);
      }
    };
  }
  void send_description(SdpKind, const std::string &sdp) override {
    if (type_ == "publish") {
      client_.send(serialize(ClientMessage{Publish{stream_, sdp}}));
    } else {
      client_.send(serialize(ClientMessage{Play{stream_, sdp}}));
    }
  }
  void send_candidate(unsigned mline, const std::string &candidate) override {
    if (session.empty()) {
      held_.emplace_back(mline, candidate);
      return;
    }
    client_.send(serialize(
        ClientMessage{SessionCandidate{session, candidate, std::nullopt, int64_t{mline}, false}}));
  }
  void end(const std::string &) override {
    if (!session.empty()) {
      client_.send(serialize(ClientMessage{StopSession{type_ == "publish", session}}));
    }
  }

  std::string session;
  std::string ended_reason;
  std::vector<Error> errors;

 private:
  WsClient &client_;
  std::string type_;
  std::string stream_;
  Callbacks callbacks_;
  std::vector<std::pair<unsigned, std::string>> held_;
};

struct Service {
  Logger log{false, stderr, LogLevel::kWarn};
  std::unique_ptr<Server> server;
  std::unique_ptr<media::MediaService> media;

  explicit Service(const HookSettings &hooks = {}) {
    const char *source = std::getenv("LIVEPIPE_SOURCE_DIR");
    BOOST_REQUIRE_MESSAGE(source, "LIVEPIPE_SOURCE_DIR must name the source tree");
    Config config;
    config.host = "127.0.0.1";
    config.port = 0;
    media_config = config;
    media_config.hooks = hooks;
    server = std::make_unique<Server>(config, log);
    std::string error;
    BOOST_REQUIRE_MESSAGE(server->start(&error), error);
    media::MediaOptions options;
    std::filesystem::path presets = std::filesystem::path(source) / "pipelines" / "presets";
    options.description = presets / "webrtc-publish-fanout.json";
    options.include_dirs = {presets};
    options.ice_addresses = {"127.0.0.1"};
    media = std::make_unique<media::MediaService>(media_config, options, log);
    media->install(server->soup_server());
    server->add_admin_route(
        [this](SoupServerMessage *msg, const std::string &method, const std::string &path,
               GHashTable *) { return media && media->handle_admin(msg, method, path); });
    server->set_media_sessions(media.get());
  }
  ~Service() {
    server->set_media_sessions(nullptr);
    media.reset();
    server.reset();
  }
  std::string http(const std::string &path) const {
    return "http://127.0.0.1:" + std::to_string(server->port()) + path;
  }
  std::string ws() const { return "ws://127.0.0.1:" + std::to_string(server->port()) + "/ws"; }

  Config media_config;
};

void hello(WsClient &client) {
  client.send(serialize(ClientMessage{Hello{}}));
  auto text = client.next();
  BOOST_REQUIRE(text);
  auto message = parse_server_message(*text);
  BOOST_REQUIRE(message);
  BOOST_REQUIRE(std::holds_alternative<Welcome>(*message));
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_whip_stream_plays_over_the_websocket_protocol) {
  Service service;
  Publisher publisher;
  media::WhipClient whip(publisher.webrtcbin, service.http("/whip/cam"), "");
  publisher.play();
  bool published = false;
  whip.start([&](const media::WhipClient::Result &r) {
    BOOST_TEST_MESSAGE("WHIP: " << r.status << " " << r.error);
    published = r.error.empty();
  });
  BOOST_REQUIRE(iterate_until([&] { return published; }, 20s));

  WsClient client;
  BOOST_REQUIRE(client.connect(service.ws()));
  hello(client);
  Viewer viewer;
  StreamLink link(client, "play", "cam");
  WebRtcPeer peer(viewer.webrtcbin, link, WebRtcPeer::Role::kOfferer);
  viewer.play();
  peer.start();
  bool decoded = iterate_until([&] { return viewer.frames >= 10 || !peer.error().empty(); }, 30s);
  BOOST_TEST(peer.error() == "");
  BOOST_TEST(link.errors.empty());
  BOOST_REQUIRE_MESSAGE(decoded && viewer.frames >= 10, "frames decoded: " << viewer.frames);
  BOOST_TEST(viewer.width == kWidth);
  BOOST_TEST(viewer.height == kHeight);
  BOOST_TEST(service.media->find_stream("cam")->viewer_count() == 1u);

  // The WHIP publisher leaving ends the stream; the WebSocket viewer is told.
  bool deleted = false;
  whip.stop([&](guint) { deleted = true; });
  BOOST_REQUIRE(iterate_until([&] { return deleted; }, 10s));
  BOOST_REQUIRE(iterate_until([&] { return !link.ended_reason.empty(); }, 10s));
  BOOST_TEST(service.media->stream_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_websocket_publisher_plays_over_whep_and_its_errors) {
  Service service;
  WsClient client;
  BOOST_REQUIRE(client.connect(service.ws()));
  hello(client);
  Publisher publisher;
  StreamLink link(client, "publish", "live");
  WebRtcPeer peer(publisher.webrtcbin, link, WebRtcPeer::Role::kOfferer);
  publisher.play();
  peer.start();
  BOOST_REQUIRE(iterate_until([&] { return !link.session.empty() || !link.errors.empty(); }, 20s));
  BOOST_REQUIRE(link.errors.empty());

  Viewer viewer;
  media::WhipClient whep(viewer.webrtcbin, service.http("/whep/live"), "");
  viewer.play();
  bool answered = false;
  whep.start([&](const media::WhipClient::Result &r) {
    BOOST_TEST_MESSAGE("WHEP: " << r.status << " " << r.error);
    answered = r.error.empty();
  });
  BOOST_REQUIRE(iterate_until([&] { return answered; }, 20s));
  BOOST_REQUIRE_MESSAGE(iterate_until([&] { return viewer.frames >= 10; }, 30s),
                        "frames decoded: " << viewer.frames);
  BOOST_TEST(viewer.width == kWidth);
  BOOST_TEST(viewer.height == kHeight);

  // A second publisher of the same stream, a player of a missing stream and
  // an offer the server cannot take get errors with stable codes.
  WsClient other;
  BOOST_REQUIRE(other.connect(service.ws()));
  hello(other);
  auto error_for = [&](const ClientMessage &message) {
    other.send(serialize(message));
    for (int i = 0; i < 5; ++i) {
      auto text = other.next();
      BOOST_REQUIRE(text);
      auto parsed = parse_server_message(*text);
      if (parsed && std::holds_alternative<Error>(*parsed)) {
        return std::get<Error>(*parsed);
      }
    }
    BOOST_FAIL("no error arrived");
    return Error{};
  };
  std::string offer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
  BOOST_TEST(error_for(Publish{"live", offer}).code == ErrorCode::kStreamBusy);
  BOOST_TEST(error_for(Play{"nobody", offer}).code == ErrorCode::kUnknownStream);
  Error bad = error_for(Play{"live", "not sdp"});
  BOOST_TEST(bad.code == ErrorCode::kBadOffer);
  BOOST_TEST(bad.stream == "live");

  // unpublish ends the stream: the server forgets it, the WHEP viewer stops.
  client.send(serialize(ClientMessage{StopSession{true, link.session}}));
  BOOST_REQUIRE(iterate_until([&] { return link.ended_reason == "stopped"; }, 10s));
  BOOST_REQUIRE(iterate_until([&] { return service.media->stream_count() == 0u; }, 10s));
}

BOOST_AUTO_TEST_CASE(closing_the_websocket_ends_its_stream) {
  Service service;
  auto client = std::make_unique<WsClient>();
  BOOST_REQUIRE(client->connect(service.ws()));
  hello(*client);
  Publisher publisher;
  StreamLink link(*client, "publish", "gone");
  WebRtcPeer peer(publisher.webrtcbin, link, WebRtcPeer::Role::kOfferer);
  publisher.play();
  peer.start();
  BOOST_REQUIRE(iterate_until([&] { return !link.session.empty(); }, 20s));
  BOOST_TEST(service.media->stream_count() == 1u);
  client->close();
  BOOST_REQUIRE(iterate_until([&] { return service.media->stream_count() == 0u; }, 10s));
}

BOOST_AUTO_TEST_CASE(administrators_end_websocket_sessions) {
  Service service;
  WsClient publishing;
  BOOST_REQUIRE(publishing.connect(service.ws()));
  hello(publishing);
  Publisher publisher;
  StreamLink publish_link(publishing, "publish", "show");
  WebRtcPeer publish_peer(publisher.webrtcbin, publish_link, WebRtcPeer::Role::kOfferer);
  publisher.play();
  publish_peer.start();
  BOOST_REQUIRE(iterate_until([&] { return !publish_link.session.empty(); }, 20s));

  WsClient watching;
  BOOST_REQUIRE(watching.connect(service.ws()));
  hello(watching);
  Viewer viewer;
  StreamLink play_link(watching, "play", "show");
  WebRtcPeer play_peer(viewer.webrtcbin, play_link, WebRtcPeer::Role::kOfferer);
  viewer.play();
  play_peer.start();
  BOOST_REQUIRE(iterate_until([&] { return !play_link.session.empty(); }, 20s));

  // What DELETE /api/v1/streams/show/viewers/{id} and /streams/show do.
  const media::Stream *stream = service.media->find_stream("show");
  BOOST_REQUIRE(stream);
  BOOST_REQUIRE_EQUAL(stream->viewers().size(), 1u);
  BOOST_REQUIRE(service.media->kick_viewer("show", stream->viewers()[0].id));
  BOOST_REQUIRE(iterate_until([&] { return !play_link.ended_reason.empty(); }, 10s));
  BOOST_TEST(play_link.ended_reason == "kicked by an administrator");
  BOOST_TEST(publish_link.ended_reason.empty());

  BOOST_REQUIRE(service.media->end_stream("show", "ended by an administrator"));
  BOOST_REQUIRE(iterate_until([&] { return !publish_link.ended_reason.empty(); }, 10s));
  BOOST_TEST(publish_link.ended_reason == "ended by an administrator");
  BOOST_TEST(service.media->stream_count() == 0u);
}

// The access hooks deny WebSocket publish and play with `forbidden`: a hook
// that answers 403 (its reason goes to the client) and one that cannot be
// reached (fail closed).
BOOST_AUTO_TEST_CASE(access_hooks_deny_websocket_sessions) {
  SoupServer *hook = soup_server_new(nullptr, nullptr);
  GError *error = nullptr;
  BOOST_REQUIRE(soup_server_listen_local(hook, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  GSList *uris = soup_server_get_uris(hook);
  const int port = g_uri_get_port(static_cast<GUri *>(uris->data));
  g_slist_free_full(uris, reinterpret_cast<GDestroyNotify>(g_uri_unref));
  std::string asked;
  soup_server_add_handler(
      hook, "/publish",
      +[](SoupServer *, SoupServerMessage *msg, const char *, GHashTable *, gpointer data) {
        SoupMessageBody *body = soup_server_message_get_request_body(msg);
        static_cast<std::string *>(data)->assign(body->data, body->length);
        static const char reason[] = "not this stream\n";
        soup_server_message_set_status(msg, SOUP_STATUS_FORBIDDEN, nullptr);
        soup_server_message_set_response(msg, "text/plain", SOUP_MEMORY_STATIC, reason,
                                         sizeof reason - 1);
      },
      &asked, nullptr);
  // A port nothing listens on: the hook server's, once it is closed below.
  HookSettings hooks;
  hooks.on_publish = "http://127.0.0.1:" + std::to_string(port) + "/publish";
  hooks.on_play = "http://127.0.0.1:" + std::to_string(port) + "/play";
  hooks.timeout_ms = 3000;
  Service service(hooks);
  WsClient client;
  BOOST_REQUIRE(client.connect(service.ws()));
  hello(client);
  auto error_for = [&](const ClientMessage &message) {
    client.send(serialize(message));
    for (int i = 0; i < 5; ++i) {
      auto text = client.next();
      BOOST_REQUIRE(text);
      auto parsed = parse_server_message(*text);
      if (parsed && std::holds_alternative<Error>(*parsed)) {
        return std::get<Error>(*parsed);
      }
    }
    BOOST_FAIL("no error arrived");
    return Error{};
  };
  std::string offer = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n";
  Error denied = error_for(Publish{"live", offer});
  BOOST_TEST(denied.code == ErrorCode::kForbidden);
  BOOST_TEST(denied.message == "not this stream");
  BOOST_TEST(asked.find("\"action\":\"publish\"") != std::string::npos);
  BOOST_TEST(asked.find("\"stream\":\"live\"") != std::string::npos);
  // The WebSocket client's address, as for WHIP; no token, so no subject.
  BOOST_TEST(asked.find("\"remote\":\"127.0.0.1\"") != std::string::npos);
  BOOST_TEST(asked.find("\"subject\":null") != std::string::npos);
  BOOST_TEST(service.media->stream_count() == 0u);

  soup_server_disconnect(hook);
  g_object_unref(hook);
  Error unreachable = error_for(Play{"live", offer});
  BOOST_TEST(unreachable.code == ErrorCode::kForbidden);
  BOOST_TEST(unreachable.message == "the on_play hook could not be reached");
}
