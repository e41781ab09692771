// Signaling service benchmark: idle WebSocket connections held (server memory
// per connection) and messages relayed per second through one room, for
// `livepipe serve` and, on the same load in the same run, a Node.js `ws`
// relay of the GStreamer examples protocol (ws_relay_peer.js).
//
//   signaling_bench LIVEPIPE [--connections N] [--messages M] [--peer-dir DIR]
//
// Everything runs on 127.0.0.1. The server under test is a separate process;
// its memory is VmRSS from /proc and its CPU time from /proc/PID/stat.
#include <libsoup/soup.h>

#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <glib/gstdio.h>

#include <memory>
#include <stdexcept>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

bool iterate_until(const std::function<bool()> &done, std::chrono::seconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) {
      return false;
    }
    if (!g_main_context_iteration(nullptr, FALSE)) {
      g_usleep(200);
    }
  }
  return true;
}

int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

struct Process {
  GPid pid = 0;
  int out = -1;

  Process(const std::vector<std::string> &args, const std::string &ready,
          std::chrono::seconds timeout = std::chrono::seconds(15)) {
    spawn(args);
    wait_for(ready, timeout);
  }
  explicit Process(const std::vector<std::string> &args) { spawn(args); }

  void spawn(const std::vector<std::string> &args) {
    name = args[0];
    std::vector<char *> argv;
    for (const auto &a : args) {
      argv.push_back(const_cast<char *>(a.c_str()));
    }
    argv.push_back(nullptr);
    GError *error = nullptr;
    if (!g_spawn_async_with_pipes(nullptr, argv.data(), nullptr,
                                  GSpawnFlags(G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
                                              G_SPAWN_STDERR_TO_DEV_NULL),
                                  nullptr, nullptr, &pid, nullptr, &out, nullptr, &error)) {
      throw std::runtime_error("cannot start " + args[0] + ": " + error->message);
    }
  }

  void wait_for(const std::string &ready, std::chrono::seconds timeout) {
    std::string seen;
    char c;
    auto deadline = Clock::now() + timeout;
    while (seen.find(ready) == std::string::npos && Clock::now() < deadline) {
      GPollFD poll{out, G_IO_IN, 0};
      if (g_poll(&poll, 1, 100) > 0) {
        if (read(out, &c, 1) != 1) {
          break;
        }
        seen += c;
      }
    }
    if (seen.find(ready) == std::string::npos) {
      throw std::runtime_error(name + " did not become ready: " + seen);
    }
  }
  std::string name;
  ~Process() {
    kill(pid, SIGTERM);
    int status = 0;
    for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; ++i) {
      g_main_context_iteration(nullptr, FALSE);
      g_usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    close(out);
  }
  long rss_kb() const {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("VmRSS:", 0) == 0) {
        return std::stol(line.substr(6));
      }
    }
    return 0;
  }
  double cpu_seconds() const {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream fields(text.substr(text.rfind(')') + 2));
    std::string skip;
    for (int i = 0; i < 11; ++i) {
      fields >> skip;
    }
    long utime = 0, stime = 0;
    fields >> utime >> stime;
    return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
  }
};

// The two wire protocols, as the load generator speaks them.
struct Protocol {
  const char *name;
  const char *path;
  std::function<std::string(int index)> hello;
  std::function<bool(const std::string &)> is_welcome;
  std::function<std::string(const std::string &)> peer_id;  // from the welcome; empty: index
  std::string join;
  std::function<bool(const std::string &)> is_joined;
  std::function<std::string(const std::string &to, const std::string &payload)> relay;
  std::function<bool(const std::string &)> is_relayed;
};

Protocol v1_protocol() {
  return Protocol{
      "ws (protocol v1)",
      "/ws",
      [](int) { return std::string(R"({"type":"hello"})"); },
      [](const std::string &t) { return t.find("\"welcome\"") != std::string::npos; },
      [](const std::string &t) {
        size_t at = t.find("\"peer\":\"") + 8;
        return t.substr(at, t.find('"', at) - at);
      },
      R"({"type":"join","room":"bench"})",
      [](const std::string &t) { return t.find("\"joined\"") != std::string::npos; },
      [](const std::string &to, const std::string &payload) {
        return R"({"type":"offer","to":")" + to + R"(","sdp":")" + payload + "\"}";
      },
      [](const std::string &t) { return t.rfind("{\"type\":\"offer\"", 0) == 0; },
  };
}

