// Media through the real signaling server: webrtcbin clients in this process
// find each other in a room (protocol v1) or a 1-1 session (GStreamer examples
// protocol) and exchange video both ways; with a real coturn, clients
// restricted to relay candidates connect through it with the credentials the
// server handed out. Run inside a network namespace whose only interface is
// lo (see CMakeLists.txt), so every candidate is 127.0.0.1.
#define BOOST_TEST_MODULE webrtc
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"
#include "messages.h"
#include "server.h"
#include "support/links.h"
#include "support/ws_client.h"
#include "util/gstptr.h"
#include "webrtc_peer.h"

#include <arpa/inet.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>

using namespace livepipe;
using namespace livepipe::signaling;
using livepipe::testing::GstLink;
using livepipe::testing::iterate_until;
using livepipe::testing::V1Link;
using livepipe::testing::WsClient;

BOOST_GLOBAL_FIXTURE(GstGlobalFixture);

namespace {

// One side of a call: a live test pattern encoded to VP8 into webrtcbin, and
// a counter of RTP buffers arriving from the other side.
struct Client {
  GstPtr<GstElement> pipeline;
  GstElement *webrtcbin = nullptr;
  std::atomic<int> received{0};

  explicit Client(const std::string &webrtc_options = "") {
    std::string description =
        "videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=120,framerate=15/1 "
        "! vp8enc deadline=1 ! rtpvp8pay ! "
        "application/x-rtp,media=video,encoding-name=VP8,payload=96 ! "
        "webrtcbin name=webrtc bundle-policy=max-bundle " +
        webrtc_options;
    GError *error = nullptr;
    pipeline = sink(gst_parse_launch(description.c_str(), &error));
    BOOST_REQUIRE_MESSAGE(pipeline && !error, (error ? error->message : ""));
    webrtcbin = gst_bin_get_by_name(GST_BIN(pipeline.get()), "webrtc");
    gst_object_unref(webrtcbin);  // the pipeline keeps it alive
    g_signal_connect(webrtcbin, "pad-added", G_CALLBACK(on_pad_added), this);
    // libnice leaves loopback out of gathering unless it is named; in the
    // test's namespace lo is the only interface there is.
    GObject *ice = nullptr;
    g_object_get(webrtcbin, "ice-agent", &ice, nullptr);
    gboolean added = FALSE;
    g_signal_emit_by_name(ice, "add-local-ip-address", "127.0.0.1", &added);
    g_object_unref(ice);
    BOOST_REQUIRE(added);
  }
  ~Client() {
    g_signal_handlers_disconnect_by_data(webrtcbin, this);
    gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  }
  void play() {
    BOOST_REQUIRE(gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) !=
                  GST_STATE_CHANGE_FAILURE);
  }

  // Runs on a streaming thread: only link and count, never block.
  static void on_pad_added(GstElement *, GstPad *pad, gpointer data) {
    auto *self = static_cast<Client *>(data);
    if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC) {
      return;
    }
    GstElement *fakesink = gst_element_factory_make("fakesink", nullptr);
    g_object_set(fakesink, "sync", FALSE, "async", FALSE, nullptr);
    gst_bin_add(GST_BIN(self->pipeline.get()), fakesink);
    gst_element_sync_state_with_parent(fakesink);
    GstPad *sinkpad = gst_element_get_static_pad(fakesink, "sink");
    gst_pad_link(pad, sinkpad);
    gst_object_unref(sinkpad);
    gst_pad_add_probe(
        pad, GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *, GstPadProbeInfo *, gpointer counter) {
          ++*static_cast<std::atomic<int> *>(counter);
          return GST_PAD_PROBE_OK;
        },
        &self->received, nullptr);
  }
};

struct ServerFixture {
  Logger log{false, stderr, LogLevel::kWarn};
  std::unique_ptr<Server> server;
  explicit ServerFixture(Config config = Config()) {
    config.port = 0;
    server = std::make_unique<Server>(std::move(config), log);
    std::string error;
    BOOST_REQUIRE_MESSAGE(server->start(&error), error);
  }
  std::string ws(const std::string &path) const {
    return "ws://127.0.0.1:" + std::to_string(server->port()) + path;
  }
};

template <typename T>
T next_of(WsClient &client) {
  for (int i = 0; i < 10; ++i) {
    auto text = client.next();
    BOOST_REQUIRE(text);
    auto message = parse_server_message(*text);
    if (message && std::holds_alternative<T>(*message)) {
      return std::get<T>(*message);
    }
  }
  BOOST_FAIL("expected message did not arrive");
  throw std::logic_error("unreachable");
}

