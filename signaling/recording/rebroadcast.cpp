#include "rebroadcast.h"

#include "feed.h"
#include "util/gstptr.h"
#include "util/json.h"
#include "util/maincontext.h"

#include <gst/app/gstappsrc.h>

#include <algorithm>

namespace livepipe::signaling::recording {
namespace {

// How far the feed may run ahead of what the stream has played: more than a
// fragment or cluster of the recording (the two streams are read from one
// interleaved file), little enough to stop at once on cancel.
constexpr uint64_t kLeadNs = 2 * GST_SECOND;
constexpr gulong kWaitUs = 10 * 1000;
constexpr const char *kStreamEnded = "the stream ended";

std::string media_name(GstCaps *caps) {
  return caps && gst_caps_get_size(caps) ? gst_structure_get_name(gst_caps_get_structure(caps, 0))
                                         : "";
}

}  // namespace

struct Rebroadcast::Shared {
  std::atomic<bool> stop{false};
  // The end of the last frame each branch has played (the pacing identity's
  // output), on the feed's timeline.
  std::atomic<uint64_t> played_video{0};
  std::atomic<uint64_t> played_audio{0};
  uint64_t range_ns = 1;
  bool has_video = false;
  bool has_audio = false;
  GstPtr<GstElement> video_src;
  GstPtr<GstElement> audio_src;
};

Rebroadcast::Rebroadcast(media::MediaService &media, Finished finished)
    : media_(media), finished_(std::move(finished)), shared_(std::make_shared<Shared>()) {}

Rebroadcast::~Rebroadcast() {
  *alive_ = false;
  shared_->stop = true;
  if (thread_.joinable()) {
    thread_.join();
  }
}

bool Rebroadcast::start(const replay::Recording &recording, const RebroadcastOptions &options,
                        std::string *error) {
  uint64_t total = recording.manifest.duration_ns();
  uint64_t end = std::min(options.end_ns, total);
  auto used = replay::segments_in_range(recording, options.start_ns, end);
  const record::SegmentEntry *first = used.empty() ? nullptr : used.front();
  if (!first || options.start_ns >= end) {
    *error = "the recording has no media in the range";
    return false;
  }
  replay::SegmentCaps caps;
  if (!replay::probe_segment(recording.segment_path(*first), recording.manifest.format, &caps,
                             error)) {
    return false;
  }
  const std::string video = media_name(caps.video.get());
  const std::string audio = media_name(caps.audio.get());
  if (!video.empty() && video != "video/x-h264" && video != "video/x-vp8") {
    *error = "a rebroadcast carries H.264 or VP8 video; the recording holds " + video;
    return false;
  }
  // Recordings made by the service hold the stream's RTP as viewers get it:
  // Opus. Other audio would need a transcoder this does not have.
  if (!audio.empty() && audio != "audio/x-opus") {
    *error = "a rebroadcast carries Opus audio; the recording holds " + audio;
    return false;
  }
  const bool vp8 = video == "video/x-vp8";
  const std::string preset = std::string("rebroadcast-") + (vp8 ? "vp8" : "h264") + "-opus.json";

  media::OfferPlan plan;
  if (!video.empty()) {
    media::ChosenMedia m;
    m.kind = "video";
    m.codec = vp8 ? media::Codec::kVP8 : media::Codec::kH264;
    m.payload_type = 96;
    m.clock_rate = 90000;
    plan.media.push_back(m);
  }
  if (!audio.empty()) {
    media::ChosenMedia m;
    m.kind = "audio";
    m.codec = media::Codec::kOpus;
    m.payload_type = 111;
    m.clock_rate = 48000;
    m.mline = static_cast<unsigned>(plan.media.size());
    plan.media.push_back(m);
  }
  if (!media_.add_source_stream(options.stream, options.presets_dir / preset, {}, plan, error)) {
    return false;
  }
  stream_ = options.stream;
  media::Stream *stream = media_.find_stream(stream_);
  pipelines::Pipeline *pipeline = stream ? stream->pipeline() : nullptr;
  GstElement *video_src = pipeline ? pipeline->find("video-src") : nullptr;
  GstElement *audio_src = pipeline ? pipeline->find("audio-src") : nullptr;
  if (!video_src || !audio_src || !GST_IS_APP_SRC(video_src) || !GST_IS_APP_SRC(audio_src)) {
    *error = preset + " has no appsrcs video-src and audio-src";
    media_.end_stream(stream_, *error);
    stream_.clear();
    return false;
  }
  Shared &shared = *shared_;
  shared.video_src = ref(video_src);
  shared.audio_src = ref(audio_src);
  shared.has_video = !video.empty();
  shared.has_audio = !audio.empty();
  shared.range_ns = std::max<uint64_t>(1, end - options.start_ns);
  // What the stream has played: the pacing identities' output.
  for (auto [id, played] : {std::pair{"video-clock", &shared.played_video},
                            std::pair{"audio-clock", &shared.played_audio}}) {
    GstElement *clock = pipeline->find(id);
    if (!clock) {
      continue;
    }
    GstPtr<GstPad> pad(gst_element_get_static_pad(clock, "src"));
    struct Probe {
      std::shared_ptr<Shared> shared;
      std::atomic<uint64_t> *played;
    };
    gst_pad_add_probe(
        pad.get(), GST_PAD_PROBE_TYPE_BUFFER,
        [](GstPad *, GstPadProbeInfo *info, gpointer data) -> GstPadProbeReturn {
          auto *probe = static_cast<Probe *>(data);
          GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
          if (GST_BUFFER_PTS_IS_VALID(buffer)) {
            uint64_t end = GST_BUFFER_PTS(buffer);
            if (GST_BUFFER_DURATION_IS_VALID(buffer)) {
              end += GST_BUFFER_DURATION(buffer);
            }
            probe->played->store(std::max(probe->played->load(), end));
          }
          return GST_PAD_PROBE_OK;
        },
        new Probe{shared_, played}, [](gpointer data) { delete static_cast<Probe *>(data); });
  }
  if (caps.video) {
    gst_app_src_set_caps(GST_APP_SRC(video_src), caps.video.get());
  } else {
    gst_app_src_end_of_stream(GST_APP_SRC(video_src));
  }
  if (caps.audio) {
    gst_app_src_set_caps(GST_APP_SRC(audio_src), caps.audio.get());
  } else {
    gst_app_src_end_of_stream(GST_APP_SRC(audio_src));
  }

  GMainContext *context = g_main_context_ref_thread_default();
  std::weak_ptr<bool> weak = alive_;
  std::shared_ptr<Shared> keep = shared_;
  thread_ = std::thread([this, keep, recording, options, context, weak] {
    Shared &s = *keep;
    replay::FeedOptions feed;
    feed.start_ns = options.start_ns;
    feed.end_ns = options.end_ns;
    feed.frame = [&s](bool video, GstBuffer *buffer, GstCaps *caps) {
      if (!(video ? s.has_video : s.has_audio)) {
        return true;  // a stream the first segment lacks: the stream has none
      }
      GstAppSrc *src = GST_APP_SRC(video ? s.video_src.get() : s.audio_src.get());
      if (caps) {
        MiniPtr<GstCaps> current(gst_app_src_get_caps(src));
        if (!current || !replay::same_codec(current.get(), caps)) {
          gst_app_src_set_caps(src, caps);
        }
      }
      const std::atomic<uint64_t> &played = video ? s.played_video : s.played_audio;
      while (GST_BUFFER_PTS(buffer) > played.load() + kLeadNs) {
        if (s.stop) {
          return false;
        }
        g_usleep(kWaitUs);
      }
      return !s.stop && gst_app_src_push_buffer(src, gst_buffer_ref(buffer)) == GST_FLOW_OK;
    };
    feed.cancelled = [&s] { return s.stop.load(); };
    JobOutcome outcome;
    replay::FeedResult result;
    outcome.ok = replay::feed_recording(recording, feed, &result, &outcome.error, kStreamEnded);
    if (outcome.ok) {
      for (GstElement *src : {s.video_src.get(), s.audio_src.get()}) {
        gst_app_src_end_of_stream(GST_APP_SRC(src));
      }
      outcome.result = json::ObjectBuilder()
                           .set("duration", static_cast<double>(result.duration_ns) / 1e9)
                           .set("videoFrames", static_cast<int64_t>(result.video_frames))
                           .set("audioFrames", static_cast<int64_t>(result.audio_frames))
                           .to_string();
    }
    post_to(context, [this, weak, outcome] {
      if (!weak.lock()) {
        return;
      }
      if (thread_.joinable()) {
        thread_.join();
      }
      feed_done_ = true;
      feed_outcome_ = outcome;
      if (!outcome.ok && !stream_gone_) {
        media_.end_stream(stream_, "the rebroadcast failed: " + outcome.error);
      }
      maybe_finish();
    });
    g_main_context_unref(context);
  });
  return true;
}

double Rebroadcast::progress() const {
  // What viewers have been sent, not what has been read (which runs ahead).
  const Shared &s = *shared_;
  uint64_t played = s.has_video ? s.played_video.load() : s.played_audio.load();
  return std::clamp(static_cast<double>(played) / static_cast<double>(s.range_ns), 0.0, 1.0);
}

void Rebroadcast::cancel() {
  if (stream_gone_) {
    return;
  }
  cancelled_ = true;
  shared_->stop = true;
  media_.end_stream(stream_, "the rebroadcast was cancelled");
}

void Rebroadcast::stream_ending(const std::string &reason) {
  stream_gone_ = true;
  stream_reason_ = reason;
  shared_->stop = true;
  // Finishing may destroy this: after the hook has returned.
  std::weak_ptr<bool> weak = alive_;
  post_to(g_main_context_get_thread_default(), [this, weak] {
    if (weak.lock()) {
      maybe_finish();
    }
  });
}

void Rebroadcast::maybe_finish() {
  if (!feed_done_ || !stream_gone_ || !finished_) {
    return;
  }
  JobOutcome outcome = feed_outcome_;
  if (cancelled_) {
    outcome.ok = false;
    outcome.cancelled = true;
    outcome.error = "cancelled";
  } else if (!outcome.ok && (outcome.error == kStreamEnded || outcome.error == "cancelled")) {
    outcome.error = "the stream ended before the recording did: " + stream_reason_;
  }
  // The callback may destroy this.
  Finished finished = std::exchange(finished_, nullptr);
  finished(outcome);
}

}  // namespace livepipe::signaling::recording