Protocol gst_protocol() {
  return Protocol{
      "GStreamer examples protocol",
      "/ws/gst",
      [](int index) { return "HELLO u" + std::to_string(index); },
      [](const std::string &t) { return t == "HELLO"; },
      nullptr,
      "ROOM bench",
      [](const std::string &t) { return t.rfind("ROOM_OK", 0) == 0; },
      [](const std::string &to, const std::string &payload) {
        return "ROOM_PEER_MSG " + to + " " + payload;
      },
      [](const std::string &t) { return t.rfind("ROOM_PEER_MSG", 0) == 0; },
  };
}

struct Conn {
  SoupWebsocketConnection *ws = nullptr;
  std::string id;
  int stage = 0;  // 0 connecting, 1 hello sent, 2 welcomed, 3 joined
  long relayed = 0;
  const Protocol *protocol = nullptr;
};

class Load {
 public:
  Load() {
    session_ = soup_session_new_with_options("max-conns", 100000, "max-conns-per-host", 100000,
                                             "timeout", 600, nullptr);
    // Both servers are measured without permessage-deflate (ws_relay_peer.js
    // turns it off; livepipe does not offer it), so neither side compresses.
    soup_session_remove_feature_by_type(session_, SOUP_TYPE_WEBSOCKET_EXTENSION_MANAGER);
  }
  ~Load() {
    close_all();
    g_object_unref(session_);
  }

  // Opens `count` connections and says hello on each; true when all are welcomed.
  bool open(const std::string &url, const Protocol &protocol, int count, int first_index) {
    for (int i = 0; i < count; ++i) {
      auto conn = std::make_unique<Conn>();
      conn->protocol = &protocol;
      conn->id = "u" + std::to_string(first_index + i);
      Conn *raw = conn.get();
      conns_.push_back(std::move(conn));
      SoupMessage *msg = soup_message_new("GET", url.c_str());
      auto *context = new std::pair<Load *, Conn *>(this, raw);
      soup_session_websocket_connect_async(
          session_, msg, nullptr, nullptr, G_PRIORITY_DEFAULT, nullptr,
          [](GObject *source, GAsyncResult *result, gpointer data) {
            auto [self, conn] = *static_cast<std::pair<Load *, Conn *> *>(data);
            delete static_cast<std::pair<Load *, Conn *> *>(data);
            conn->ws = soup_session_websocket_connect_finish(SOUP_SESSION(source), result, nullptr);
            if (!conn->ws) {
              ++self->failed_;
              return;
            }
            soup_websocket_connection_set_keepalive_interval(conn->ws, 0);
            g_signal_connect(conn->ws, "message", G_CALLBACK(on_message), conn);
            conn->stage = 1;
            int index = std::stoi(conn->id.substr(1));
            soup_websocket_connection_send_text(conn->ws, conn->protocol->hello(index).c_str());
          },
          context);
      g_object_unref(msg);
      // Keep the handshakes flowing rather than queueing thousands at once.
      if (i % 200 == 199) {
        iterate_until([&] { return welcomed() + failed_ >= i + 1 - 100; },
                      std::chrono::seconds(60));
      }
    }
    return iterate_until([&] { return welcomed() + failed_ >= int(conns_.size()); },
                         std::chrono::seconds(600)) &&
           failed_ == 0;
  }

  int welcomed() const { return welcomed_; }
  std::vector<std::unique_ptr<Conn>> &conns() { return conns_; }

  bool join_all() {
    for (auto &conn : conns_) {
      soup_websocket_connection_send_text(conn->ws, conn->protocol->join.c_str());
    }
    return iterate_until([&] { return joined_ == int(conns_.size()); }, std::chrono::seconds(30));
  }

  long relayed() const {
    long total = 0;
    for (const auto &conn : conns_) {
      total += conn->relayed;
    }
    return total;
  }

  void close_all() {
    for (auto &conn : conns_) {
      if (conn->ws) {
        g_signal_handlers_disconnect_by_data(conn->ws, conn.get());
        if (soup_websocket_connection_get_state(conn->ws) == SOUP_WEBSOCKET_STATE_OPEN) {
          soup_websocket_connection_close(conn->ws, 1000, nullptr);
        }
        g_object_unref(conn->ws);
        conn->ws = nullptr;
      }
    }
    iterate_until([] { return false; }, std::chrono::seconds(1));
    conns_.clear();
    welcomed_ = joined_ = failed_ = 0;
  }

