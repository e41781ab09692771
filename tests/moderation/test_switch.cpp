// lpmoderationswitch and lpmoderationtap in live pipelines: a publisher's
// H.264 (or VP8, or Opus) passes untouched while lpmoderator allows it, with
// only key frames decoded for snapshots and no encoder; forced verdicts blur
// and black out the decoded output, or mute the audio, through one encoder;
// allow again brings back the publisher's own frames and removes the
// encoder; every switch happens on a key frame.
#define BOOST_TEST_MODULE lpmoderationswitch
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"

#include <gst/app/app.h>
#include <gst/video/video.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

BOOST_TEST_GLOBAL_FIXTURE(GstGlobalFixture);

namespace {

size_t buffer_hash(GstBuffer *buffer) {
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    return 0;
  }
  size_t hash = std::hash<std::string_view>()(
      std::string_view(reinterpret_cast<const char *>(map.data), map.size));
  gst_buffer_unmap(buffer, &map);
  return hash;
}

// Waits (bounded) until `done` holds; the pipeline runs on its own threads.
bool wait_until(const std::function<bool()> &done, int timeout_ms = 5000) {
  for (int waited = 0; waited < timeout_ms; waited += 20) {
    if (done()) {
      return true;
    }
    g_usleep(20 * 1000);
  }
  return done();
}

enum class Look { Clean, Pixelated, Black, Other };

const char *look_name(Look look) {
  switch (look) {
    case Look::Clean:
      return "clean";
    case Look::Pixelated:
      return "pixelated";
    case Look::Black:
      return "black";
    case Look::Other:
      return "other";
  }
  return "";
}

// An 8-pixel checkerboard: clean frames change luma every few pixels (a
// mean step of about 8 at 320x240); pixelated ones (tiles of 15 pixels, each
// its mean) almost never.
Look look_of(GstSample *sample) {
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, gst_sample_get_caps(sample))) {
    return Look::Other;
  }
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &info, gst_sample_get_buffer(sample), GST_MAP_READ)) {
    return Look::Other;
  }
  const auto *luma = static_cast<const uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(&frame, 0));
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE(&frame, 0);
  const int width = GST_VIDEO_FRAME_WIDTH(&frame);
  const int height = GST_VIDEO_FRAME_HEIGHT(&frame);
  double sum = 0, steps = 0;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      sum += luma[y * stride + x];
      if (x > 0) {
        steps += std::abs(luma[y * stride + x] - luma[y * stride + x - 1]);
      }
    }
  }
  gst_video_frame_unmap(&frame);
  const double mean = sum / (width * height);
  const double step = steps / ((width - 1) * height);
  if (g_getenv("LIVEPIPE_TEST_LOOKS")) {
    g_printerr("look: mean %.1f step %.2f\n", mean, step);
  }
  if (mean < 40) {
    return Look::Black;
  }
  return step > 4 ? Look::Clean : step < 1.5 ? Look::Pixelated : Look::Other;
}

// What left the switch: per buffer, whether it was one of the publisher's
// (by content), a key frame, and the first after new caps.
struct Out {
  bool from_publisher = false;
  bool keyframe = false;
  bool new_caps = false;
};

