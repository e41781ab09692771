#include "status.h"

#include "pads.h"

#include <cinttypes>
#include <cstdio>
#include <deque>

namespace livepipe::pipelines {
namespace {

// Caps whose buffers are one video frame each (raw, or encoded after a parser).
bool carries_frames(GstPad *pad) {
  MiniPtr<GstCaps> caps(gst_pad_get_current_caps(pad));
  if (!caps || gst_caps_is_empty(caps.get()) || gst_caps_is_any(caps.get())) {
    return false;
  }
  const GstStructure *s = gst_caps_get_structure(caps.get(), 0);
  static constexpr const char *kFrameTypes[] = {"video/x-raw", "video/x-h264", "video/x-h265",
                                                "video/x-vp8", "video/x-vp9",  "video/x-av1",
                                                "image/jpeg",  "video/mpeg"};
  for (const char *type : kFrameTypes) {
    if (gst_structure_has_name(s, type)) {
      gboolean system_stream = FALSE;
      gst_structure_get_boolean(s, "systemstream", &system_stream);
      return !system_stream;
    }
  }
  return false;
}

uint64_t buffer_bytes(GstPadProbeInfo *info) {
  if (GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info); buffer && GST_IS_BUFFER(buffer)) {
    return gst_buffer_get_size(buffer);
  }
  if (GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info)) {
    return gst_buffer_list_calculate_size(list);
  }
  return 0;
}

uint64_t buffer_count(GstPadProbeInfo *info) {
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    return gst_buffer_list_length(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
  }
  return 1;
}

}  // namespace

std::string format_clock(GstClockTime time) {
  uint64_t tenths = time / (GST_SECOND / 10);
  char text[48];
  std::snprintf(text, sizeof text, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%" PRIu64,
                tenths / 36000, tenths / 600 % 60, tenths / 10 % 60, tenths % 10);
  return text;
}

std::string format_status(const StatusSample &sample) {
  std::string out = sample.position ? format_clock(*sample.position) : "-:--:--.-";
  if (sample.duration) {
    out += " / " + format_clock(*sample.duration);
  }
  char text[64];
  if (sample.fps) {
    std::snprintf(text, sizeof text, "  %.1f fps", *sample.fps);
    out += text;
  }
  if (sample.bits_per_sec) {
    double bits = *sample.bits_per_sec;
    if (bits >= 1e6) {
      std::snprintf(text, sizeof text, "  %.2f Mbit/s", bits / 1e6);
    } else {
      std::snprintf(text, sizeof text, "  %.0f kbit/s", bits / 1e3);
    }
    out += text;
  }
  return out;
}

StatusMeter::StatusMeter(GstElement *pipeline)
    : pipeline_(pipeline),
      counters_(std::make_shared<Counters>()),
      last_time_(g_get_monotonic_time()) {}

StatusMeter::~StatusMeter() {
  for (auto &probe : probes_) {
    gst_pad_remove_probe(probe.pad.get(), probe.id);
  }
}

void StatusMeter::find_pads() {
  auto add_probe = [&](GstPad *pad, bool frames) {
    auto *counters = new std::shared_ptr<Counters>(counters_);
    GstPadProbeCallback callback =
        frames ? [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
      (*static_cast<std::shared_ptr<Counters> *>(data))->frames += buffer_count(info);
      return GST_PAD_PROBE_OK;
    }
    : [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
        (*static_cast<std::shared_ptr<Counters> *>(data))->bytes += buffer_bytes(info);
        return GST_PAD_PROBE_OK;
      };
    gulong id = gst_pad_add_probe(
        pad, GstPadProbeType(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST), callback,
        counters, [](gpointer data) { delete static_cast<std::shared_ptr<Counters> *>(data); });
    probes_.push_back(Probe{ref(pad), id});
  };

  std::deque<GstPtr<GstPad>> queue;  // sink pads, nearest to the sinks first
  for (const auto &element : sink_elements(pipeline_)) {
    for (auto &pad : sink_pads(element.get())) {
      if (byte_pads_.insert(pad.get()).second) {
        add_probe(pad.get(), false);
      }
      queue.push_back(std::move(pad));
    }
  }
  // Walk upstream from the sinks to the first pad that carries video frames.
  std::set<GstPad *> seen;
  while (!have_frame_pad_ && !queue.empty() && seen.size() < 256) {
    GstPtr<GstPad> pad = std::move(queue.front());
    queue.pop_front();
    if (!seen.insert(pad.get()).second) {
      continue;
    }
    if (carries_frames(pad.get())) {
      add_probe(pad.get(), true);
      have_frame_pad_ = true;
      break;
    }
    GstPtr<GstPad> peer(gst_pad_get_peer(pad.get()));
    if (!peer) {
      continue;
    }
    GstPtr<GstElement> upstream(gst_pad_get_parent_element(peer.get()));
    if (upstream) {
      for (auto &next : sink_pads(upstream.get())) {
        queue.push_back(std::move(next));
      }
    }
  }
}

StatusSample StatusMeter::sample() {
  find_pads();
  StatusSample sample;
  gint64 value = 0;
  if (gst_element_query_position(pipeline_, GST_FORMAT_TIME, &value) && value >= 0) {
    sample.position = static_cast<GstClockTime>(value);
  }
  if (gst_element_query_duration(pipeline_, GST_FORMAT_TIME, &value) && value > 0) {
    sample.duration = static_cast<GstClockTime>(value);
  }
  gint64 now = g_get_monotonic_time();
  double seconds = static_cast<double>(now - last_time_) / 1e6;
  uint64_t bytes = counters_->bytes;
  uint64_t frames = counters_->frames;
  if (seconds > 0) {
    if (have_frame_pad_) {
      sample.fps = static_cast<double>(frames - last_frames_) / seconds;
    }
    if (!byte_pads_.empty()) {
      sample.bits_per_sec = static_cast<double>(bytes - last_bytes_) * 8 / seconds;
    }
  }
  last_time_ = now;
  last_bytes_ = bytes;
  last_frames_ = frames;
  return sample;
}

}  // namespace livepipe::pipelines
