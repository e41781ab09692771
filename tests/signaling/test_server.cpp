// The real service over loopback sockets: protocol v1 and the GStreamer
// examples protocol end to end, tokens, limits, HTTP endpoints and the
// `livepipe serve` process's start-up and graceful shutdown.
#define BOOST_TEST_MODULE server
#include <boost/test/unit_test.hpp>

#include "messages.h"
#include "server.h"
#include "support/http.h"
#include "support/ws_client.h"
#include "token.h"
#include "util/json.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

using namespace livepipe;
using namespace livepipe::signaling;
using livepipe::testing::http_request;
using livepipe::testing::iterate_until;
using livepipe::testing::WsClient;

namespace {

constexpr const char *kSecret = "integration-secret-0123";

struct ServerFixture {
  Logger log{false, stderr, LogLevel::kWarn};
  std::unique_ptr<Server> server;

  explicit ServerFixture(Config config = Config()) {
    config.port = 0;
    server = std::make_unique<Server>(std::move(config), log);
    std::string error;
    BOOST_REQUIRE_MESSAGE(server->start(&error), error);
  }
  std::string http(const std::string &path = "") const { return server->url() + path; }
  std::string ws(const std::string &path) const {
    return "ws://127.0.0.1:" + std::to_string(server->port()) + path;
  }
};

// Parses the next message and checks its type.
json::NodePtr expect(WsClient &client, const std::string &type) {
  auto text = client.next();
  BOOST_REQUIRE_MESSAGE(text, "no message while waiting for " << type);
  json::NodePtr node = json::parse(*text, nullptr);
  BOOST_REQUIRE(node && JSON_NODE_HOLDS_OBJECT(node.get()));
  BOOST_REQUIRE_EQUAL(json::get_string(json_node_get_object(node.get()), "type").value_or(""),
                      type);
  return node;
}

std::string member(const json::NodePtr &node, const char *name) {
  return json::get_string(json_node_get_object(node.get()), name).value_or("");
}

std::string hello_and_join(WsClient &client, const std::string &room, const std::string &name) {
  client.send(R"({"type":"hello","protocol":1,"name":")" + name + "\"}");
  std::string peer = member(expect(client, "welcome"), "peer");
  client.send(R"({"type":"join","room":")" + room + "\"}");
  expect(client, "joined");
  return peer;
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_peers_meet_and_relay) {
  ServerFixture f;
  WsClient alice, bob;
  BOOST_REQUIRE(alice.connect(f.ws("/ws")));
  BOOST_REQUIRE(bob.connect(f.ws("/ws")));
  std::string a = hello_and_join(alice, "blue", "alice");
  bob.send(R"({"type":"hello","name":"bob"})");
  std::string b = member(expect(bob, "welcome"), "peer");
  bob.send(R"({"type":"join","room":"blue"})");
  auto joined = expect(bob, "joined");
  BOOST_TEST(json::to_string(joined.get()).find("\"id\":\"" + a + "\",\"name\":\"alice\"") !=
             std::string::npos);
  BOOST_TEST(json::to_string(expect(alice, "peer-joined").get()).find(b) != std::string::npos);

  bob.send(R"({"type":"offer","to":")" + a + R"(","sdp":"v=0\r\n"})");
  auto offer = expect(alice, "offer");
  BOOST_TEST(member(offer, "from") == b);
  BOOST_TEST(member(offer, "sdp") == "v=0\r\n");

  // Garbage from bob gets bob an error and leaves alice alone.
  bob.send("{not json");
  BOOST_TEST(member(expect(bob, "error"), "code") == "bad-message");
  alice.send(R"({"type":"answer","to":")" + b + R"(","sdp":"v=0 answer"})");
  BOOST_TEST(member(expect(bob, "answer"), "sdp") == "v=0 answer");

  // Room state is visible through the admin API.
  auto room = http_request("GET", f.http("api/v1/rooms/blue"));
  BOOST_TEST(room.status == 200u);
  BOOST_TEST(room.body.find("\"name\":\"alice\"") != std::string::npos);

  bob.close();
  auto left = expect(alice, "peer-left");
  BOOST_TEST(member(left, "peer") == b);
  BOOST_TEST(member(left, "reason") == "disconnected");
}