class Rig {
 public:
  explicit Rig(const std::string &description) {
    GError *error = nullptr;
    pipeline_ = gst_parse_launch(description.c_str(), &error);
    BOOST_REQUIRE_MESSAGE(pipeline_ && !error, (error ? error->message : "no pipeline"));
    gst_object_ref_sink(pipeline_);
  }
  ~Rig() {
    gst_element_set_state(pipeline_, GST_STATE_NULL);
    gst_object_unref(pipeline_);
  }
  GstElement *get(const char *name) {
    GstElement *element = gst_bin_get_by_name(GST_BIN(pipeline_), name);
    BOOST_REQUIRE_MESSAGE(element, name);
    gst_object_unref(element);  // the pipeline keeps it
    return element;
  }
  void play() {
    BOOST_REQUIRE(gst_element_set_state(pipeline_, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
  }
  // The first error on the bus, or "".
  std::string error() {
    GstBus *bus = gst_element_get_bus(pipeline_);
    GstMessage *message = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
    gst_object_unref(bus);
    if (!message) {
      return "";
    }
    GError *gerror = nullptr;
    gchar *debug = nullptr;
    gst_message_parse_error(message, &gerror, &debug);
    std::string text = std::string(gerror->message) + " (" + (debug ? debug : "") + ")";
    g_clear_error(&gerror);
    g_free(debug);
    gst_message_unref(message);
    return text;
  }
  bool force(const char *verdict) {
    gboolean accepted = FALSE;
    g_signal_emit_by_name(get("mod"), "submit-verdict", guint64{0},
                          (std::string("{\"verdict\":\"") + verdict + "\"}").c_str(), &accepted);
    return accepted;
  }
  bool release() {
    gboolean released = FALSE;
    g_signal_emit_by_name(get("mod"), "release-forced", &released);
    return released;
  }
  std::string output(const char *name = "switch") {
    gchar *value = nullptr;
    g_object_get(get(name), "output", &value, nullptr);
    std::string out = value ? value : "";
    g_free(value);
    return out;
  }
  guint64 counter(const char *name, const char *property) {
    guint64 value = 0;
    g_object_get(get(name), property, &value, nullptr);
    return value;
  }
  // Encoders inside the switch.
  int encoders(const char *name = "switch") {
    GstBin *bin = GST_BIN(get(name));
    GST_OBJECT_LOCK(bin);
    int children = bin->numchildren;
    GST_OBJECT_UNLOCK(bin);
    return children;
  }

 private:
  GstElement *pipeline_ = nullptr;
};

// Records the publisher's frames (by content) before the switch and what
// leaves it, and classifies the decoded output.
struct Recorder {
  std::mutex mutex;
  std::set<size_t> published;
  std::vector<Out> out;
  std::vector<Look> looks;
  bool caps_changed = false;
  std::atomic<int> snapshots{0};

  void attach(Rig &rig, bool video) {
    GstPad *in = gst_element_get_static_pad(rig.get("in"), "src");
    gst_pad_add_probe(
        in, GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
          auto *self = static_cast<Recorder *>(data);
          size_t hash = buffer_hash(GST_PAD_PROBE_INFO_BUFFER(info));
          std::lock_guard lock(self->mutex);
          self->published.insert(hash);
          return GST_PAD_PROBE_OK;
        },
        this, nullptr);
    gst_object_unref(in);
    GstPad *switched = gst_element_get_static_pad(rig.get("switch"), "src");
    gst_pad_add_probe(
        switched,
        static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_BUFFER |
                                     GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
        [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
          auto *self = static_cast<Recorder *>(data);
          std::lock_guard lock(self->mutex);
          if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
            if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_CAPS) {
              self->caps_changed = true;
            }
            return GST_PAD_PROBE_OK;
          }
          GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
          Out out;
          out.from_publisher = self->published.count(buffer_hash(buffer)) > 0;
          out.keyframe = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
          out.new_caps = std::exchange(self->caps_changed, false);
          self->out.push_back(out);
          return GST_PAD_PROBE_OK;
        },
        this, nullptr);
    gst_object_unref(switched);
    if (video) {
      GstAppSinkCallbacks callbacks{};
      callbacks.new_sample = [](GstAppSink *sink, gpointer data) -> GstFlowReturn {
        auto *self = static_cast<Recorder *>(data);
        GstSample *sample = gst_app_sink_pull_sample(sink);
        if (sample) {
          Look look = look_of(sample);
          gst_sample_unref(sample);
          std::lock_guard lock(self->mutex);
          self->looks.push_back(look);
        }
        return GST_FLOW_OK;
      };
      gst_app_sink_set_callbacks(GST_APP_SINK(rig.get("decoded")), &callbacks, this, nullptr);
    }
    // The hook: every snapshot answered allow (a forced verdict holds).
    g_signal_connect(
        rig.get("mod"), "snapshot",
        G_CALLBACK(+[](GstElement *mod, GBytes *, guint64 sequence, GstStructure *, gpointer data) {
          static_cast<Recorder *>(data)->snapshots++;
          gboolean accepted;
          g_signal_emit_by_name(mod, "submit-verdict", sequence, "{\"verdict\":\"allow\"}",
                                &accepted);
        }),
        this);
  }
  size_t out_count() {
    std::lock_guard lock(mutex);
    return out.size();
  }
  size_t look_count() {
    std::lock_guard lock(mutex);
    return looks.size();
  }
  // The last `n` decoded frames all look like `look`.
  bool last_look(Look look, size_t n = 5) {
    std::lock_guard lock(mutex);
    if (looks.size() < n) {
      return false;
    }
    for (size_t i = looks.size() - n; i < looks.size(); ++i) {
      if (looks[i] != look) {
        return false;
      }
    }
    return true;
  }
  std::string recent_looks() {
    std::lock_guard lock(mutex);
    std::string text;
    for (size_t i = looks.size() > 10 ? looks.size() - 10 : 0; i < looks.size(); ++i) {
      text += std::string(look_name(looks[i])) + " ";
    }
    return text;
  }
  // Every buffer out since `from` came from the publisher (or none did).
  bool out_from_publisher(size_t from, bool expected) {
    std::lock_guard lock(mutex);
    for (size_t i = from; i < out.size(); ++i) {
      if (out[i].from_publisher != expected) {
        return false;
      }
    }
    return from < out.size();
  }
  // Each change of source (publisher <-> encoder) begins with a key frame.
  int switches_on_delta_frames() {
    std::lock_guard lock(mutex);
    int bad = 0;
    for (size_t i = 1; i < out.size(); ++i) {
      if (out[i].from_publisher != out[i - 1].from_publisher && !out[i].keyframe) {
        ++bad;
      }
    }
    return bad;
  }
};

