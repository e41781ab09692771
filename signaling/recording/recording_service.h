// Recordings and replay jobs in `livepipe serve` (docs/recording.md): the
// catalog, a recorder per recorded stream, the job runner, and the admin
// endpoints /api/v1/recordings, /api/v1/jobs (clips, VOD, rebroadcasts) and
// /api/v1/streams/{stream}/recording|instant-replay. Runs on the main context.
#pragma once

#include "config.h"
#include "recording_catalog.h"
#include "log.h"
#include "server.h"
#include "service.h"

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace livepipe::signaling::recording {

// The hooks.onRecordDone event for a finished recording (docs/moderation.md,
// "Notifications").
std::string record_done_event(const RecordingRow &row);

class RecordingService {
 public:
  // `presets_dir` holds the descriptions rebroadcast jobs run (rebroadcast-*).
  RecordingService(const RecordingSettings &settings, media::MediaService &media, Logger &log,
                   std::filesystem::path presets_dir = {});
  ~RecordingService();
  RecordingService(const RecordingService &) = delete;
  RecordingService &operator=(const RecordingService &) = delete;

  // Opens the catalog and recovers from an earlier run (recordings left
  // "recording" become "interrupted", running jobs "failed"; queued jobs
  // run). Does nothing when recording is off (no recording.dir).
  bool open(std::string *error);
  // Adds the admin endpoints and follows the media service's streams.
  void install(Server &server);
  // Called on the main context when a recording has finished (or failed),
  // with its catalog row as it stands then.
  void on_recording_done(std::function<void(const RecordingRow &row)> done);
  // Finishes every recording's open segment, then calls `done` (at most
  // after a few seconds).
  void shutdown(std::function<void()> done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace livepipe::signaling::recording