BOOST_AUTO_TEST_CASE(size_limits_answer_with_errors_or_close) {
  Config config;
  config.limits.max_message_bytes = 4096;
  ServerFixture f(config);
  WsClient alice;
  BOOST_REQUIRE(alice.connect(f.ws("/ws")));
  hello_and_join(alice, "blue", "alice");
  alice.send(R"({"type":"ping","pad":")" + std::string(5000, 'x') + "\"}");
  auto error = expect(alice, "error");
  BOOST_TEST(member(error, "code") == "too-large");
  alice.send(R"({"type":"ping"})");
  expect(alice, "pong");
  // Far over the limit the frame is not even buffered: libsoup closes the
  // connection (1009, or a reset while the client is still writing), and the
  // server carries on for everyone else.
  WsClient bob;
  BOOST_REQUIRE(bob.connect(f.ws("/ws")));
  hello_and_join(bob, "blue", "bob");
  expect(alice, "peer-joined");
  alice.send(std::string(64 * 1024, 'x'));
  BOOST_REQUIRE(alice.wait_closed());
  BOOST_TEST(member(expect(bob, "peer-left"), "reason") == "disconnected");
  bob.send(R"({"type":"ping"})");
  expect(bob, "pong");
}

BOOST_AUTO_TEST_CASE(http_endpoints) {
  ServerFixture f;
  auto health = http_request("GET", f.http("healthz"));
  BOOST_TEST(health.status == 200u);
  BOOST_TEST(health.body == R"({"status":"ok"})");
  auto page = http_request("GET", f.http());
  BOOST_TEST(page.status == 200u);
  BOOST_TEST(page.content_type == "text/html");
  BOOST_TEST(page.body.find("<script src=\"app.js\">") != std::string::npos);
  BOOST_TEST(http_request("GET", f.http("app.js")).body.find("'hello'") != std::string::npos);
  BOOST_TEST(http_request("GET", f.http("missing.js")).status == 404u);
  BOOST_TEST(http_request("POST", f.http()).status == 405u);
  auto metrics = http_request("GET", f.http("metrics"));
  BOOST_TEST(metrics.body.find("livepipe_signaling_connections{protocol=\"ws\"} 0") !=
             std::string::npos);
  BOOST_TEST(http_request("GET", f.http("api/v1/server")).body.find("\"auth\":false") !=
             std::string::npos);
  BOOST_TEST(http_request("GET", f.http("api/v1/rooms/none")).status == 404u);
  BOOST_TEST(http_request("DELETE", f.http("api/v1/peers/p99")).status == 404u);
}

BOOST_AUTO_TEST_CASE(admin_can_kick_a_peer) {
  ServerFixture f;
  WsClient alice, bob;
  BOOST_REQUIRE(alice.connect(f.ws("/ws")));
  BOOST_REQUIRE(bob.connect(f.ws("/ws")));
  hello_and_join(alice, "blue", "alice");
  std::string b = hello_and_join(bob, "blue", "bob");
  expect(alice, "peer-joined");
  BOOST_TEST(http_request("GET", f.http("api/v1/rooms")).body ==
             R"({"rooms":[{"room":"blue","protocol":"ws","peers":2}]})");
  BOOST_TEST(http_request("DELETE", f.http("api/v1/peers/" + b)).status == 204u);
  BOOST_TEST(member(expect(bob, "bye"), "reason") == "removed by an administrator");
  BOOST_REQUIRE(bob.wait_closed());
  BOOST_TEST(bob.close_code == 4010);
  BOOST_TEST(member(expect(alice, "peer-left"), "reason") == "kicked");
}