const char *kTap =
    "lpmoderationtap switch=switch ! h264parse ! avdec_h264 thread-type=slice ! videoconvert "
    "! video/x-raw,format=I420 ! lpmoderator name=mod interval=300 forced-holds=true "
    "! switch.raw_sink ";

std::string h264_rig() {
  return std::string(
             "videotestsrc is-live=true pattern=checkers-8 horizontal-speed=1 "
             "! video/x-raw,format=I420,width=320,height=240,framerate=30/1 "
             "! x264enc tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max=600 "
             "! video/x-h264,stream-format=avc,alignment=au,profile=constrained-baseline "
             "! identity name=in ! lpmoderationswitch name=switch moderator=mod ! tee name=t "
             "t. ! queue ! fakesink sync=false async=false "
             "t. ! queue ! h264parse ! avdec_h264 ! videoconvert ! video/x-raw,format=I420 "
             "! appsink name=decoded sync=false async=false ") +
         kTap;
}

}  // namespace

BOOST_AUTO_TEST_CASE(h264_passes_untouched_while_allowed_and_switches_on_key_frames) {
  Rig rig(h264_rig());
  Recorder recorder;
  recorder.attach(rig, true);
  rig.play();

  // Allowed: the publisher's own frames, no encoder, only key frames decoded
  // (the publisher makes one only when asked: key-int-max is 20 s).
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return recorder.look_count() >= 60; }), rig.error());
  BOOST_TEST(recorder.last_look(Look::Clean), recorder.recent_looks());
  BOOST_TEST(recorder.out_from_publisher(0, true));
  BOOST_TEST(rig.output() == "passthrough");
  BOOST_TEST(rig.encoders() == 0);
  const guint64 decoded = rig.counter("switch", "decode-frames");
  const size_t frames = recorder.out_count();
  // About one key frame per 300 ms interval over ~2 s of 30 fps frames.
  BOOST_TEST(decoded >= 3u);
  BOOST_TEST(decoded * 5 <= frames, decoded << " of " << frames << " frames decoded");
  BOOST_TEST(recorder.snapshots.load() >= 3);
  BOOST_TEST(rig.counter("switch", "keyframe-requests") >= 3u);

  // Blur: the outputs get the moderated re-encoding from a key frame on.
  BOOST_REQUIRE(rig.force("blur"));
  BOOST_TEST(wait_until([&] { return recorder.last_look(Look::Pixelated, 10); }, 3000),
             recorder.recent_looks());
  BOOST_TEST(rig.output() == "processed");
  BOOST_TEST(rig.encoders() == 1);
  size_t from = recorder.out_count();
  BOOST_TEST(wait_until([&] { return recorder.out_count() > from + 10; }));
  BOOST_TEST(recorder.out_from_publisher(from, false));

  // Block: black.
  BOOST_REQUIRE(rig.force("block"));
  BOOST_TEST(wait_until([&] { return recorder.last_look(Look::Black, 10); }, 3000),
             recorder.recent_looks());
  BOOST_TEST(rig.encoders() == 1);

  // Allow again: clean, the publisher's frames, and the encoder goes.
  BOOST_REQUIRE(rig.release());
  BOOST_TEST(wait_until([&] { return recorder.last_look(Look::Clean, 10); }, 3000),
             recorder.recent_looks());
  BOOST_TEST(wait_until([&] { return rig.encoders() == 0; }, 3000));
  BOOST_TEST(rig.output() == "passthrough");
  from = recorder.out_count();
  BOOST_TEST(wait_until([&] { return recorder.out_count() > from + 10; }));
  BOOST_TEST(recorder.out_from_publisher(from, true));
  BOOST_TEST(rig.counter("switch", "switches") == 2u);

  BOOST_TEST(recorder.switches_on_delta_frames() == 0);
  BOOST_TEST(rig.error() == "");
}

