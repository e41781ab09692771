/**
 * SECTION:element-lpmoderationswitch
 * @title: lpmoderationswitch
 *
 * Passthrough moderation of an encoded stream (H.264, VP8 or Opus). While
 * the verdict of the lpmoderator named by `moderator` allows the stream, the
 * publisher's own frames go from `sink` to `src` untouched: nothing is
 * decoded or encoded on that path. Beside it, the frames the moderator needs
 * are handed to an lpmoderationtap (the source of the snapshot path, which
 * decodes them and feeds the moderator): for video only key frames, and a
 * key frame is asked for upstream when none came for one moderator
 * interval; for audio nothing.
 *
 * When the verdict is blur or block (for audio: block), `src` stops carrying
 * the publisher's frames; the snapshot path decodes every frame from the
 * next key frame (asked for at once), the moderator applies the verdict, and
 * the moderated pictures that come back on `raw_sink` are encoded once
 * (x264enc zerolatency without B-frames, constrained baseline; vp8enc
 * realtime; opusenc) from a key frame on. When the verdict allows the stream
 * again, `src` goes back to the publisher's frames at its next key frame
 * (asked for at once) and the encoder is removed. On end, EOS goes out on
 * `src` and nothing follows.
 *
 * The snapshot path never holds up `src`: frames wait for it in a bounded
 * queue (`max-queued`); a full queue drops the oldest key frame, or, while
 * every frame is decoded, stops decoding until the next key frame.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true \
 *     ! video/x-raw,format=I420,width=640,height=360,framerate=30/1 \
 *     ! x264enc tune=zerolatency key-int-max=60 ! h264parse \
 *     ! video/x-h264,stream-format=avc,alignment=au \
 *     ! lpmoderationswitch name=switch moderator=mod ! h264parse ! avdec_h264 ! autovideosink \
 *   lpmoderationtap switch=switch ! h264parse ! avdec_h264 ! videoconvert \
 *     ! video/x-raw,format=I420 ! lpmoderator name=mod hook-uri=http://127.0.0.1:8080/hook \
 *     ! switch.raw_sink
 * ]|
 */
#include "gstlpmoderationswitch.h"

#include "gstlpmoderator.h"
#include "outputswitch.h"
#include "util/gstptr.h"

#include <gst/video/video.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <utility>

GST_DEBUG_CATEGORY_STATIC(gst_lp_moderation_switch_debug);
#define GST_CAT_DEFAULT gst_lp_moderation_switch_debug

using livepipe::MiniPtr;
using namespace livepipe::moderation;

namespace {

constexpr guint DEFAULT_PROP_BITRATE = 0;
constexpr guint DEFAULT_PROP_KEY_INT_MAX = 45;
constexpr gboolean DEFAULT_PROP_REQUEST_KEYFRAMES = TRUE;
constexpr guint DEFAULT_PROP_MAX_QUEUED = 30;
constexpr guint kDefaultVideoKbps = 1500;
constexpr guint kDefaultAudioKbps = 64;

enum {
  PROP_0,
  PROP_MODERATOR,
  PROP_BITRATE,
  PROP_KEY_INT_MAX,
  PROP_REQUEST_KEYFRAMES,
  PROP_MAX_QUEUED,
  PROP_OUTPUT,
  PROP_SWITCHES,
  PROP_KEYFRAME_REQUESTS,
  PROP_DECODE_FRAMES,
  PROP_DECODE_DROPPED,
};

struct Settings {
  std::string moderator;
  guint bitrate = DEFAULT_PROP_BITRATE;
  guint key_int_max = DEFAULT_PROP_KEY_INT_MAX;
  bool request_keyframes = DEFAULT_PROP_REQUEST_KEYFRAMES;
  guint max_queued = DEFAULT_PROP_MAX_QUEUED;
};

struct QueuedFrame {
  MiniPtr<GstBuffer> buffer;
  MiniPtr<GstCaps> caps;
};

struct SwitchState {
  Settings settings;  // guarded by the object lock

  // The sink pad's streaming thread only.
  GWeakRef moderator;
  bool resolved = false;

  // Guards the switch and is held around every push on src, so the two
  // threads that feed src (the publisher's, the snapshot path's) never
  // interleave out of order.
  std::mutex output;
  OutputSwitch logic;
  bool have_codec = false;
  Codec codec = Codec::H264;
  int nal_length_size = 4;
  MiniPtr<GstCaps> publisher_caps;
  MiniPtr<GstCaps> encoder_caps;
  MiniPtr<GstCaps> src_caps;  // the caps last sent on src
  GstSegment publisher_segment{};
  GstSegment encoder_segment{};
  bool eos_sent = false;
  // Mirrors the output for upstream events, which must not take `output`
  // (they may come from inside a push on src).
  std::atomic<bool> processed{false};

  // The frames waiting for the snapshot path.
  std::mutex queue_mutex;
  std::condition_variable queue_cond;
  std::deque<QueuedFrame> queue;
  bool running = false;
  bool tap_flushing = false;
  bool eos_queued = false;
  std::atomic<guint64> decode_frames{0};
  std::atomic<guint64> decode_dropped{0};

  // The encoder, a child of the bin while it exists. The pads that feed it
  // and take its output belong to no element (as GstHarness's do).
  std::mutex encoder_mutex;
  GstElement *encoder = nullptr;
  GstPad *encoder_in = nullptr;
  GstPad *encoder_out = nullptr;
  // The raw_sink pad's streaming thread only.
  GstSegment raw_segment{};
};

}  // namespace

struct _GstLpModerationSwitch {
  GstBin parent;
  GstPad *sinkpad;
  GstPad *srcpad;
  GstPad *rawpad;
  SwitchState *state;
};