 private:
  static void on_message(SoupWebsocketConnection *, gint, GBytes *message, gpointer data) {
    auto *conn = static_cast<Conn *>(data);
    gsize size = 0;
    const char *bytes = static_cast<const char *>(g_bytes_get_data(message, &size));
    std::string text(bytes, size);
    Load *self = current_;
    if (conn->stage == 1 && conn->protocol->is_welcome(text)) {
      conn->stage = 2;
      if (conn->protocol->peer_id) {
        conn->id = conn->protocol->peer_id(text);
      }
      ++self->welcomed_;
    } else if (conn->stage == 2 && conn->protocol->is_joined(text)) {
      conn->stage = 3;
      ++self->joined_;
    } else if (conn->protocol->is_relayed(text)) {
      ++conn->relayed;
    }
  }

 public:
  static inline Load *current_ = nullptr;

 private:
  SoupSession *session_;
  std::vector<std::unique_ptr<Conn>> conns_;
  int welcomed_ = 0;
  int joined_ = 0;
  int failed_ = 0;
};

// Holds `count` idle connections: plain sockets on one epoll descriptor, each
// doing the upgrade, a hello and waiting for the welcome, at most 200
// handshakes in flight; prints "ready" when all are welcomed and then keeps
// answering pings. A GLib client would spend its time polling its own
// sockets; this one costs the same per connection whatever their number, so
// the time to open them measures the server. Returns (the number welcomed)
// only when a connection fails or after an hour.
int hold_idle(const std::string &url, const Protocol &protocol, int count, int first_index) {
  // url: ws://127.0.0.1:PORT/PATH
  std::string rest = url.substr(std::strlen("ws://"));
  std::string host = rest.substr(0, rest.find(':'));
  int port = std::atoi(rest.substr(rest.find(':') + 1).c_str());
  std::string path = rest.substr(rest.find('/'));
  struct Idle {
    int fd = -1;
    int stage = 0;  // 0 connecting, 1 awaiting 101, 2 awaiting welcome, 3 done
    std::string in;
    std::string hello;
  };
  std::vector<Idle> conns(count);
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  int started = 0, welcomed = 0, failed = 0;
  auto send_all = [](int fd, const std::string &bytes) {
    return send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == ssize_t(bytes.size());
  };
  auto masked_text = [](const std::string &payload) {
    std::string frame = "\x81";
    if (payload.size() < 126) {
      frame += static_cast<char>(0x80 | payload.size());
    } else {
      frame += static_cast<char>(0x80 | 126);
      frame += static_cast<char>(payload.size() >> 8);
      frame += static_cast<char>(payload.size() & 0xFF);
    }
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    frame.append(mask, 4);
    for (size_t i = 0; i < payload.size(); ++i) {
      frame += static_cast<char>(payload[i] ^ mask[i % 4]);
    }
    return frame;
  };
  auto start_one = [&](int i) {
    Idle &c = conns[i];
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &address.sin_addr);
    connect(c.fd, reinterpret_cast<sockaddr *>(&address), sizeof address);
    c.hello = protocol.hello(first_index + i);
    epoll_event event{};
    event.events = EPOLLOUT | EPOLLIN;
    event.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, c.fd, &event);
  };
  auto fail = [&](Idle &c) {
    ++failed;
    epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    c.fd = -1;
  };
  // Until all are welcomed (or any fails), then on holding them until the
  // parent ends this process.
  auto deadline = Clock::now() + std::chrono::seconds(3600);
  while (failed == 0 && Clock::now() < deadline) {
    while (started < count && started - welcomed - failed < 200) {
      start_one(started++);
    }
    std::array<epoll_event, 256> events;
    int n = epoll_wait(epoll_fd, events.data(), int(events.size()), 100);
    for (int k = 0; k < n; ++k) {
      Idle &c = conns[events[k].data.u32];
      if (c.fd < 0) {
        continue;
      }
      if (events[k].events & (EPOLLERR | EPOLLHUP)) {
        fail(c);
        continue;
      }
      if (c.stage == 0 && (events[k].events & EPOLLOUT)) {
        std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host +
                              "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
        if (!send_all(c.fd, request)) {
          fail(c);
          continue;
        }
        c.stage = 1;
        epoll_event event{};
        event.events = EPOLLIN;
        event.data.u32 = events[k].data.u32;
        epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &event);
        continue;
      }
      char buffer[4096];
      ssize_t got = recv(c.fd, buffer, sizeof buffer, 0);
      if (got <= 0) {
        if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
          fail(c);
        }
        continue;
      }
      c.in.append(buffer, size_t(got));
      if (c.stage == 1) {
        size_t end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) {
          continue;
        }
        if (c.in.rfind("HTTP/1.1 101", 0) != 0) {
          fail(c);
          continue;
        }
        c.in.erase(0, end + 4);
        c.stage = 2;
        if (!send_all(c.fd, masked_text(c.hello))) {
          fail(c);
          continue;
        }
      }
      // Server frames are unmasked: the welcome is the first text frame, and
      // pings are answered like any live client would.
      while (c.stage >= 2 && c.in.size() >= 2) {
        size_t length = uint8_t(c.in[1]) & 0x7F, header = 2;
        if (length == 126) {
          if (c.in.size() < 4) {
            break;
          }
          length = (size_t(uint8_t(c.in[2])) << 8) | uint8_t(c.in[3]);
          header = 4;
        }
        if (c.in.size() < header + length) {
          break;
        }
        const uint8_t opcode = uint8_t(c.in[0]) & 0x0F;
        std::string payload = c.in.substr(header, length);
        c.in.erase(0, header + length);
        if (opcode == 0x9) {
          std::string pong = masked_text(payload);
          pong[0] = static_cast<char>(0x8A);
          send_all(c.fd, pong);
        } else if (c.stage == 2 && opcode == 0x1 && protocol.is_welcome(payload)) {
          c.stage = 3;
          ++welcomed;
          if (welcomed + failed == count && failed == 0) {
            std::printf("ready\n");
            std::fflush(stdout);
          }
        }
      }
      if (c.in.empty()) {
        c.in.shrink_to_fit();
      }
    }
  }
  return welcomed;
}