BOOST_AUTO_TEST_CASE(vp8_is_switched_the_same_way) {
  Rig rig(
      "videotestsrc is-live=true pattern=checkers-8 horizontal-speed=1 "
      "! video/x-raw,format=I420,width=320,height=240,framerate=30/1 "
      "! vp8enc deadline=1 cpu-used=8 lag-in-frames=0 keyframe-max-dist=600 "
      "! identity name=in ! lpmoderationswitch name=switch moderator=mod ! tee name=t "
      "t. ! queue ! fakesink sync=false async=false "
      "t. ! queue ! vp8dec ! videoconvert ! video/x-raw,format=I420 "
      "! appsink name=decoded sync=false async=false "
      "lpmoderationtap switch=switch ! vp8dec ! videoconvert ! video/x-raw,format=I420 "
      "! lpmoderator name=mod interval=300 forced-holds=true ! switch.raw_sink");
  Recorder recorder;
  recorder.attach(rig, true);
  rig.play();
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return recorder.look_count() >= 30; }), rig.error());
  BOOST_TEST(recorder.last_look(Look::Clean), recorder.recent_looks());
  BOOST_TEST(rig.encoders() == 0);
  BOOST_REQUIRE(rig.force("block"));
  BOOST_TEST(wait_until([&] { return recorder.last_look(Look::Black, 10); }, 3000),
             recorder.recent_looks());
  BOOST_TEST(rig.encoders() == 1);
  BOOST_REQUIRE(rig.release());
  BOOST_TEST(wait_until([&] { return recorder.last_look(Look::Clean, 10); }, 3000),
             recorder.recent_looks());
  BOOST_TEST(wait_until([&] { return rig.encoders() == 0; }, 3000));
  BOOST_TEST(recorder.switches_on_delta_frames() == 0);
  BOOST_TEST(rig.error() == "");
}