#define ENCODED_CAPS                                                                   \
  "video/x-h264, stream-format = (string) avc, alignment = (string) au; video/x-vp8; " \
  "audio/x-opus"
#define RAW_CAPS                                                                \
  "video/x-raw, format = (string) I420; audio/x-raw, format = (string) S16LE, " \
  "layout = (string) interleaved, rate = (int) 48000, channels = (int) [ 1, 2 ]"

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ENCODED_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(ENCODED_CAPS));
static GstStaticPadTemplate raw_sink_template =
    GST_STATIC_PAD_TEMPLATE("raw_sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(RAW_CAPS));
// The encoder's side: the pads that belong to no element.
static GstStaticPadTemplate encoder_in_template =
    GST_STATIC_PAD_TEMPLATE("encoder_in", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(RAW_CAPS));
static GstStaticPadTemplate encoder_out_template = GST_STATIC_PAD_TEMPLATE(
    "encoder_out", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(ENCODED_CAPS));

G_DEFINE_TYPE(GstLpModerationSwitch, gst_lp_moderation_switch, GST_TYPE_BIN)
GST_ELEMENT_REGISTER_DEFINE(lpmoderationswitch, "lpmoderationswitch", GST_RANK_NONE,
                            GST_TYPE_LP_MODERATION_SWITCH)

namespace {

// What the encoder must produce so its frames can replace the publisher's
// downstream (the same codec; for H.264 what every browser decodes).
GstCaps *encoder_output_caps(Codec codec) {
  switch (codec) {
    case Codec::H264:
      return gst_caps_from_string(
          "video/x-h264, stream-format = (string) avc, alignment = (string) au, "
          "profile = (string) constrained-baseline");
    case Codec::VP8:
      return gst_caps_from_string("video/x-vp8");
    case Codec::Opus:
      return gst_caps_from_string("audio/x-opus, channel-mapping-family = (int) 0");
  }
  return gst_caps_new_empty();
}

int64_t running_time_or_now(const GstSegment &segment, GstClockTime pts) {
  if (segment.format == GST_FORMAT_TIME && GST_CLOCK_TIME_IS_VALID(pts)) {
    GstClockTime running = gst_segment_to_running_time(&segment, GST_FORMAT_TIME, pts);
    if (GST_CLOCK_TIME_IS_VALID(running)) {
      return static_cast<int64_t>(running);
    }
  }
  return g_get_monotonic_time() * 1000;
}

// Sends `caps` on src unless they are what src carries already; the caller
// holds state->output.
void send_caps_locked(GstLpModerationSwitch *self, GstCaps *caps) {
  SwitchState *state = self->state;
  if (!caps || (state->src_caps && gst_caps_is_equal(state->src_caps.get(), caps))) {
    return;
  }
  state->src_caps = livepipe::ref_mini(caps);
  gst_pad_push_event(self->srcpad, gst_event_new_caps(caps));
}

GstLpModerator *resolve_moderator(GstLpModerationSwitch *self) {
  SwitchState *state = self->state;
  if (!state->resolved) {
    std::string name;
    {
      livepipe::ObjectLocker lock(self);
      name = state->settings.moderator;
    }
    gchar *error = nullptr;
    GstLpModerator *found = gst_lp_moderator_find(GST_ELEMENT(self), name.c_str(), &error);
    if (!found) {
      GST_ELEMENT_ERROR(self, CORE, FAILED, ("lpmoderationswitch: %s", error), (nullptr));
      g_free(error);
      return nullptr;
    }
    g_weak_ref_set(&state->moderator, found);
    gst_object_unref(found);
    state->resolved = true;
  }
  auto *moderator = static_cast<GstLpModerator *>(g_weak_ref_get(&state->moderator));
  if (!moderator) {
    GST_ELEMENT_ERROR(self, CORE, FAILED, ("lpmoderationswitch: the moderator is gone"), (nullptr));
  }
  return moderator;
}

void request_publisher_keyframe(GstLpModerationSwitch *self) {
  GST_DEBUG_OBJECT(self, "asking upstream for a key frame");
  gst_pad_push_event(self->sinkpad,
                     gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0));
}

// Hands a frame to the snapshot path, its timestamps made running times.
void queue_for_decoding(GstLpModerationSwitch *self, GstBuffer *buffer, GstCaps *caps,
                        const GstSegment &segment, guint max_queued) {
  SwitchState *state = self->state;
  MiniPtr<GstBuffer> frame(gst_buffer_copy(buffer));
  if (segment.format == GST_FORMAT_TIME) {
    GST_BUFFER_PTS(frame.get()) =
        gst_segment_to_running_time(&segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer));
    GST_BUFFER_DTS(frame.get()) =
        gst_segment_to_running_time(&segment, GST_FORMAT_TIME, GST_BUFFER_DTS(buffer));
  } else {
    GST_BUFFER_PTS(frame.get()) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DTS(frame.get()) = GST_CLOCK_TIME_NONE;
  }
  std::lock_guard lock(state->queue_mutex);
  if (!state->running || state->eos_queued) {
    return;
  }
  while (!state->queue.empty() && state->queue.size() >= max_queued) {
    // Only key frames queue up like this (a slow snapshot path while
    // allowed): the newest is the one worth decoding.
    state->queue.pop_front();
    state->decode_dropped++;
  }
  state->queue.push_back(QueuedFrame{std::move(frame), livepipe::ref_mini(caps)});
  state->decode_frames++;
  state->queue_cond.notify_one();
}

