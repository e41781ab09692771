// What `livepipe launch` reports while a pipeline runs: position, duration
// when known, frames per second and bitrate.
#pragma once

#include "util/gstptr.h"

#include <gst/gst.h>

#include <atomic>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace livepipe::pipelines {

struct StatusSample {
  std::optional<GstClockTime> position;
  std::optional<GstClockTime> duration;
  std::optional<double> fps;           // video frames per second
  std::optional<double> bits_per_sec;  // bytes reaching the sinks, as bits per second
};

// "0:00:03.2 / 0:00:10.0  29.9 fps  2.13 Mbit/s" (parts that are unknown are left out).
std::string format_status(const StatusSample &sample);
// "1:02:03.4"
std::string format_clock(GstClockTime time);

// Counts bytes reaching the pipeline's sinks and video frames on the pad
// nearest to a sink that carries video frames (raw or encoded), through
// buffer probes. Pads are found again at each sample, so pads linked late
// (dynamic pads) are counted once their caps are known.
class StatusMeter {
 public:
  explicit StatusMeter(GstElement *pipeline);
  ~StatusMeter();
  StatusMeter(const StatusMeter &) = delete;
  StatusMeter &operator=(const StatusMeter &) = delete;

  // Rates over the time since the previous sample.
  StatusSample sample();

 private:
  struct Counters {
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> frames{0};
  };
  struct Probe {
    GstPtr<GstPad> pad;
    gulong id;
  };
  void find_pads();

  GstElement *pipeline_;
  std::shared_ptr<Counters> counters_;
  std::vector<Probe> probes_;
  std::set<GstPad *> byte_pads_;
  bool have_frame_pad_ = false;
  gint64 last_time_ = 0;
  uint64_t last_bytes_ = 0;
  uint64_t last_frames_ = 0;
};

}  // namespace livepipe::pipelines
