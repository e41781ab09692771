// The streams admin API under /api/v1/streams (docs/whip-whep.md): list the
// streams, one stream with its viewers, end a stream, kick a viewer. Admin
// token required, as for every /api/v1 endpoint.
#pragma once

#include "config.h"
#include "util/maincontext.h"

#include <libsoup/soup.h>

#include <cstdint>
#include <deque>
#include <map>
#include <string>

namespace livepipe::signaling::media {

class MediaService;
class Stream;

class StreamsAdmin {
 public:
  StreamsAdmin(MediaService &service, const Config &config);
  StreamsAdmin(const StreamsAdmin &) = delete;
  StreamsAdmin &operator=(const StreamsAdmin &) = delete;

  // Serves /api/v1/streams, /api/v1/streams/{stream} and
  // /api/v1/streams/{stream}/viewers/{id} behind the server's admin token
  // check (Server::add_admin_route); false for any other path.
  bool handle(SoupServerMessage *msg, const std::string &method, const std::string &path);

 private:
  struct Sample {
    int64_t mono_us = 0;
    uint64_t bytes_in = 0;
  };
  void handle(SoupServerMessage *msg, const std::string &method, const std::string &name,
              const std::string &tail);
  void sample();
  // Bits per second received over the last few seconds.
  int64_t bitrate_in(const Stream &stream) const;

  MediaService &service_;
  const Config &config_;
  // Per stream (name and start time, so a new stream under an old name starts
  // afresh): the bytes received, sampled once a second.
  std::map<std::pair<std::string, int64_t>, std::deque<Sample>> samples_;
  SourceGuard sampler_;
};

}  // namespace livepipe::signaling::media