// Opus: blur passes the publisher's packets, block replaces them with
// encoded silence, allow brings them back; nothing is decoded meanwhile.
BOOST_AUTO_TEST_CASE(opus_is_muted_only_while_blocked) {
  Rig rig(
      "audiotestsrc is-live=true wave=sine volume=0.5 ! audio/x-raw,rate=48000,channels=2 "
      "! opusenc ! identity name=in ! lpmoderationswitch name=switch moderator=mod ! tee name=t "
      "t. ! queue ! fakesink sync=false async=false "
      "t. ! queue ! opusdec ! audio/x-raw,format=S16LE ! appsink name=pcm sync=false async=false "
      "lpmoderationtap switch=switch ! opusdec ! lpmoderatoraudio moderator=mod "
      "! switch.raw_sink "
      "videotestsrc is-live=true ! video/x-raw,format=I420,width=64,height=48,framerate=10/1 "
      "! lpmoderator name=mod forced-holds=true ! fakesink sync=false async=false");
  Recorder recorder;
  recorder.attach(rig, false);
  std::mutex mutex;
  std::vector<double> levels;  // RMS per decoded buffer
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = [](GstAppSink *sink, gpointer data) -> GstFlowReturn {
    auto *pair = static_cast<std::pair<std::mutex *, std::vector<double> *> *>(data);
    GstSample *sample = gst_app_sink_pull_sample(sink);
    if (!sample) {
      return GST_FLOW_OK;
    }
    GstMapInfo map;
    GstBuffer *buffer = gst_sample_get_buffer(sample);
    double sum = 0;
    size_t count = 0;
    if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
      const auto *pcm = reinterpret_cast<const int16_t *>(map.data);
      count = map.size / 2;
      for (size_t i = 0; i < count; ++i) {
        sum += static_cast<double>(pcm[i]) * pcm[i];
      }
      gst_buffer_unmap(buffer, &map);
    }
    gst_sample_unref(sample);
    std::lock_guard lock(*pair->first);
    pair->second->push_back(count ? std::sqrt(sum / count) : 0);
    return GST_FLOW_OK;
  };
  std::pair<std::mutex *, std::vector<double> *> sink_data{&mutex, &levels};
  gst_app_sink_set_callbacks(GST_APP_SINK(rig.get("pcm")), &callbacks, &sink_data, nullptr);
  auto last_levels = [&](bool loud) {
    std::lock_guard lock(mutex);
    if (levels.size() < 10) {
      return false;
    }
    for (size_t i = levels.size() - 10; i < levels.size(); ++i) {
      if ((levels[i] > 1000) != loud) {
        return false;
      }
    }
    return true;
  };
  rig.play();
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return last_levels(true); }), rig.error());
  BOOST_REQUIRE(rig.force("blur"));
  g_usleep(500 * 1000);
  BOOST_TEST(last_levels(true));
  BOOST_TEST(rig.output() == "passthrough");
  BOOST_TEST(rig.counter("switch", "decode-frames") == 0u);
  BOOST_TEST(rig.encoders() == 0);
  BOOST_REQUIRE(rig.force("block"));
  BOOST_TEST(wait_until([&] { return last_levels(false); }, 3000));
  BOOST_TEST(rig.output() == "processed");
  BOOST_TEST(rig.encoders() == 1);
  BOOST_REQUIRE(rig.release());
  BOOST_TEST(wait_until([&] { return last_levels(true); }, 3000));
  BOOST_TEST(wait_until([&] { return rig.encoders() == 0; }, 3000));
  size_t from = recorder.out_count();
  BOOST_TEST(wait_until([&] { return recorder.out_count() > from + 10; }));
  BOOST_TEST(recorder.out_from_publisher(from, true));
  BOOST_TEST(rig.error() == "");
}

BOOST_AUTO_TEST_CASE(a_missing_moderator_is_an_error_naming_it) {
  Rig rig(
      "videotestsrc is-live=true ! video/x-raw,format=I420,width=64,height=48 "
      "! x264enc tune=zerolatency ! video/x-h264,stream-format=avc,alignment=au "
      "! lpmoderationswitch moderator=nobody ! fakesink");
  rig.play();
  std::string error;
  BOOST_TEST(wait_until([&] { return !(error = rig.error()).empty(); }));
  BOOST_TEST(error.find("no element named \"nobody\"") != std::string::npos, error);
}