bool both_receive(Client &a, Client &b, const WebRtcPeer &pa, const WebRtcPeer &pb) {
  bool ok = iterate_until(
      [&] {
        return (a.received > 10 && b.received > 10) || !pa.error().empty() || !pb.error().empty();
      },
      std::chrono::seconds(30));
  BOOST_TEST(pa.error() == "");
  BOOST_TEST(pb.error() == "");
  BOOST_TEST_MESSAGE("buffers received: " << a.received << " and " << b.received);
  return ok && a.received > 10 && b.received > 10;
}

// Joins `room` over protocol v1 and returns the welcome.
Welcome hello(WsClient &client) {
  client.send(R"({"type":"hello"})");
  return next_of<Welcome>(client);
}

// Runs a v1 call between two fresh clients; returns their links' candidates.
void v1_call(ServerFixture &f, const std::function<std::string(const Welcome &)> &options,
             std::vector<std::string> *candidates) {
  WsClient alice_ws, bob_ws;
  BOOST_REQUIRE(alice_ws.connect(f.ws("/ws")));
  BOOST_REQUIRE(bob_ws.connect(f.ws("/ws")));
  Welcome alice_welcome = hello(alice_ws);
  alice_ws.send(R"({"type":"join","room":"call"})");
  next_of<Joined>(alice_ws);
  Welcome bob_welcome = hello(bob_ws);
  bob_ws.send(R"({"type":"join","room":"call"})");
  Joined joined = next_of<Joined>(bob_ws);
  BOOST_REQUIRE_EQUAL(joined.peers.size(), 1u);
  BOOST_REQUIRE_EQUAL(joined.peers[0].id, alice_welcome.peer);
  BOOST_REQUIRE_EQUAL(next_of<PeerJoined>(alice_ws).peer.id, bob_welcome.peer);

  Client alice(options(alice_welcome)), bob(options(bob_welcome));
  V1Link alice_link(alice_ws, bob_welcome.peer), bob_link(bob_ws, alice_welcome.peer);
  WebRtcPeer alice_peer(alice.webrtcbin, alice_link, WebRtcPeer::Role::kAnswerer);
  WebRtcPeer bob_peer(bob.webrtcbin, bob_link, WebRtcPeer::Role::kOfferer);
  alice.play();
  bob.play();
  alice_peer.start();
  bob_peer.start();  // the newcomer offers, as on the web page
  BOOST_TEST(both_receive(alice, bob, alice_peer, bob_peer));
  *candidates = alice_link.sent_candidates;
  candidates->insert(candidates->end(), bob_link.sent_candidates.begin(),
                     bob_link.sent_candidates.end());
}

