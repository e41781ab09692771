// RTMP ingest for `livepipe serve`: a supervised nginx with the RTMP module
// (its own generated config, prefix, pid, logs and port) takes publishers at
// rtmp://HOST:PORT/live/{stream}; its on_publish / on_publish_done callbacks
// call back into livepipe, which checks the key, pulls the stream into a
// livepipe stream (H.264 passes through when it has no B-frames and is
// re-encoded once otherwise; AAC becomes Opus) for WHEP viewers, and ends it
// when the publisher leaves. Runs on the main context.
#pragma once

#include "config.h"
#include "log.h"
#include "service.h"

#include <libsoup/soup.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace livepipe::signaling::rtmp {

struct IngestOptions {
  std::string host = "127.0.0.1";  // where nginx listens for publishers
  int port = 1935;
  std::string http_base;              // livepipe's own URL for the callbacks (http://IP:PORT)
  std::filesystem::path presets_dir;  // the pull descriptions
  std::filesystem::path runtime_dir;  // empty: a fresh directory under /tmp
  std::vector<std::string> keys;      // stream keys accepted besides publish tokens
};

// Reads the key an RTMP publisher gave (`?token=` or `?key=`) and decides;
// "" when accepted, otherwise why not. No I/O: unit-tested.
std::string check_publish_key(const Config &config, const std::vector<std::string> &keys,
                              const std::string &stream, const std::string &token,
                              int64_t now_unix);

// The nginx.conf the supervisor writes (documented in docs/rtmp.md).
std::string nginx_config(const IngestOptions &options, const std::filesystem::path &dir,
                         const std::string &hook_base);

class RtmpIngest {
 public:
  RtmpIngest(const Config &config, media::MediaService &media, Logger &log, IngestOptions options);
  ~RtmpIngest();
  RtmpIngest(const RtmpIngest &) = delete;
  RtmpIngest &operator=(const RtmpIngest &) = delete;

  // Installs the callbacks on `server` and starts nginx.
  bool start(SoupServer *server, std::string *error);
  // Stops nginx (shutdown); streams it fed end by themselves.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace livepipe::signaling::rtmp
