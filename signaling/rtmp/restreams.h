// RTMP restreams for `livepipe serve`: the destinations of each stream, from
// the configuration ("rtmp.destinations") when the stream starts and through
// the admin API at run time:
//   POST   /api/v1/streams/{stream}/rtmp        {"url": "rtmp://..."} -> 201 {"id": ...}
//   GET    /api/v1/streams/{stream}/rtmp        -> 200 {"destinations": [...]}
//   DELETE /api/v1/streams/{stream}/rtmp/{id}   -> 204
// and their state in /metrics. Runs on the main context.
#pragma once

#include "config.h"
#include "egress.h"
#include "log.h"
#include "server.h"
#include "service.h"

#include <libsoup/soup.h>

#include <map>
#include <memory>
#include <string>

namespace livepipe::signaling::rtmp {

class RtmpService {
 public:
  RtmpService(const Config &config, media::MediaService &media, Logger &log);
  ~RtmpService();
  RtmpService(const RtmpService &) = delete;
  RtmpService &operator=(const RtmpService &) = delete;

  // Registers the API and the metrics with `server`.
  void install(Server &server);
  bool handle_admin(SoupServerMessage *msg, const std::string &method, const std::string &path);
  std::string metrics() const;

 private:
  void stream_started(media::Stream &stream);
  void stream_ending(media::Stream &stream);
  RtmpEgress *egress_for(media::Stream &stream, std::string *error);

  const Config &config_;
  media::MediaService &media_;
  Logger &log_;
  EgressOptions options_;
  std::map<std::string, std::unique_ptr<RtmpEgress>> egresses_;
  uint64_t destinations_added_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace livepipe::signaling::rtmp