int free_port(int type) {
  int fd = socket(AF_INET, type, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// coturn on loopback with use-auth-secret, in its own temp dir, stopped by PID.
struct Coturn {
  std::string dir;
  int port = 0;
  GPid pid = 0;
  std::string secret = "coturn-shared-secret";

  Coturn() {
    gchar *tmp = g_dir_make_tmp("livepipe-coturn-XXXXXX", nullptr);
    dir = tmp;
    g_free(tmp);
    port = free_port(SOCK_DGRAM);
    std::ofstream(dir + "/turnserver.conf")
        << "listening-ip=127.0.0.1\nrelay-ip=127.0.0.1\nlistening-port=" << port
        << "\nmin-port=49200\nmax-port=49400\nuse-auth-secret\nstatic-auth-secret=" << secret
        << "\nrealm=livepipe.test\nfingerprint\nno-cli\nno-tls\nno-dtls\nno-tcp-relay\n"
           "allow-loopback-peers\nsimple-log\nlog-file="
        << dir << "/turn.log\npidfile=" << dir << "/turn.pid\n";
    std::string conf = dir + "/turnserver.conf";
    const char *argv[] = {"turnserver", "-c", conf.c_str(), nullptr};
    GError *error = nullptr;
    BOOST_REQUIRE_MESSAGE(
        g_spawn_async(nullptr, const_cast<char **>(argv), nullptr,
                      GSpawnFlags(G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                                  G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL),
                      nullptr, nullptr, &pid, &error),
        (error ? error->message : ""));
    // Ready once it logs that its listener is up (bounded wait).
    iterate_until(
        [&] {
          gchar *log = nullptr;
          bool ready = false;
          GDir *d = g_dir_open(dir.c_str(), 0, nullptr);
          while (const char *name = d ? g_dir_read_name(d) : nullptr) {
            if (g_str_has_prefix(name, "turn") && g_str_has_suffix(name, ".log") &&
                g_file_get_contents((dir + "/" + name).c_str(), &log, nullptr, nullptr)) {
              ready =
                  ready || strstr(log, "relay 127.0.0.1") || strstr(log, "Total General servers");
              g_free(log);
            }
          }
          if (d) {
            g_dir_close(d);
          }
          return ready;
        },
        std::chrono::seconds(10));
  }
  ~Coturn() {
    if (pid) {
      kill(pid, SIGTERM);
      int status = 0;
      for (int i = 0; i < 50 && waitpid(pid, &status, WNOHANG) == 0; ++i) {
        g_usleep(100000);
      }
      kill(pid, SIGKILL);
      waitpid(pid, &status, WNOHANG);
    }
    GDir *d = g_dir_open(dir.c_str(), 0, nullptr);
    while (const char *name = d ? g_dir_read_name(d) : nullptr) {
      g_remove((dir + "/" + name).c_str());
    }
    if (d) {
      g_dir_close(d);
    }
    g_rmdir(dir.c_str());
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(two_webrtcbin_clients_call_through_a_room) {
  ServerFixture f;
  std::vector<std::string> candidates;
  v1_call(
      f, [](const Welcome &) { return std::string(); }, &candidates);
  BOOST_TEST(!candidates.empty());
}

BOOST_AUTO_TEST_CASE(relay_only_clients_connect_through_coturn) {
  Coturn turn;
  Config config;
  config.turn_rest.urls = {"turn:127.0.0.1:" + std::to_string(turn.port) + "?transport=udp"};
  config.turn_rest.secret = turn.secret;
  config.turn_rest.ttl_seconds = 600;
  ServerFixture f(config);
  std::vector<std::string> candidates;
  v1_call(
      f,
      [](const Welcome &welcome) {
        BOOST_REQUIRE_EQUAL(welcome.ice_servers.size(), 1u);
        const IceServer &server = welcome.ice_servers[0];
        // webrtcbin takes TURN servers as URIs: the REST username has a ':' of its own.
        gchar *user = g_uri_escape_string(server.username.c_str(), nullptr, FALSE);
        gchar *password = g_uri_escape_string(server.credential.c_str(), nullptr, FALSE);
        std::string host = server.urls.at(0).substr(5, server.urls[0].find('?') - 5);
        std::string options = std::string("ice-transport-policy=relay turn-server=\"turn://") +
                              user + ":" + password + "@" + host + "\"";
        g_free(user);
        g_free(password);
        return options;
      },
      &candidates);
  BOOST_REQUIRE(!candidates.empty());
  for (const auto &candidate : candidates) {
    BOOST_TEST(candidate.find("typ relay") != std::string::npos, candidate);
  }
}

BOOST_AUTO_TEST_CASE(gstreamer_examples_protocol_clients_complete_a_session) {
  ServerFixture f;
  WsClient caller_ws, callee_ws;
  BOOST_REQUIRE(caller_ws.connect(f.ws("/ws/gst")));
  BOOST_REQUIRE(callee_ws.connect(f.ws("/ws/gst")));
  callee_ws.send("HELLO 4242");
  BOOST_REQUIRE_EQUAL(callee_ws.next().value_or(""), "HELLO");
  caller_ws.send("HELLO 1111");
  BOOST_REQUIRE_EQUAL(caller_ws.next().value_or(""), "HELLO");
  caller_ws.send("SESSION 4242");
  BOOST_REQUIRE_EQUAL(caller_ws.next().value_or(""), "SESSION_OK");

  Client caller, callee;
  GstLink caller_link(caller_ws), callee_link(callee_ws);
  WebRtcPeer caller_peer(caller.webrtcbin, caller_link, WebRtcPeer::Role::kOfferer);
  WebRtcPeer callee_peer(callee.webrtcbin, callee_link, WebRtcPeer::Role::kAnswerer);
  caller.play();
  callee.play();
  callee_peer.start();
  caller_peer.start();
  BOOST_TEST(both_receive(caller, callee, caller_peer, callee_peer));
  BOOST_TEST(caller_link.others.empty());
  BOOST_TEST(callee_link.others.empty());
}