struct Result {
  double kb_per_connection = 0;
  long rss_mb = 0;
  double messages_per_second = 0;
  double server_cpu = 0;       // cores used while relaying
  double connect_seconds = 0;  // to open all idle connections
};

std::string self_path;

Result run(Process &server, const std::string &base, const Protocol &protocol, int connections,
           long messages) {
  Result result;
  Load load;
  Load::current_ = &load;
  iterate_until([] { return false; }, std::chrono::seconds(1));
  long before = server.rss_kb();
  {
    // Idle connections come from a few client processes (hold_idle).
    constexpr int kClients = 4;
    std::vector<std::unique_ptr<Process>> clients;
    for (int c = 0; c < kClients; ++c) {
      int count = connections / kClients + (c < connections % kClients ? 1 : 0);
      clients.push_back(std::make_unique<Process>(
          std::vector<std::string>{self_path, "--client", base + protocol.path,
                                   protocol.path == std::string("/ws") ? "v1" : "gst",
                                   std::to_string(count), std::to_string(c * 1000000)}));
    }
    auto start = Clock::now();
    for (auto &client : clients) {
      client->wait_for("ready", std::chrono::seconds(1800));
    }
    result.connect_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    iterate_until([] { return false; }, std::chrono::seconds(2));
    long after = server.rss_kb();
    result.rss_mb = after / 1024;
    result.kb_per_connection = double(after - before) / connections;
  }
  // Relay: 4 senders, each to its own receiver, all in one room.
  constexpr int kPairs = 4;
  if (!load.open(base + protocol.path, protocol, 2 * kPairs, 100000) || !load.join_all()) {
    throw std::runtime_error(std::string(protocol.name) + ": relay set-up failed");
  }
  std::string payload(200, 'a');
  auto &conns = load.conns();
  double cpu_before = server.cpu_seconds();
  auto start = Clock::now();
  long per_sender = messages / kPairs;
  // Sent in slices so neither side buffers the whole run.
  constexpr long kSlice = 500;
  for (long sent = 0; sent < per_sender; sent += kSlice) {
    for (int p = 0; p < kPairs; ++p) {
      std::string text = protocol.relay(conns[kPairs + p]->id, payload);
      for (long k = 0; k < kSlice && sent + k < per_sender; ++k) {
        soup_websocket_connection_send_text(conns[p]->ws, text.c_str());
      }
    }
    long target = (sent + kSlice) * kPairs - 20 * kSlice * kPairs;
    iterate_until([&] { return load.relayed() >= target; }, std::chrono::seconds(60));
  }
  bool all = iterate_until([&] { return load.relayed() >= per_sender * kPairs; },
                           std::chrono::seconds(120));
  double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  result.server_cpu = (server.cpu_seconds() - cpu_before) / seconds;
  if (!all) {
    std::fprintf(stderr, "%s: only %ld of %ld messages arrived\n", protocol.name, load.relayed(),
                 per_sender * kPairs);
    std::exit(1);
  }
  result.messages_per_second = double(per_sender * kPairs) / seconds;
  return result;
}

