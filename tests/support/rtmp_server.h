// nginx with the RTMP module on a free loopback port, started for a test and
// stopped by PID when it ends; restart() brings it back on the same port.
#pragma once

#include <arpa/inet.h>
#include <glib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace livepipe::testing {

class NginxRtmp {
 public:
  explicit NginxRtmp(const std::filesystem::path &dir) : dir_(dir) {
    std::filesystem::create_directories(dir_ / "logs");
    port_ = free_port();
    std::ofstream(dir_ / "nginx.conf")
        << "daemon off;\nmaster_process off;\npid " << (dir_ / "nginx.pid").string()
        << ";\nerror_log " << (dir_ / "error.log").string()
        << ";\nload_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n"
           "events {}\nrtmp { server { listen 127.0.0.1:"
        << port_ << "; application live { live on; record off; } } }\n";
    start();
  }
  ~NginxRtmp() { stop(); }
  NginxRtmp(const NginxRtmp &) = delete;
  NginxRtmp &operator=(const NginxRtmp &) = delete;

  void start() {
    std::string prefix = dir_.string() + "/";
    std::string conf = (dir_ / "nginx.conf").string();
    std::string errors = (dir_ / "error.log").string();
    const char *argv[] = {"nginx",      "-p", prefix.c_str(), "-c",
                          conf.c_str(), "-e", errors.c_str(), nullptr};
    GError *error = nullptr;
    if (!g_spawn_async(nullptr, const_cast<gchar **>(argv), nullptr,
                       GSpawnFlags(G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD), nullptr,
                       nullptr, &pid_, &error)) {
      std::string why = error ? error->message : "nginx did not start";
      g_clear_error(&error);
      throw std::runtime_error(why);
    }
    for (int i = 0; i < 100 && !accepts(); ++i) {
      g_usleep(50 * 1000);
    }
    if (!accepts()) {
      throw std::runtime_error("nginx does not listen on port " + std::to_string(port_));
    }
  }
  void stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      g_spawn_close_pid(pid_);
      pid_ = 0;
    }
  }
  int port() const { return port_; }
  std::string url(const std::string &stream) const {
    return "rtmp://127.0.0.1:" + std::to_string(port_) + "/live/" + stream;
  }

  static int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    bind(fd, reinterpret_cast<sockaddr *>(&address), sizeof address);
    getsockname(fd, reinterpret_cast<sockaddr *>(&address), &length);
    close(fd);
    return ntohs(address.sin_port);
  }
  bool accepts() const {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port_));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, reinterpret_cast<sockaddr *>(&address), sizeof address) == 0;
    close(fd);
    return ok;
  }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  GPid pid_ = 0;
};

}  // namespace livepipe::testing