GstElement *make_encoder(GstLpModerationSwitch *self, Codec codec) {
  guint bitrate, key_int_max;
  {
    livepipe::ObjectLocker lock(self);
    bitrate = self->state->settings.bitrate;
    key_int_max = self->state->settings.key_int_max;
  }
  const char *factory = codec == Codec::H264  ? "x264enc"
                        : codec == Codec::VP8 ? "vp8enc"
                                              : "opusenc";
  GstElement *encoder = gst_element_factory_make(factory, nullptr);
  if (!encoder) {
    GST_ELEMENT_ERROR(self, CORE, MISSING_PLUGIN, ("lpmoderationswitch: %s is missing", factory),
                      (nullptr));
    return nullptr;
  }
  const std::string kbps = std::to_string(bitrate                ? bitrate
                                          : codec == Codec::Opus ? kDefaultAudioKbps
                                                                 : kDefaultVideoKbps);
  const std::string keyframes = std::to_string(key_int_max);
  auto set = [encoder](const char *name, const std::string &value) {
    gst_util_set_object_arg(G_OBJECT(encoder), name, value.c_str());
  };
  switch (codec) {
    case Codec::H264:
      set("tune", "zerolatency");
      set("speed-preset", "ultrafast");
      set("bframes", "0");
      set("key-int-max", keyframes);
      set("bitrate", kbps);
      break;
    case Codec::VP8:
      set("deadline", "1");
      set("cpu-used", "8");
      set("lag-in-frames", "0");
      set("end-usage", "cbr");
      set("keyframe-max-dist", keyframes);
      set("target-bitrate", kbps + "000");
      break;
    case Codec::Opus:
      set("bitrate", kbps + "000");
      break;
  }
  return encoder;
}

gboolean copy_sticky_event(GstPad *, GstEvent **event, gpointer user_data) {
  auto *self = static_cast<GstLpModerationSwitch *>(user_data);
  gst_pad_push_event(self->state->encoder_in, gst_event_ref(*event));
  return TRUE;
}

// The raw_sink thread: makes the encoder when the output needs it.
bool ensure_encoder(GstLpModerationSwitch *self) {
  SwitchState *state = self->state;
  {
    std::lock_guard lock(state->encoder_mutex);
    if (state->encoder) {
      return true;
    }
  }
  Codec codec;
  {
    std::lock_guard lock(state->output);
    if (!state->have_codec) {
      return false;
    }
    codec = state->codec;
  }
  GstElement *encoder = make_encoder(self, codec);
  if (!encoder) {
    return false;
  }
  gst_bin_add(GST_BIN(self), encoder);
  livepipe::GstPtr<GstPad> encoder_sink(gst_element_get_static_pad(encoder, "sink"));
  livepipe::GstPtr<GstPad> encoder_src(gst_element_get_static_pad(encoder, "src"));
  if (gst_pad_link(state->encoder_in, encoder_sink.get()) != GST_PAD_LINK_OK ||
      gst_pad_link(encoder_src.get(), state->encoder_out) != GST_PAD_LINK_OK ||
      !gst_element_sync_state_with_parent(encoder)) {
    GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("lpmoderationswitch: the encoder does not start"),
                      ("%s", GST_ELEMENT_NAME(encoder)));
    gst_element_set_state(encoder, GST_STATE_NULL);
    gst_bin_remove(GST_BIN(self), encoder);
    return false;
  }
  GST_INFO_OBJECT(self, "encoding with %s", GST_ELEMENT_NAME(encoder));
  // Stream start, caps and segment of the moderated frames.
  gst_pad_sticky_events_foreach(self->rawpad, copy_sticky_event, self);
  std::lock_guard lock(state->encoder_mutex);
  state->encoder = encoder;
  return true;
}

// Removes the encoder once the output no longer needs it; its state change
// runs on another thread, so neither streaming thread waits for it.
void retire_encoder(GstLpModerationSwitch *self) {
  SwitchState *state = self->state;
  GstElement *encoder;
  {
    std::lock_guard lock(state->encoder_mutex);
    encoder = std::exchange(state->encoder, nullptr);
  }
  if (!encoder) {
    return;
  }
  GST_INFO_OBJECT(self, "removing %s", GST_ELEMENT_NAME(encoder));
  livepipe::GstPtr<GstPad> encoder_sink(gst_element_get_static_pad(encoder, "sink"));
  livepipe::GstPtr<GstPad> encoder_src(gst_element_get_static_pad(encoder, "src"));
  gst_pad_unlink(state->encoder_in, encoder_sink.get());
  gst_pad_unlink(encoder_src.get(), state->encoder_out);
  gst_element_call_async(
      GST_ELEMENT(self),
      [](GstElement *bin, gpointer data) {
        auto *child = GST_ELEMENT(data);
        gst_element_set_locked_state(child, TRUE);
        gst_element_set_state(child, GST_STATE_NULL);
        if (GST_OBJECT_PARENT(child) == GST_OBJECT(bin)) {
          gst_bin_remove(GST_BIN(bin), child);
        }
      },
      gst_object_ref(encoder), gst_object_unref);
}

bool encoder_exists(SwitchState *state) {
  std::lock_guard lock(state->encoder_mutex);
  return state->encoder != nullptr;
}

}  // namespace

