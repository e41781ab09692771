#include "recording.h"

#include "mp4boxes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace livepipe::replay {

std::string Recording::segment_path(const record::SegmentEntry &segment) const {
  return (std::filesystem::path(directory) / segment.path).string();
}

std::optional<Recording> load_recording(const std::string &path, std::string *error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path file = path;
  if (fs::is_directory(file, ec)) {
    file /= "manifest.json";
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    *error = "cannot read manifest '" + file.string() + "'";
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto manifest = record::manifest_from_json(text.str(), error);
  if (!manifest) {
    *error = file.string() + ": " + *error;
    return std::nullopt;
  }
  Recording recording;
  recording.directory = file.parent_path().string();
  if (recording.directory.empty()) {
    recording.directory = ".";
  }
  recording.manifest = std::move(*manifest);
  for (auto &segment : recording.manifest.segments) {
    if (segment.complete || recording.manifest.format != "mp4") {
      continue;
    }
    int fd = ::open(recording.segment_path(segment).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      continue;  // opened but nothing reached the disk before a crash
    }
    record::FragmentIndex index;
    if (record::index_fragmented_mp4_fd(fd, &index, nullptr)) {
      segment.duration_ns = static_cast<uint64_t>(index.duration_seconds() * 1e9);
      segment.size = index.complete_size;
    }
    ::close(fd);
  }
  // Keep only segments that hold media.
  std::erase_if(recording.manifest.segments,
                [](const record::SegmentEntry &s) { return s.duration_ns == 0; });
  return recording;
}

bool probe_segment(const std::string &path, const std::string &format, SegmentCaps *result,
                   std::string *error) {
  GstPtr<GstElement> pipeline = sink(gst_pipeline_new("clip-probe"));
  GstElement *src = gst_element_factory_make("filesrc", nullptr);
  GstElement *demux =
      gst_element_factory_make(format == "mkv" ? "matroskademux" : "qtdemux", nullptr);
  g_object_set(src, "location", path.c_str(), nullptr);
  gst_bin_add_many(GST_BIN(pipeline.get()), src, demux, nullptr);
  gst_element_link(src, demux);
  struct Probe {
    GstElement *pipeline;
    std::vector<GstPad *> pads;
    std::atomic<bool> all_pads{false};
    std::atomic<int> pad_count{0};
  } probe{pipeline.get(), {}, {}, {}};
  probe.pads.reserve(32);
  g_signal_connect(demux, "no-more-pads", G_CALLBACK(+[](GstElement *, gpointer data) {
                     static_cast<Probe *>(data)->all_pads = true;
                   }),
                   &probe);
  g_signal_connect(demux, "pad-added", G_CALLBACK(+[](GstElement *, GstPad *pad, gpointer data) {
                     auto *p = static_cast<Probe *>(data);
                     if (p->pads.size() < p->pads.capacity()) {  // never reallocates
                       p->pads.push_back(GST_PAD(gst_object_ref(pad)));
                       ++p->pad_count;
                     }
                     GstElement *fake = gst_element_factory_make("fakesink", nullptr);
                     gst_bin_add(GST_BIN(p->pipeline), fake);
                     gst_element_sync_state_with_parent(fake);
                     GstPad *sink_pad = gst_element_get_static_pad(fake, "sink");
                     gst_pad_link(pad, sink_pad);
                     gst_object_unref(sink_pad);
                   }),
                   &probe);
  gst_element_set_state(pipeline.get(), GST_STATE_PAUSED);
  // With no sink yet the pipeline reaches PAUSED at once: wait for the
  // demuxer's pads, then for their sinks to preroll (caps known).
  GstPtr<GstBus> bus(gst_element_get_bus(pipeline.get()));
  GstStateChangeReturn ret = GST_STATE_CHANGE_FAILURE;
  // Until no-more-pads, which qtdemux may never say: then until no new pad
  // has come for 200 ms. Stopping at the first pad lost the second stream
  // whenever the demuxer was slower than this loop (a loaded machine).
  int stable_polls = 0;
  int last_count = 0;
  for (int i = 0; i < 1000 && !probe.all_pads && stable_polls < 20; ++i) {
    MiniPtr<GstMessage> failure(
        gst_bus_timed_pop_filtered(bus.get(), 10 * GST_MSECOND, GST_MESSAGE_ERROR));
    if (failure) {
      break;
    }
    int count = probe.pad_count;
    stable_polls = count > 0 && count == last_count ? stable_polls + 1 : 0;
    last_count = count;
  }
  if (probe.pad_count > 0) {
    // Caps follow the pads at once; fakesinks take the first buffers.
    for (int i = 0; i < 1000; ++i) {
      bool all = true;
      for (int p = 0; p < probe.pad_count; ++p) {
        MiniPtr<GstCaps> current(gst_pad_get_current_caps(probe.pads[p]));
        all = all && current;
      }
      if (all) {
        ret = GST_STATE_CHANGE_SUCCESS;
        break;
      }
      g_usleep(2000);
    }
  }
  std::vector<GstCaps *> caps;
  for (auto *pad : probe.pads) {
    caps.push_back(gst_pad_get_current_caps(pad));
    gst_object_unref(pad);
  }
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    *error = "cannot read '" + path + "'";
    for (auto *c : caps) {
      if (c) {
        gst_caps_unref(c);
      }
    }
    return false;
  }
  for (auto *c : caps) {
    if (!c) {
      continue;
    }
    const char *media = gst_structure_get_name(gst_caps_get_structure(c, 0));
    if (g_str_has_prefix(media, "video/") && !result->video) {
      result->video.reset(gst_caps_ref(c));
    } else if (g_str_has_prefix(media, "audio/") && !result->audio) {
      result->audio.reset(gst_caps_ref(c));
    }
    gst_caps_unref(c);
  }
  if (!result->video && !result->audio) {
    *error = "'" + path + "' holds no audio or video";
    return false;
  }
  return true;
}

std::vector<const record::SegmentEntry *> segments_in_range(const Recording &recording,
                                                            uint64_t start_ns, uint64_t end_ns) {
  std::vector<const record::SegmentEntry *> used;
  for (const auto &s : recording.manifest.segments) {
    if (s.start_ns + s.duration_ns > start_ns && s.start_ns < end_ns) {
      used.push_back(&s);
    }
  }
  return used;
}

bool same_codec(GstCaps *a, GstCaps *b) {
  MiniPtr<GstCaps> x(gst_caps_copy(a));
  MiniPtr<GstCaps> y(gst_caps_copy(b));
  for (GstCaps *caps : {x.get(), y.get()}) {
    for (guint i = 0; i < gst_caps_get_size(caps); ++i) {
      gst_structure_remove_fields(gst_caps_get_structure(caps, i), "framerate", nullptr);
    }
  }
  return gst_caps_is_equal(x.get(), y.get());
}

}  // namespace livepipe::replay
