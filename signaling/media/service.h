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
#include <functional>
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

  // Outputs that live as long as a stream (RTMP restreams): `started` runs
  // once its pipeline plays, `ending` just before it is destroyed.
  struct StreamHooks {
    std::function<void(Stream &)> started;
    std::function<void(Stream &)> ending;
  };
  void add_stream_hooks(StreamHooks hooks);
  // A stream whose source is inside `description` (an RTMP pull) rather than
  // a WHIP publisher; viewers play it over WHEP like any other. False and
  // `error` when the name is taken or the pipeline does not start.
  bool add_source_stream(const std::string &name, const std::filesystem::path &description,
                         const std::map<std::string, std::string> &params, const OfferPlan &media,
                         std::string *error);
  // Ends a stream and its viewers; false when there is none.
  bool end_stream(const std::string &name, const std::string &reason);
  // The stream called `name` (null when none or ended).
  Stream *find_stream(const std::string &name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace livepipe::signaling::media