static GstFlowReturn gst_lp_moderation_switch_sink_chain(GstPad *, GstObject *parent,
                                                         GstBuffer *buffer) {
  GstLpModerationSwitch *self = GST_LP_MODERATION_SWITCH(parent);
  SwitchState *state = self->state;
  MiniPtr<GstBuffer> owned(buffer);
  GstLpModerator *moderator = resolve_moderator(self);
  if (!moderator) {
    return GST_FLOW_ERROR;
  }
  const auto action = static_cast<Action>(gst_lp_moderator_get_action(moderator));
  guint interval_ms = 1000;
  g_object_get(moderator, "interval", &interval_ms, nullptr);
  gst_object_unref(moderator);
  bool request_keyframes;
  guint max_queued;
  {
    livepipe::ObjectLocker lock(self);
    request_keyframes = state->settings.request_keyframes;
    max_queued = state->settings.max_queued;
  }
  bool decode_full;
  {
    std::lock_guard lock(state->queue_mutex);
    decode_full = state->queue.size() >= max_queued;
  }

  GstFlowReturn ret = GST_FLOW_OK;
  OutputSwitch::Input in;
  MiniPtr<GstCaps> caps;
  GstSegment segment;
  bool ended;
  bool processing;
  {
    std::lock_guard lock(state->output);
    if (!state->have_codec) {
      GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("lpmoderationswitch: no caps before data"),
                        (nullptr));
      return GST_FLOW_NOT_NEGOTIATED;
    }
    bool keyframe = state->codec == Codec::Opus;
    if (!keyframe) {
      GstMapInfo map;
      if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
        keyframe = is_keyframe(state->codec, map.data, map.size, state->nal_length_size);
        gst_buffer_unmap(buffer, &map);
      }
    }
    const int64_t time = running_time_or_now(state->publisher_segment, GST_BUFFER_PTS(buffer));
    state->logic.set_interval(static_cast<int64_t>(interval_ms) * GST_MSECOND);
    state->logic.set_request_keyframes(request_keyframes);
    const Output before = state->logic.output();
    in = state->logic.on_input(action, keyframe, time, decode_full);
    if (state->logic.output() != before) {
      GST_INFO_OBJECT(self, "output: %s (verdict %s)",
                      state->logic.output() == Output::Processed ? "processed" : "passthrough",
                      action_name(action));
    }
    state->processed = state->logic.output() == Output::Processed;
    if (in.forward) {
      send_caps_locked(self, state->publisher_caps.get());
      ret = gst_pad_push(self->srcpad, gst_buffer_ref(buffer));
    }
    if (in.end && !state->eos_sent) {
      state->eos_sent = true;
      gst_pad_push_event(self->srcpad, gst_event_new_eos());
    }
    caps = livepipe::ref_mini(state->publisher_caps.get());
    segment = state->publisher_segment;
    ended = state->logic.ended();
    processing = state->logic.processing();
  }
  if (in.decode) {
    queue_for_decoding(self, buffer, caps.get(), segment, max_queued);
  }
  if (in.request_keyframe) {
    request_publisher_keyframe(self);
  }
  if (!processing && encoder_exists(state)) {
    retire_encoder(self);
  }
  // After end the publisher's frames are dropped, not refused: EOS upstream
  // would stop what the video shares with the audio (a bundled transport).
  return ended || ret == GST_FLOW_NOT_LINKED ? GST_FLOW_OK : ret;
}

static gboolean gst_lp_moderation_switch_sink_event(GstPad *pad, GstObject *parent,
                                                    GstEvent *event) {
  GstLpModerationSwitch *self = GST_LP_MODERATION_SWITCH(parent);
  SwitchState *state = self->state;
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps(event, &caps);
      const GstStructure *s = gst_caps_get_structure(caps, 0);
      std::lock_guard lock(state->output);
      const bool first = !state->have_codec;
      state->have_codec = true;
      if (gst_structure_has_name(s, "video/x-h264")) {
        state->codec = Codec::H264;
        state->nal_length_size = 4;
        const GValue *codec_data = gst_structure_get_value(s, "codec_data");
        if (codec_data && GST_VALUE_HOLDS_BUFFER(codec_data)) {
          GstBuffer *record = gst_value_get_buffer(codec_data);
          GstMapInfo map;
          if (gst_buffer_map(record, &map, GST_MAP_READ)) {
            state->nal_length_size = avc_nal_length_size(map.data, map.size);
            gst_buffer_unmap(record, &map);
          }
        }
      } else if (gst_structure_has_name(s, "video/x-vp8")) {
        state->codec = Codec::VP8;
      } else {
        state->codec = Codec::Opus;
      }
      if (first) {
        SwitchSettings settings;
        settings.video = state->codec != Codec::Opus;
        state->logic = OutputSwitch(settings);
      }
      state->publisher_caps = livepipe::ref_mini(caps);
      // While processed, src keeps the encoder's caps; the publisher's follow
      // with its first frame after the switch back.
      if (state->logic.output() == Output::Passthrough) {
        send_caps_locked(self, caps);
      }
      gst_event_unref(event);
      return TRUE;
    }
    case GST_EVENT_SEGMENT: {
      std::lock_guard lock(state->output);
      gst_event_copy_segment(event, &state->publisher_segment);
      return gst_pad_push_event(self->srcpad, event);
    }
    case GST_EVENT_EOS: {
      {
        std::lock_guard lock(state->queue_mutex);
        state->eos_queued = true;
        state->queue_cond.notify_all();
      }
      std::lock_guard lock(state->output);
      if (state->eos_sent) {
        gst_event_unref(event);
        return TRUE;
      }
      state->eos_sent = true;
      return gst_pad_push_event(self->srcpad, event);
    }
    case GST_EVENT_FLUSH_STOP: {
      {
        std::lock_guard lock(state->queue_mutex);
        state->queue.clear();
        state->eos_queued = false;
      }
      std::lock_guard lock(state->output);
      state->eos_sent = false;
      gst_segment_init(&state->publisher_segment, GST_FORMAT_UNDEFINED);
      return gst_pad_push_event(self->srcpad, event);
    }
    default:
      break;
  }
  // Serialized events go out in order with the buffers of both threads.
  if ((static_cast<int>(GST_EVENT_TYPE(event)) & GST_EVENT_TYPE_SERIALIZED) != 0) {
    std::lock_guard lock(state->output);
    return gst_pad_event_default(pad, parent, event);
  }
  return gst_pad_event_default(pad, parent, event);
}