BOOST_AUTO_TEST_CASE(tokens_guard_every_door) {
  Config config;
  config.token_secret = kSecret;
  ServerFixture f(config);
  int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  std::string good = mint_token(Claims{"alice", "blue", "", Role::kJoin, now + 60}, kSecret);
  std::string forged =
      mint_token(Claims{"alice", "blue", "", Role::kJoin, now + 60}, "wrong-secret-wrong");
  std::string viewer = mint_token(Claims{"vic", "", "", Role::kPlay, now + 60}, kSecret);
  std::string admin = mint_token(Claims{"root", "", "", Role::kAdmin, now + 60}, kSecret);

  WsClient bad_url;
  BOOST_TEST(!bad_url.connect(f.ws("/ws?token=" + forged)));
  BOOST_TEST(bad_url.http_status == 401u);
  WsClient wrong_role;
  BOOST_TEST(!wrong_role.connect(f.ws("/ws?token=" + viewer)));
  BOOST_TEST(wrong_role.http_status == 403u);
  WsClient gst_without;
  BOOST_TEST(!gst_without.connect(f.ws("/ws/gst")));
  BOOST_TEST(gst_without.http_status == 401u);

  // Without a token in the URL, hello must carry one or the socket closes with 4001.
  WsClient no_token;
  BOOST_REQUIRE(no_token.connect(f.ws("/ws")));
  no_token.send(R"({"type":"hello"})");
  BOOST_TEST(member(expect(no_token, "error"), "code") == "unauthorized");
  BOOST_REQUIRE(no_token.wait_closed());
  BOOST_TEST(no_token.close_code == 4001);
  BOOST_TEST(no_token.close_reason == "token required");

  WsClient in_hello;
  BOOST_REQUIRE(in_hello.connect(f.ws("/ws")));
  in_hello.send(R"({"type":"hello","token":")" + good + "\"}");
  expect(in_hello, "welcome");
  in_hello.send(R"({"type":"join","room":"red"})");
  BOOST_TEST(member(expect(in_hello, "error"), "code") == "forbidden");

  WsClient in_url;
  BOOST_REQUIRE(in_url.connect(f.ws("/ws?token=" + good)));
  in_url.send(R"({"type":"hello"})");
  expect(in_url, "welcome");

  WsClient gst_with;
  BOOST_TEST(gst_with.connect(f.ws("/ws/gst?token=" + good)));

  BOOST_TEST(http_request("GET", f.http("api/v1/rooms")).status == 401u);
  BOOST_TEST(http_request("GET", f.http("api/v1/rooms"), good).status == 403u);
  BOOST_TEST(http_request("GET", f.http("api/v1/rooms"), admin).status == 200u);
  BOOST_TEST(http_request("GET", f.http("healthz")).status == 200u);
}

BOOST_AUTO_TEST_CASE(ice_servers_come_with_the_welcome) {
  Config config;
  config.ice_servers.push_back(IceServer{{"stun:127.0.0.1:3478"}, "", ""});
  config.turn_rest.urls = {"turn:127.0.0.1:3478?transport=udp"};
  config.turn_rest.secret = "turn-shared-secret";
  config.turn_rest.ttl_seconds = 300;
  ServerFixture f(config);
  WsClient alice;
  BOOST_REQUIRE(alice.connect(f.ws("/ws")));
  alice.send(R"({"type":"hello"})");
  auto text = alice.next();
  BOOST_REQUIRE(text);
  auto welcome = parse_server_message(*text);
  BOOST_REQUIRE(welcome && std::holds_alternative<Welcome>(*welcome));
  const auto &servers = std::get<Welcome>(*welcome).ice_servers;
  BOOST_REQUIRE_EQUAL(servers.size(), 2u);
  BOOST_TEST(servers[0].urls.at(0) == "stun:127.0.0.1:3478");
  const std::string &username = servers[1].username;
  int64_t expiry = std::stoll(username.substr(0, username.find(':')));
  int64_t now = g_get_real_time() / G_USEC_PER_SEC;
  BOOST_TEST(expiry >= now + 290);
  BOOST_TEST(expiry <= now + 310);
  BOOST_TEST(username.substr(username.find(':') + 1) == std::get<Welcome>(*welcome).peer);
}

BOOST_AUTO_TEST_CASE(gstreamer_examples_protocol_session_and_room) {
  ServerFixture f;
  WsClient caller, callee, third;
  BOOST_REQUIRE(caller.connect(f.ws("/ws/gst")));
  BOOST_REQUIRE(callee.connect(f.ws("/ws/gst")));
  BOOST_REQUIRE(third.connect(f.ws("/ws/gst")));
  callee.send("HELLO 4242");
  BOOST_TEST(callee.next().value_or("") == "HELLO");
  caller.send("HELLO 1111");
  BOOST_TEST(caller.next().value_or("") == "HELLO");
  caller.send("SESSION 9999");
  BOOST_TEST(caller.next().value_or("") == "ERROR peer '9999' not found");
  caller.send("SESSION 4242");
  BOOST_TEST(caller.next().value_or("") == "SESSION_OK");
  std::string offer = R"({"sdp": {"type": "offer", "sdp": "v=0"}})";
  caller.send(offer);
  BOOST_TEST(callee.next().value_or("") == offer);
  callee.send(R"({"ice": {"candidate": "c", "sdpMLineIndex": 0}})");
  BOOST_TEST(caller.next().value_or("") == R"({"ice": {"candidate": "c", "sdpMLineIndex": 0}})");

  third.send("HELLO");
  BOOST_TEST(third.next().value_or("").rfind("HELLO peer-", 0) == 0u);
  third.send("ROOM lobby");
  BOOST_TEST(third.next().value_or("") == "ROOM_OK ");

  // Hanging up ends the session for the other side too.
  caller.close();
  BOOST_REQUIRE(callee.wait_closed());
}

