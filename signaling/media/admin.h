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

  // Serves /api/v1/streams; more specific than the server's /api/v1 handler.
  void install(SoupServer *server);

 private:
  struct Sample {
    int64_t mono_us = 0;
    uint64_t bytes_in = 0;
  };
  static void handle(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *query,
                     gpointer data);
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