static gboolean gst_lp_moderation_switch_src_event(GstPad *pad, GstObject *parent,
                                                   GstEvent *event) {
  GstLpModerationSwitch *self = GST_LP_MODERATION_SWITCH(parent);
  SwitchState *state = self->state;
  if (gst_video_event_is_force_key_unit(event) && state->processed) {
    // The outputs carry the encoder's frames: it makes the key frame.
    livepipe::GstPtr<GstPad> target;
    {
      std::lock_guard lock(state->encoder_mutex);
      if (state->encoder) {
        target = livepipe::ref(state->encoder_out);
      }
    }
    if (target) {
      return gst_pad_push_event(target.get(), event);
    }
    gst_event_unref(event);
    return TRUE;
  }
  return gst_pad_event_default(pad, parent, event);
}

static GstIterator *gst_lp_moderation_switch_iterate_internal_links(GstPad *pad,
                                                                    GstObject *parent) {
  GstLpModerationSwitch *self = GST_LP_MODERATION_SWITCH(parent);
  GstPad *other = pad == self->sinkpad  ? self->srcpad
                  : pad == self->srcpad ? self->sinkpad
                                        : nullptr;
  if (!other) {
    return nullptr;
  }
  GValue value = G_VALUE_INIT;
  g_value_init(&value, GST_TYPE_PAD);
  g_value_set_object(&value, other);
  GstIterator *it = gst_iterator_new_single(GST_TYPE_PAD, &value);
  g_value_unset(&value);
  return it;
}

static GstFlowReturn gst_lp_moderation_switch_raw_chain(GstPad *, GstObject *parent,
                                                        GstBuffer *buffer) {
  GstLpModerationSwitch *self = GST_LP_MODERATION_SWITCH(parent);
  SwitchState *state = self->state;
  MiniPtr<GstBuffer> owned(buffer);
  int64_t time = -1;
  if (state->raw_segment.format == GST_FORMAT_TIME && GST_BUFFER_PTS_IS_VALID(buffer)) {
    GstClockTime running =
        gst_segment_to_running_time(&state->raw_segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer));
    if (GST_CLOCK_TIME_IS_VALID(running)) {
      time = static_cast<int64_t>(running);
    }
  }
  bool encode, processing;
  {
    std::lock_guard lock(state->output);
    encode = state->logic.on_raw(time);
    processing = state->logic.processing();
  }
  if (!processing) {
    retire_encoder(self);
    return GST_FLOW_OK;
  }
  if (!encode) {
    return GST_FLOW_OK;
  }
  if (!ensure_encoder(self)) {
    return GST_FLOW_ERROR;
  }
  GstFlowReturn ret = gst_pad_push(state->encoder_in, owned.release());
  // The encoder may just have been retired (unlinked) by the other thread.
  return ret == GST_FLOW_NOT_LINKED ? GST_FLOW_OK : ret;
}

static gboolean gst_lp_moderation_switch_raw_event(GstPad *, GstObject *parent, GstEvent *event) {
  GstLpModerationSwitch *self = GST_LP_MODERATION_SWITCH(parent);
  SwitchState *state = self->state;
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment(event, &state->raw_segment);
      break;
    case GST_EVENT_EOS:
      // The moderator's end: the publisher's side sends EOS on src.
      gst_event_unref(event);
      return TRUE;
    case GST_EVENT_FLUSH_STOP:
      gst_segment_init(&state->raw_segment, GST_FORMAT_UNDEFINED);
      break;
    default:
      break;
  }
  // Sticky events are kept on raw_sink for an encoder made later.
  if (encoder_exists(state)) {
    gst_pad_push_event(state->encoder_in, event);
  } else {
    gst_event_unref(event);
  }
  return TRUE;
}