namespace {

// A client frame: FIN + text opcode, masked as RFC 6455 requires of clients.
std::string masked_text_frame(const std::string &payload) {
  std::string frame = "\x81";
  frame += static_cast<char>(0x80 | payload.size());  // payloads here are < 126 bytes
  const char mask[4] = {0x12, 0x34, 0x56, 0x78};
  frame.append(mask, 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    frame += static_cast<char>(payload[i] ^ mask[i % 4]);
  }
  return frame;
}

}  // namespace

// A peer that completes the handshake, joins, then never answers a ping.
BOOST_AUTO_TEST_CASE(dead_peers_time_out_and_the_room_is_told) {
  Config config;
  config.keepalive_interval_seconds = 1;
  config.keepalive_timeout_seconds = 2;
  ServerFixture f(config);
  WsClient alice;
  BOOST_REQUIRE(alice.connect(f.ws("/ws")));
  hello_and_join(alice, "blue", "alice");

  GSocketClient *client = g_socket_client_new();
  GSocketConnection *connection = g_socket_client_connect_to_host(
      client, ("127.0.0.1:" + std::to_string(f.server->port())).c_str(), 0, nullptr, nullptr);
  BOOST_REQUIRE(connection);
  GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(connection));
  std::string request =
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n" +
      masked_text_frame(R"({"type":"hello","name":"ghost"})") +
      masked_text_frame(R"({"type":"join","room":"blue"})");
  // Written from a thread so this one keeps serving the in-process server.
  bool written = false;
  std::thread writer([&] {
    written =
        g_output_stream_write_all(out, request.data(), request.size(), nullptr, nullptr, nullptr);
  });
  expect(alice, "peer-joined");
  writer.join();
  BOOST_REQUIRE(written);
  // From here on the ghost reads nothing and answers no ping.
  auto left = expect(alice, "peer-left");
  BOOST_TEST(member(left, "reason") == "timeout");
  BOOST_TEST(
      http_request("GET", f.http("metrics")).body.find("livepipe_signaling_timeouts_total 1") !=
      std::string::npos);
  g_object_unref(connection);
  g_object_unref(client);
}

