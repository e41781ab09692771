// WHIP ingest and WHEP playback over HTTP (RFC 9725 and the WHEP draft; the
// details in docs/whip-whep.md), the streams admin API (/api/v1/streams) and
// the media metrics. Installs its handlers on the signaling server's
// SoupServer; runs on the main context.
#pragma once

#include "config.h"
#include "log.h"
#include "stream.h"

#include <libsoup/soup.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

namespace livepipe::signaling::media {

struct MediaOptions {
  std::filesystem::path description;  // the stream description (a preset file)
  std::vector<std::filesystem::path> include_dirs;
  int64_t idle_timeout_seconds = 10;
  int64_t max_streams = 100;
  int64_t max_viewers_per_stream = 500;
  guint gather_timeout_ms = 1500;
  int64_t retry_after_seconds = 5;
  std::vector<std::string> ice_addresses;  // local addresses ICE gathers on
};

class MediaService {
 public:
  MediaService(const Config &config, MediaOptions options, Logger &log,
               std::unique_ptr<ViewerTransportFactory> transports = nullptr);
  ~MediaService();
  MediaService(const MediaService &) = delete;
  MediaService &operator=(const MediaService &) = delete;

  void install(SoupServer *server);
  // Prometheus text for /metrics.
  std::string metrics() const;
  // Ends every stream (server shutdown).
  void end_all(const std::string &reason);

  size_t stream_count() const;
  // The stream called `name` while it is being published, or null.
  Stream *find_stream(const std::string &name) const;

  // Outputs beside the viewers (recorders) follow streams through these:
  // `started` once the publisher's session is set up, `ending` just before
  // the stream is destroyed. Both run on the main context.
  struct StreamHooks {
    std::function<void(Stream &stream)> started;
    std::function<void(Stream &stream, const std::string &reason)> ending;
  };
  void add_stream_hooks(StreamHooks hooks);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace livepipe::signaling::media