static gboolean gst_lp_moderation_switch_raw_query(GstPad *pad, GstObject *parent,
                                                   GstQuery *query) {
  switch (GST_QUERY_TYPE(query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter;
      gst_query_parse_caps(query, &filter);
      GstCaps *caps = gst_pad_get_pad_template_caps(pad);
      if (filter) {
        GstCaps *both = gst_caps_intersect_full(filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref(caps);
        caps = both;
      }
      gst_query_set_caps_result(query, caps);
      gst_caps_unref(caps);
      return TRUE;
    }
    case GST_QUERY_ACCEPT_CAPS: {
      GstCaps *caps;
      gst_query_parse_accept_caps(query, &caps);
      GstCaps *allowed = gst_pad_get_pad_template_caps(pad);
      gst_query_set_accept_caps_result(query, gst_caps_is_subset(caps, allowed));
      gst_caps_unref(allowed);
      return TRUE;
    }
    default:
      return gst_pad_query_default(pad, parent, query);
  }
}

static GstFlowReturn gst_lp_moderation_switch_encoded_chain(GstPad *pad, GstObject *,
                                                            GstBuffer *buffer) {
  auto *self = static_cast<GstLpModerationSwitch *>(gst_pad_get_element_private(pad));
  SwitchState *state = self->state;
  MiniPtr<GstBuffer> owned(buffer);
  const bool keyframe = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  GstFlowReturn ret = GST_FLOW_OK;
  OutputSwitch::Encoded out;
  {
    std::lock_guard lock(state->output);
    int64_t time = -1;
    GstClockTime running_dts = GST_CLOCK_TIME_NONE;
    if (state->encoder_segment.format == GST_FORMAT_TIME) {
      GstClockTime running = gst_segment_to_running_time(&state->encoder_segment, GST_FORMAT_TIME,
                                                         GST_BUFFER_PTS(buffer));
      if (GST_CLOCK_TIME_IS_VALID(running)) {
        time = static_cast<int64_t>(running);
      }
      running_dts = gst_segment_to_running_time(&state->encoder_segment, GST_FORMAT_TIME,
                                                GST_BUFFER_DTS(buffer));
    }
    out = state->logic.on_encoded(keyframe, time);
    if (out.forward) {
      // The encoder's timeline (x264enc shifts its segment) mapped back onto
      // the publisher's, which src carries.
      GstBuffer *frame = gst_buffer_make_writable(owned.release());
      const GstSegment &publisher = state->publisher_segment;
      auto position = [&](GstClockTime running) {
        if (!GST_CLOCK_TIME_IS_VALID(running)) {
          return GST_CLOCK_TIME_NONE;
        }
        return publisher.format == GST_FORMAT_TIME
                   ? gst_segment_position_from_running_time(&publisher, GST_FORMAT_TIME, running)
                   : running;
      };
      GST_BUFFER_PTS(frame) =
          position(time >= 0 ? static_cast<GstClockTime>(time) : GST_CLOCK_TIME_NONE);
      GST_BUFFER_DTS(frame) = position(running_dts);
      send_caps_locked(self, state->encoder_caps.get());
      ret = gst_pad_push(self->srcpad, frame);
    }
  }
  if (out.request_keyframe) {
    gst_pad_push_event(pad,
                       gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0));
  }
  return ret == GST_FLOW_NOT_LINKED ? GST_FLOW_OK : ret;
}

static gboolean gst_lp_moderation_switch_encoded_event(GstPad *pad, GstObject *, GstEvent *event) {
  auto *self = static_cast<GstLpModerationSwitch *>(gst_pad_get_element_private(pad));
  SwitchState *state = self->state;
  switch (GST_EVENT_TYPE(event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gst_event_parse_caps(event, &caps);
      std::lock_guard lock(state->output);
      state->encoder_caps = livepipe::ref_mini(caps);
      break;
    }
    case GST_EVENT_SEGMENT: {
      std::lock_guard lock(state->output);
      gst_event_copy_segment(event, &state->encoder_segment);
      break;
    }
    default:
      break;
  }
  gst_event_unref(event);
  return TRUE;
}

static gboolean gst_lp_moderation_switch_encoded_query(GstPad *pad, GstObject *, GstQuery *query) {
  auto *self = static_cast<GstLpModerationSwitch *>(gst_pad_get_element_private(pad));
  SwitchState *state = self->state;
  Codec codec;
  {
    std::lock_guard lock(state->output);
    codec = state->codec;
  }
  MiniPtr<GstCaps> allowed(encoder_output_caps(codec));
  switch (GST_QUERY_TYPE(query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter;
      gst_query_parse_caps(query, &filter);
      GstCaps *caps = filter
                          ? gst_caps_intersect_full(filter, allowed.get(), GST_CAPS_INTERSECT_FIRST)
                          : gst_caps_ref(allowed.get());
      gst_query_set_caps_result(query, caps);
      gst_caps_unref(caps);
      return TRUE;
    }
    case GST_QUERY_ACCEPT_CAPS: {
      GstCaps *caps;
      gst_query_parse_accept_caps(query, &caps);
      gst_query_set_accept_caps_result(query, gst_caps_can_intersect(caps, allowed.get()));
      return TRUE;
    }
    default:
      return FALSE;
  }
}

GstLpModerationSwitchPull gst_lp_moderation_switch_pull(GstLpModerationSwitch *self,
                                                        GstBuffer **buffer, GstCaps **caps) {
  g_return_val_if_fail(GST_IS_LP_MODERATION_SWITCH(self), GST_LP_MODERATION_SWITCH_FLUSHING);
  SwitchState *state = self->state;
  std::unique_lock lock(state->queue_mutex);
  state->queue_cond.wait(lock, [state] {
    return !state->running || state->tap_flushing || !state->queue.empty() || state->eos_queued;
  });
  if (!state->running || state->tap_flushing) {
    return GST_LP_MODERATION_SWITCH_FLUSHING;
  }
  if (state->queue.empty()) {
    return GST_LP_MODERATION_SWITCH_EOS;
  }
  QueuedFrame frame = std::move(state->queue.front());
  state->queue.pop_front();
  *buffer = frame.buffer.release();
  *caps = frame.caps.release();
  return GST_LP_MODERATION_SWITCH_FRAME;
}

void gst_lp_moderation_switch_set_tap_flushing(GstLpModerationSwitch *self, gboolean flushing) {
  g_return_if_fail(GST_IS_LP_MODERATION_SWITCH(self));
  SwitchState *state = self->state;
  std::lock_guard lock(state->queue_mutex);
  state->tap_flushing = flushing;
  state->queue_cond.notify_all();
}