// The transport below the protocols, spoken byte by byte: pings are answered,
// fragments reassemble, and a frame that breaks RFC 6455 closes the
// connection with the code that says why (after which the socket is closed).
BOOST_AUTO_TEST_CASE(raw_websocket_frames) {
  ServerFixture f;
  struct Outcome {
    std::string pong;
    std::string welcome;
    std::string close;
    bool eof = false;
  } outcome;
  std::thread client([&] {
    GSocketClient *socket_client = g_socket_client_new();
    g_socket_client_set_timeout(socket_client, 10);
    GSocketConnection *connection = g_socket_client_connect_to_host(
        socket_client, ("127.0.0.1:" + std::to_string(f.server->port())).c_str(), 0, nullptr,
        nullptr);
    if (!connection) {
      g_object_unref(socket_client);
      return;
    }
    GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(connection));
    GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(connection));
    auto send = [&](const std::string &bytes) {
      g_output_stream_write_all(out, bytes.data(), bytes.size(), nullptr, nullptr, nullptr);
    };
    auto read_exact = [&](size_t n) {
      std::string bytes(n, '\0');
      gsize got = 0;
      g_input_stream_read_all(in, bytes.data(), n, &got, nullptr, nullptr);
      bytes.resize(got);
      return bytes;
    };
    // One server frame (payloads here are < 126 bytes): opcode byte + payload.
    auto read_frame = [&]() -> std::string {
      std::string header = read_exact(2);
      if (header.size() < 2) {
        return {};
      }
      return header.substr(0, 1) + read_exact(static_cast<uint8_t>(header[1]) & 0x7F);
    };
    send(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    std::string response;
    while (response.find("\r\n\r\n") == std::string::npos && response.size() < 4096) {
      std::string byte = read_exact(1);
      if (byte.empty()) {
        break;
      }
      response += byte;
    }
    if (response.rfind("HTTP/1.1 101", 0) == 0) {
      const char mask[4] = {0x01, 0x02, 0x03, 0x04};
      auto masked = [&](uint8_t first, const std::string &payload) {
        std::string frame(1, static_cast<char>(first));
        frame += static_cast<char>(0x80 | payload.size());
        frame.append(mask, 4);
        for (size_t i = 0; i < payload.size(); ++i) {
          frame += static_cast<char>(payload[i] ^ mask[i % 4]);
        }
        return frame;
      };
      send(masked(0x89, "are you there"));
      outcome.pong = read_frame();
      // A hello in two fragments with a ping between them.
      send(masked(0x01, R"({"type":"hello",)") + masked(0x89, "x") +
           masked(0x80, R"("name":"raw"})"));
      read_frame();  // the pong of "x"
      outcome.welcome = read_frame();
      send(std::string("\x81\x02hi", 4));  // unmasked
      outcome.close = read_frame();
      outcome.eof = read_exact(1).empty();
    }
    g_object_unref(connection);
    g_object_unref(socket_client);
  });
  iterate_until([&] { return outcome.eof; }, std::chrono::seconds(15));
  client.join();
  BOOST_TEST(outcome.pong ==
             "\x8a"
             "are you there");
  BOOST_TEST(outcome.welcome.rfind("\x81{\"type\":\"welcome\"", 0) == 0u, outcome.welcome);
  BOOST_REQUIRE(outcome.close.size() >= 3u);
  BOOST_TEST(uint8_t(outcome.close[0]) == 0x88u);
  BOOST_TEST(((uint8_t(outcome.close[1]) << 8) | uint8_t(outcome.close[2])) == 1002);
  BOOST_TEST(outcome.eof);
}

BOOST_AUTO_TEST_CASE(tls_serves_https) {
  gchar *dir = g_dir_make_tmp("livepipe-tls-XXXXXX", nullptr);
  std::string cert = std::string(dir) + "/cert.pem", key = std::string(dir) + "/key.pem";
  std::string command =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-keyout " +
      key + " -out " + cert + " 2>/dev/null";
  BOOST_REQUIRE_EQUAL(std::system(command.c_str()), 0);
  {
    Config config;
    config.tls_cert = cert;
    config.tls_key = key;
    ServerFixture f(config);
    BOOST_TEST(f.http().rfind("https://127.0.0.1:", 0) == 0u);
    auto health = http_request("GET", f.http("healthz"), "", true);
    BOOST_TEST(health.status == 200u);
    BOOST_TEST(health.body == R"({"status":"ok"})");
    // Plain HTTP is not answered on a TLS port.
    std::string plain = "http://" + f.http().substr(8) + "healthz";
    BOOST_TEST(http_request("GET", plain).status != 200u);
  }
  Config broken;
  broken.tls_cert = key;  // a key is not a certificate
  broken.tls_key = key;
  Logger log{false, stderr, LogLevel::kWarn};
  Server server(broken, log);
  std::string error;
  BOOST_TEST(!server.start(&error));
  BOOST_TEST(error.rfind("TLS certificate: ", 0) == 0u, error);
  g_remove(cert.c_str());
  g_remove(key.c_str());
  g_rmdir(dir);
  g_free(dir);
}

// --- the `livepipe serve` process ---

namespace {

std::string livepipe_binary() {
  const char *build = g_getenv("LIVEPIPE_BUILD_DIR");
  BOOST_REQUIRE(build);
  return std::string(build) + "/apps/livepipe";
}

struct Process {
  GPid pid = 0;
  int out = -1;
  int err = -1;