void print(const char *server, const char *protocol, int connections, const Result &r) {
  std::printf(
      "%-22s %-29s %6d conns (opened in %.0f s): %5.1f KB/conn, RSS %4ld MB | relay %7.0f "
      "msg/s using %.2f server cores = %7.0f msg/s per core\n",
      server, protocol, connections, r.connect_seconds, r.kb_per_connection, r.rss_mb,
      r.messages_per_second, r.server_cpu, r.messages_per_second / std::max(r.server_cpu, 0.01));
  std::fflush(stdout);
}

}  // namespace

int bench(const std::string &livepipe, int connections, long messages, const std::string &peer_dir);

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: signaling_bench LIVEPIPE [--connections N] [--messages M] "
                 "[--peer-dir DIR]\n");
    return 2;
  }
  self_path = argv[0];
  if (!std::strcmp(argv[1], "--client") && argc == 6) {
    // Client mode: hold N idle connections until terminated.
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    Protocol protocol = std::strcmp(argv[3], "v1") == 0 ? v1_protocol() : gst_protocol();
    int count = std::atoi(argv[4]);
    int welcomed = hold_idle(argv[2], protocol, count, std::atoi(argv[5]));
    std::printf("failed: %d of %d welcomed\n", welcomed, count);
    return 1;
  }
  std::string livepipe = argv[1];
  int connections = 10000;
  long messages = 200000;
  std::string peer_dir = BENCH_SOURCE_DIR;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--connections")) {
      connections = std::atoi(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--messages")) {
      messages = std::atol(argv[i + 1]);
    } else if (!std::strcmp(argv[i], "--peer-dir")) {
      peer_dir = argv[i + 1];
    }
  }
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < rlim_t(connections + 100)) {
    std::fprintf(stderr, "file descriptor limit %ld is too low for %d connections\n",
                 long(limit.rlim_cur), connections);
    return 1;
  }

  try {
    return bench(livepipe, connections, messages, peer_dir);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "signaling_bench: %s\n", e.what());
    return 1;
  }
}

int bench(const std::string &livepipe, int connections, long messages,
          const std::string &peer_dir) {
  gchar *dir = g_dir_make_tmp("livepipe-bench-XXXXXX", nullptr);
  std::string config = std::string(dir) + "/serve.json";
  std::ofstream(config) << R"({"limits": {"connections": 100000, "messagesPerSecond": 1000000,
    "peersPerRoom": 1000, "rooms": 100000}})";

  Protocol v1 = v1_protocol(), gst = gst_protocol();
  Result ours_v1, ours_gst, peer_gst;
  // A fresh server for each protocol, so memory is measured from a clean start.
  for (auto [protocol, result] : {std::pair{&v1, &ours_v1}, std::pair{&gst, &ours_gst}}) {
    int port = free_port();
    Process serve(
        {livepipe, "serve", "--config", config, "--listen", "127.0.0.1:" + std::to_string(port)},
        "livepipe: serving");
    *result =
        run(serve, "ws://127.0.0.1:" + std::to_string(port), *protocol, connections, messages);
    print("livepipe serve", protocol->name, connections, *result);
  }
  std::string peer_script = peer_dir + "/ws_relay_peer.js";
  if (!g_file_test((peer_dir + "/node_modules/ws").c_str(), G_FILE_TEST_IS_DIR)) {
    std::printf("peer skipped: %s/node_modules/ws is missing (npm ci in bench/signaling)\n",
                peer_dir.c_str());
  } else {
    int port = free_port();
    Process node({"node", peer_script, std::to_string(port)}, "listening");
    peer_gst = run(node, "ws://127.0.0.1:" + std::to_string(port) + "", gst, connections, messages);
    print("node ws relay (peer)", gst.name, connections, peer_gst);
    std::printf(
        "ratio livepipe/peer: memory per connection %.2fx (lower is better), relay "
        "per server core %.2fx (higher is better)\n",
        ours_gst.kb_per_connection / peer_gst.kb_per_connection,
        (ours_gst.messages_per_second / std::max(ours_gst.server_cpu, 0.01)) /
            (peer_gst.messages_per_second / std::max(peer_gst.server_cpu, 0.01)));
  }
  g_remove(config.c_str());
  g_rmdir(dir);
  g_free(dir);
  return 0;
}