static GstStateChangeReturn gst_lp_moderation_switch_change_state(GstElement *element,
                                                                  GstStateChange transition) {
  GstLpModerationSwitch *self = GST_LP_MODERATION_SWITCH(element);
  SwitchState *state = self->state;
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED: {
      {
        std::lock_guard lock(state->output);
        state->logic = OutputSwitch();
        state->processed = false;
        state->have_codec = false;
        state->publisher_caps.reset();
        state->encoder_caps.reset();
        state->src_caps.reset();
        state->eos_sent = false;
        gst_segment_init(&state->publisher_segment, GST_FORMAT_UNDEFINED);
        gst_segment_init(&state->encoder_segment, GST_FORMAT_UNDEFINED);
      }
      gst_segment_init(&state->raw_segment, GST_FORMAT_UNDEFINED);
      state->resolved = false;
      g_weak_ref_set(&state->moderator, nullptr);
      {
        std::lock_guard lock(state->queue_mutex);
        state->queue.clear();
        state->running = true;
        state->eos_queued = false;
      }
      gst_pad_set_active(state->encoder_in, TRUE);
      gst_pad_set_active(state->encoder_out, TRUE);
      break;
    }
    case GST_STATE_CHANGE_PAUSED_TO_READY: {
      std::lock_guard lock(state->queue_mutex);
      state->running = false;
      state->queue.clear();
      state->queue_cond.notify_all();
      break;
    }
    default:
      break;
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(gst_lp_moderation_switch_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    GstElement *encoder;
    {
      std::lock_guard lock(state->encoder_mutex);
      encoder = std::exchange(state->encoder, nullptr);
    }
    if (encoder) {
      gst_element_set_state(encoder, GST_STATE_NULL);
      gst_bin_remove(GST_BIN(self), encoder);
    }
    gst_pad_set_active(state->encoder_in, FALSE);
    gst_pad_set_active(state->encoder_out, FALSE);
  }
  return ret;
}