  explicit Process(const std::vector<std::string> &args) {
    std::vector<char *> argv;
    for (const auto &a : args) {
      argv.push_back(const_cast<char *>(a.c_str()));
    }
    argv.push_back(nullptr);
    GError *error = nullptr;
    BOOST_REQUIRE_MESSAGE(
        g_spawn_async_with_pipes(nullptr, argv.data(), nullptr, G_SPAWN_DO_NOT_REAP_CHILD, nullptr,
                                 nullptr, &pid, nullptr, &out, &err, &error),
        (error ? error->message : ""));
  }
  ~Process() {
    if (pid) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    close(out);
    close(err);
  }
  // Reads a line from stdout, bounded by time.
  std::string line(int fd, int timeout_ms = 10000) {
    std::string text;
    char c;
    gint64 deadline = g_get_monotonic_time() + timeout_ms * 1000;
    while (g_get_monotonic_time() < deadline) {
      GPollFD poll{fd, G_IO_IN, 0};
      if (g_poll(&poll, 1, 100) <= 0) {
        continue;
      }
      if (read(fd, &c, 1) != 1 || c == '\n') {
        break;
      }
      text += c;
    }
    return text;
  }
  std::string rest(int fd) {
    std::string text;
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0) {
      text.append(buffer, n);
    }
    return text;
  }
  // Waits for exit, iterating the main context meanwhile; -1 on timeout.
  int wait_exit(int timeout_ms = 10000) {
    int status = 0;
    bool exited = iterate_until([&] { return waitpid(pid, &status, WNOHANG) == pid; },
                                std::chrono::milliseconds(timeout_ms));
    if (!exited) {
      return -1;
    }
    pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(serve_shuts_down_gracefully_on_sigterm_and_sigint) {
  for (int signal_number : {SIGTERM, SIGINT}) {
    Process serve({livepipe_binary(), "serve", "--listen", "127.0.0.1:0", "--log-json"});
    std::string first = serve.line(serve.out);
    BOOST_REQUIRE_MESSAGE(first.rfind("livepipe: serving http://127.0.0.1:", 0) == 0, first);
    std::string url = first.substr(first.find("http://"));
    std::string ws = "ws://" + url.substr(7) + "ws";
    WsClient alice, bob;
    BOOST_REQUIRE(alice.connect(ws));
    BOOST_REQUIRE(bob.connect(ws + "/gst"));
    hello_and_join(alice, "blue", "alice");
    bob.send("HELLO bob");
    BOOST_TEST(bob.next().value_or("") == "HELLO");
    kill(serve.pid, signal_number);
    BOOST_TEST(member(expect(alice, "bye"), "reason") == "server shutting down");
    BOOST_REQUIRE(alice.wait_closed());
    BOOST_TEST(alice.close_code == 1001);
    BOOST_REQUIRE(bob.wait_closed());
    BOOST_TEST(bob.close_code == 1001);
    BOOST_TEST(serve.wait_exit() == 0);
    std::string log = serve.rest(serve.err);
    BOOST_TEST(log.find(R"("event":"open-server")") != std::string::npos);
    BOOST_TEST(log.find(R"("event":"stopped")") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(serve_rejects_invalid_config_listing_every_problem) {
  gchar *dir = g_dir_make_tmp("livepipe-config-XXXXXX", nullptr);
  std::string path = std::string(dir) + "/bad.json";
  std::ofstream(path) << R"({"listen": "nowhere", "limits": {"rooms": 0}, "typo": true})";
  Process serve({livepipe_binary(), "serve", "--config", path});
  BOOST_TEST(serve.wait_exit() == 2);
  std::string err = serve.rest(serve.err);
  BOOST_TEST(err.find("$.listen: \"nowhere\" is not IP:PORT") != std::string::npos, err);
  BOOST_TEST(err.find("$.limits.rooms: must be an integer from 1") != std::string::npos);
  BOOST_TEST(err.find("$.typo: unknown setting") != std::string::npos);
  g_remove(path.c_str());
  g_rmdir(dir);
  g_free(dir);
}

BOOST_AUTO_TEST_CASE(token_command_mints_what_the_server_accepts) {
  Process token({livepipe_binary(), "token", "--secret", kSecret, "--sub", "alice", "--room",
                 "blue", "--ttl", "120"});
  std::string jwt = token.line(token.out);
  BOOST_TEST(token.wait_exit() == 0);
  auto verified = verify_token(jwt, kSecret, g_get_real_time() / G_USEC_PER_SEC);
  BOOST_REQUIRE(std::holds_alternative<Claims>(verified));
  BOOST_TEST(std::get<Claims>(verified).room == "blue");
  BOOST_TEST(std::get<Claims>(verified).sub == "alice");
  Process bad({livepipe_binary(), "token", "--secret", kSecret, "--role", "king"});
  BOOST_TEST(bad.wait_exit() == 2);
}
