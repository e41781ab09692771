// WHIP ingest and WHEP playback over HTTP (RFC 9725 and the WHEP draft; the
// details in docs/whip-whep.md), the streams admin API (/api/v1/streams) and
// the media metrics. Installs its handlers on the signaling server's
// SoupServer; runs on the main context.
#pragma once

#include "config.h"
#include "log.h"
#include "rules.h"
#include "media_sessions.h"
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
  std::vector<DescriptionRule> rules;           // chosen by stream name, first match
  std::filesystem::path beauty_description;     // ?beauty=on; empty: refused
  std::filesystem::path moderated_description;  // ?moderation=on; empty: refused
  // The moderation-* params of moderated descriptions, unless a rule sets them.
  std::map<std::string, std::string> moderation_params;
  int64_t idle_timeout_seconds = 10;
  int64_t max_streams = 100;
  int64_t max_viewers_per_stream = 500;
  guint gather_timeout_ms = 1500;
  int64_t retry_after_seconds = 5;
  std::vector<std::string> ice_addresses;  // local addresses ICE gathers on
};

class StreamsAdmin;

class MediaService : public MediaSessions {
 public:
  MediaService(const Config &config, MediaOptions options, Logger &log,
               std::unique_ptr<ViewerTransportFactory> transports = nullptr);
  ~MediaService() override;
  MediaService(const MediaService &) = delete;
  MediaService &operator=(const MediaService &) = delete;

  void install(SoupServer *server);
  // The streams admin API (/api/v1/streams...), for Server::add_admin_route:
  // false for paths that are not its own.
  bool handle_admin(SoupServerMessage *msg, const std::string &method, const std::string &path);
  // Prometheus text for /metrics.
  std::string metrics() const;
  // Ends every stream (server shutdown).
  void end_all(const std::string &reason);

  size_t stream_count() const;
  // The stream called `name` while it is being published, or null.
  Stream *find_stream(const std::string &name) const;

  // Outputs beside the viewers (recorders, RTMP restreams) follow streams
  // through these: `started` once the stream's pipeline runs (its slots
  // exist; media follows when the publisher connects), `ending` just before
  // the stream is destroyed. Both run on the main context.
  struct StreamHooks {
    std::function<void(Stream &stream)> started;
    std::function<void(Stream &stream, const std::string &reason)> ending;
  };
  void add_stream_hooks(StreamHooks hooks);

  // Sessions started over the WebSocket protocol (Server::set_media_sessions):
  // the same streams as WHIP and WHEP.
  void set_events(Events events) override;
  void publish(const std::string &session, const std::string &stream, const std::string &offer,
               const Client &client) override;
  void play(const std::string &session, const std::string &stream, const std::string &offer,
            const Client &client) override;
  void add_candidate(const std::string &session, const std::optional<std::string> &mid,
                     std::optional<int64_t> mline, const std::string &candidate) override;
  void stop(const std::string &session) override;

  // For the streams admin API (admin.cpp).
  std::vector<const Stream *> streams() const;
  // Ends one viewer's session, leaving the others alone; false when unknown.
  bool kick_viewer(const std::string &stream, const std::string &viewer);
  // A stream whose source is inside `description` (an RTMP pull) rather than
  // a WHIP publisher; viewers play it over WHEP like any other. False and
  // `error` when the name is taken or the pipeline does not start.
  bool add_source_stream(const std::string &name, const std::filesystem::path &description,
                         const std::map<std::string, std::string> &params, const OfferPlan &media,
                         std::string *error);
  // Ends a stream and its viewers; false when there is none.
  bool end_stream(const std::string &name, const std::string &reason);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace livepipe::signaling::media