static void gst_lp_moderation_switch_set_property(GObject *object, guint prop_id,
                                                  const GValue *value, GParamSpec *pspec) {
  GstLpModerationSwitch *self = GST_LP_MODERATION_SWITCH(object);
  livepipe::ObjectLocker lock(self);
  Settings &s = self->state->settings;
  switch (prop_id) {
    case PROP_MODERATOR:
      s.moderator = g_value_get_string(value) ? g_value_get_string(value) : "";
      self->state->resolved = false;
      break;
    case PROP_BITRATE:
      s.bitrate = g_value_get_uint(value);
      break;
    case PROP_KEY_INT_MAX:
      s.key_int_max = g_value_get_uint(value);
      break;
    case PROP_REQUEST_KEYFRAMES:
      s.request_keyframes = g_value_get_boolean(value);
      break;
    case PROP_MAX_QUEUED:
      s.max_queued = g_value_get_uint(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_lp_moderation_switch_get_property(GObject *object, guint prop_id, GValue *value,
                                                  GParamSpec *pspec) {
  GstLpModerationSwitch *self = GST_LP_MODERATION_SWITCH(object);
  SwitchState *state = self->state;
  switch (prop_id) {
    case PROP_OUTPUT:
      g_value_set_string(value, state->processed ? "processed" : "passthrough");
      return;
    case PROP_SWITCHES: {
      std::lock_guard lock(state->output);
      g_value_set_uint64(value, state->logic.switches());
      return;
    }
    case PROP_KEYFRAME_REQUESTS: {
      std::lock_guard lock(state->output);
      g_value_set_uint64(value, state->logic.keyframe_requests());
      return;
    }
    case PROP_DECODE_FRAMES:
      g_value_set_uint64(value, state->decode_frames.load());
      return;
    case PROP_DECODE_DROPPED: {
      std::lock_guard lock(state->output);
      g_value_set_uint64(value, state->decode_dropped.load() + state->logic.decode_dropped());
      return;
    }
    default:
      break;
  }
  livepipe::ObjectLocker lock(self);
  const Settings &s = state->settings;
  switch (prop_id) {
    case PROP_MODERATOR:
      g_value_set_string(value, s.moderator.c_str());
      break;
    case PROP_BITRATE:
      g_value_set_uint(value, s.bitrate);
      break;
    case PROP_KEY_INT_MAX:
      g_value_set_uint(value, s.key_int_max);
      break;
    case PROP_REQUEST_KEYFRAMES:
      g_value_set_boolean(value, s.request_keyframes);
      break;
    case PROP_MAX_QUEUED:
      g_value_set_uint(value, s.max_queued);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_lp_moderation_switch_finalize(GObject *object) {
  GstLpModerationSwitch *self = GST_LP_MODERATION_SWITCH(object);
  g_weak_ref_clear(&self->state->moderator);
  gst_object_unref(self->state->encoder_in);
  gst_object_unref(self->state->encoder_out);
  delete self->state;
  self->state = nullptr;
  G_OBJECT_CLASS(gst_lp_moderation_switch_parent_class)->finalize(object);
}

static void gst_lp_moderation_switch_class_init(GstLpModerationSwitchClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(gst_lp_moderation_switch_debug, "lpmoderationswitch", 0,
                          "livepipe passthrough moderation");

  gobject_class->set_property = gst_lp_moderation_switch_set_property;
  gobject_class->get_property = gst_lp_moderation_switch_get_property;
  gobject_class->finalize = gst_lp_moderation_switch_finalize;

  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const auto live_flags = static_cast<GParamFlags>(flags | GST_PARAM_MUTABLE_PLAYING);
  const auto read_only = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_property(
      gobject_class, PROP_MODERATOR,
      g_param_spec_string("moderator", "Moderator",
                          "Name of the lpmoderator (in the same pipeline) whose verdicts choose "
                          "between the publisher's frames and the moderated re-encoding",
                          "", flags));
  g_object_class_install_property(
      gobject_class, PROP_BITRATE,
      g_param_spec_uint("bitrate", "Bitrate",
                        "kbit/s of the re-encoding while the verdict is not allow (0: 1500 for "
                        "video, 64 for audio)",
                        0, 100000, DEFAULT_PROP_BITRATE, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_KEY_INT_MAX,
      g_param_spec_uint("key-int-max", "Key frame distance",
                        "Frames between key frames of the video re-encoding at most", 1, 1000,
                        DEFAULT_PROP_KEY_INT_MAX, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_REQUEST_KEYFRAMES,
      g_param_spec_boolean("request-keyframes", "Request key frames",
                           "While allowed, ask upstream for a key frame when none came for one "
                           "moderator interval, so the moderator gets a snapshot each interval",
                           DEFAULT_PROP_REQUEST_KEYFRAMES, live_flags));
  g_object_class_install_property(gobject_class, PROP_MAX_QUEUED,
                                  g_param_spec_uint("max-queued", "Frames queued for decoding",
                                                    "Frames waiting for the snapshot path at most",
                                                    1, 1000, DEFAULT_PROP_MAX_QUEUED, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_OUTPUT,
      g_param_spec_string("output", "Output",
                          "What src carries: passthrough (the publisher's frames) or processed "
                          "(the moderated re-encoding)",
                          "passthrough", read_only));
  g_object_class_install_property(gobject_class, PROP_SWITCHES,
                                  g_param_spec_uint64("switches", "Switches", "Changes of output",
                                                      0, G_MAXUINT64, 0, read_only));
  g_object_class_install_property(
      gobject_class, PROP_KEYFRAME_REQUESTS,
      g_param_spec_uint64("keyframe-requests", "Key frame requests", "Key frames asked of upstream",
                          0, G_MAXUINT64, 0, read_only));
  g_object_class_install_property(
      gobject_class, PROP_DECODE_FRAMES,
      g_param_spec_uint64("decode-frames", "Frames to decode", "Frames handed to the snapshot path",
                          0, G_MAXUINT64, 0, read_only));
  g_object_class_install_property(gobject_class, PROP_DECODE_DROPPED,
                                  g_param_spec_uint64("decode-dropped", "Frames not decoded",
                                                      "Frames the snapshot path had no room for", 0,
                                                      G_MAXUINT64, 0, read_only));

  gst_element_class_set_static_metadata(
      element_class, "livepipe moderation switch", "Filter/Effect/Video",
      "Passes an encoded stream through untouched while its moderator allows it, and switches "
      "to the moderated re-encoding while it blurs or blocks",
      "livepipe developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_add_static_pad_template(element_class, &raw_sink_template);

  element_class->change_state = GST_DEBUG_FUNCPTR(gst_lp_moderation_switch_change_state);
}

static void gst_lp_moderation_switch_init(GstLpModerationSwitch *self) {
  self->state = new SwitchState();
  SwitchState *state = self->state;
  g_weak_ref_init(&state->moderator, nullptr);
  gst_segment_init(&state->publisher_segment, GST_FORMAT_UNDEFINED);
  gst_segment_init(&state->encoder_segment, GST_FORMAT_UNDEFINED);
  gst_segment_init(&state->raw_segment, GST_FORMAT_UNDEFINED);

  self->sinkpad = gst_pad_new_from_static_template(&sink_template, "sink");
  gst_pad_set_chain_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_lp_moderation_switch_sink_chain));
  gst_pad_set_event_function(self->sinkpad, GST_DEBUG_FUNCPTR(gst_lp_moderation_switch_sink_event));
  gst_pad_set_iterate_internal_links_function(
      self->sinkpad, GST_DEBUG_FUNCPTR(gst_lp_moderation_switch_iterate_internal_links));
  GST_PAD_SET_PROXY_CAPS(self->sinkpad);
  gst_element_add_pad(GST_ELEMENT(self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template(&src_template, "src");
  gst_pad_set_event_function(self->srcpad, GST_DEBUG_FUNCPTR(gst_lp_moderation_switch_src_event));
  gst_pad_set_iterate_internal_links_function(
      self->srcpad, GST_DEBUG_FUNCPTR(gst_lp_moderation_switch_iterate_internal_links));
  GST_PAD_SET_PROXY_CAPS(self->srcpad);
  gst_element_add_pad(GST_ELEMENT(self), self->srcpad);

  self->rawpad = gst_pad_new_from_static_template(&raw_sink_template, "raw_sink");
  gst_pad_set_chain_function(self->rawpad, GST_DEBUG_FUNCPTR(gst_lp_moderation_switch_raw_chain));
  gst_pad_set_event_function(self->rawpad, GST_DEBUG_FUNCPTR(gst_lp_moderation_switch_raw_event));
  gst_pad_set_query_function(self->rawpad, GST_DEBUG_FUNCPTR(gst_lp_moderation_switch_raw_query));
  gst_element_add_pad(GST_ELEMENT(self), self->rawpad);

  state->encoder_in = gst_pad_new_from_static_template(&encoder_in_template, "encoder_in");
  gst_object_ref_sink(state->encoder_in);
  state->encoder_out = gst_pad_new_from_static_template(&encoder_out_template, "encoder_out");
  gst_object_ref_sink(state->encoder_out);
  gst_pad_set_element_private(state->encoder_out, self);
  gst_pad_set_chain_function(state->encoder_out,
                             GST_DEBUG_FUNCPTR(gst_lp_moderation_switch_encoded_chain));
  gst_pad_set_event_function(state->encoder_out,
                             GST_DEBUG_FUNCPTR(gst_lp_moderation_switch_encoded_event));
  gst_pad_set_query_function(state->encoder_out,
                             GST_DEBUG_FUNCPTR(gst_lp_moderation_switch_encoded_query));
}
