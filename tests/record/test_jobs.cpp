// The service's job runner on a real recording (made by the record job):
// a clip and a VOD run on worker threads and report to the main context; a
// running job is cancelled. No sockets.
#define BOOST_TEST_MODULE jobs
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"
#include "clip.h"
#include "feed.h"
#include "hls.h"
#include "jobs.h"
#include "record_job.h"
#include "recording.h"

#include <glib.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

using namespace livepipe::signaling::recording;
namespace fs = std::filesystem;

BOOST_GLOBAL_FIXTURE(GstGlobalFixture);

namespace {

struct Recorded {
  fs::path dir;
  explicit Recorded(const std::string &format = "mp4", uint64_t duration_ns = 4'000'000'000ull,
                    uint64_t segment_duration_ns = 2'000'000'000ull) {
    char *tmp = g_dir_make_tmp("jobs-XXXXXX", nullptr);
    dir = tmp;
    g_free(tmp);
    livepipe::replay::RecordOptions options;
    options.root = dir.string();
    options.stream = "cam";
    options.format = format;
    options.location = "{stream}/seg-%05d." + format;
    options.segment_duration_ns = segment_duration_ns;
    options.duration_ns = duration_ns;
    int code = livepipe::replay::run_record(options, [](const livepipe::replay::RecordEvent &) {});
    BOOST_TEST_REQUIRE(code == 0);
  }
  ~Recorded() { fs::remove_all(dir); }
};

// Runs the main context until `done` or 60 s.
void iterate_until(const std::function<bool()> &done) {
  gint64 end = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;
  while (!done() && g_get_monotonic_time() < end) {
    g_main_context_iteration(nullptr, FALSE);
    g_usleep(1000);
  }
}

JobWork work(int64_t id, const std::string &type, const Recorded &rec, bool accurate = false) {
  JobWork w;
  w.job.id = id;
  w.job.type = type;
  w.job.start_ns = 500'000'000;
  w.job.end_ns = type == "clip" ? 3'000'000'000 : -1;
  w.job.accurate = accurate;
  w.recording_dir = (rec.dir / "cam").string();
  w.output = (rec.dir / (type == "clip" ? "clip" + std::to_string(id) + ".mp4" : "vod")).string();
  return w;
}

}  // namespace

BOOST_AUTO_TEST_CASE(clip_and_vod_report_on_the_main_context) {
  Recorded rec;
  std::map<int64_t, JobOutcome> outcomes;
  JobRunner runner([&](int64_t id, const JobOutcome &outcome) { outcomes[id] = outcome; });
  runner.run(work(1, "clip", rec));
  runner.run(work(2, "vod", rec));
  BOOST_TEST(runner.running() == 2u);
  BOOST_TEST(runner.progress(1).has_value());
  iterate_until([&] { return outcomes.size() == 2; });
  BOOST_TEST_REQUIRE(outcomes.size() == 2u);
  BOOST_TEST(outcomes[1].ok, outcomes[1].error);
  BOOST_TEST(outcomes[2].ok, outcomes[2].error);
  BOOST_TEST(outcomes[1].result.find("\"videoFrames\"") != std::string::npos);
  BOOST_TEST(outcomes[2].result.find("\"playlist\":\"index.m3u8\"") != std::string::npos);
  BOOST_TEST(fs::file_size(rec.dir / "clip1.mp4") > 10000u);
  BOOST_TEST(fs::exists(rec.dir / "vod" / "index.m3u8"));
  BOOST_TEST(runner.running() == 0u);
  BOOST_TEST(!runner.progress(1).has_value());
}

BOOST_AUTO_TEST_CASE(a_running_job_is_cancelled) {
  Recorded rec;
  std::map<int64_t, JobOutcome> outcomes;
  JobRunner runner([&](int64_t id, const JobOutcome &outcome) { outcomes[id] = outcome; });
  // An accurate clip re-encodes: long enough to be cancelled while it runs.
  runner.run(work(7, "clip", rec, true));
  BOOST_TEST(runner.cancel(7));
  BOOST_TEST(!runner.cancel(8));
  iterate_until([&] { return outcomes.count(7) != 0; });
  BOOST_TEST_REQUIRE(outcomes.count(7) == 1u);
  BOOST_TEST(!outcomes[7].ok);
  BOOST_TEST(outcomes[7].cancelled);
  BOOST_TEST(outcomes[7].error == "cancelled");
}

BOOST_AUTO_TEST_CASE(a_missing_recording_fails_with_a_reason) {
  std::map<int64_t, JobOutcome> outcomes;
  JobRunner runner([&](int64_t id, const JobOutcome &outcome) { outcomes[id] = outcome; });
  JobWork w;
  w.job.id = 3;
  w.job.type = "vod";
  w.recording_dir = "/nonexistent/recording";
  w.output = "/nonexistent/out";
  runner.run(w);
  iterate_until([&] { return outcomes.count(3) != 0; });
  BOOST_TEST_REQUIRE(outcomes.count(3) == 1u);
  BOOST_TEST(!outcomes[3].ok);
  BOOST_TEST(!outcomes[3].cancelled);
  BOOST_TEST(outcomes[3].error.find("manifest") != std::string::npos, outcomes[3].error);
}

// Matroska segments keep the recorder's timestamps (the second starts at 2 s,
// not 0): a clip across two of them still covers the range asked for.
BOOST_AUTO_TEST_CASE(clip_across_matroska_segments) {
  Recorded rec("mkv");
  std::string error;
  auto recording = livepipe::replay::load_recording((rec.dir / "cam").string(), &error);
  BOOST_TEST_REQUIRE(recording.has_value(), error);
  BOOST_TEST(recording->manifest.format == "mkv");
  BOOST_TEST_REQUIRE(recording->manifest.segments.size() >= 2u);
  livepipe::replay::ClipOptions options;
  options.start_ns = 500'000'000;
  options.end_ns = 3'000'000'000;
  options.output = (rec.dir / "clip.mp4").string();
  livepipe::replay::ClipResult result;
  BOOST_TEST_REQUIRE(livepipe::replay::clip_recording(*recording, options, &result, &error), error);
  // Keyframes every 0.5 s: it starts at or before 0.5 s and ends before 3 s.
  BOOST_TEST(result.start_ns <= 500'000'000u);
  BOOST_TEST(result.duration_ns >= 2'400'000'000u);
  BOOST_TEST(result.duration_ns <= 3'050'000'000u);
  BOOST_TEST(result.video_frames >= 70u);
  // Matroska segments have no fragment index: read from their beginning.
  BOOST_TEST(result.read_from_ns == 0u);
}

namespace {

// Each frame of an MP4 file's streams: (PTS, size) per stream, video first.
struct Frames {
  std::vector<std::pair<GstClockTime, gsize>> video;
  std::vector<std::pair<GstClockTime, gsize>> audio;
};

Frames read_frames(const std::string &path) {
  Frames frames;
  std::string launch = "filesrc location=" + path + " ! qtdemux name=d";
  GstElement *pipeline = gst_parse_launch(launch.c_str(), nullptr);
  BOOST_TEST_REQUIRE(pipeline);
  GstElement *demux = gst_bin_get_by_name(GST_BIN(pipeline), "d");
  struct Context {
    GstElement *pipeline;
    Frames *frames;
  } context{pipeline, &frames};
  g_signal_connect(
      demux, "pad-added", G_CALLBACK(+[](GstElement *, GstPad *pad, gpointer data) {
        auto *c = static_cast<Context *>(data);
        GstCaps *caps = gst_pad_get_current_caps(pad);
        bool video =
            g_str_has_prefix(gst_structure_get_name(gst_caps_get_structure(caps, 0)), "video/");
        gst_caps_unref(caps);
        auto *list = video ? &c->frames->video : &c->frames->audio;
        gst_pad_add_probe(
            pad, GST_PAD_PROBE_TYPE_BUFFER,
            +[](GstPad *, GstPadProbeInfo *info, gpointer data) {
              GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
              static_cast<std::vector<std::pair<GstClockTime, gsize>> *>(data)->emplace_back(
                  GST_BUFFER_PTS(b), gst_buffer_get_size(b));
              return GST_PAD_PROBE_OK;
            },
            list, nullptr);
        GstElement *fake = gst_element_factory_make("fakesink", nullptr);
        g_object_set(fake, "sync", FALSE, nullptr);
        gst_bin_add(GST_BIN(c->pipeline), fake);
        gst_element_sync_state_with_parent(fake);
        GstPad *sink_pad = gst_element_get_static_pad(fake, "sink");
        gst_pad_link(pad, sink_pad);
        gst_object_unref(sink_pad);
      }),
      &context);
  gst_object_unref(demux);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *message = gst_bus_timed_pop_filtered(
      bus, 30 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  BOOST_TEST((message && GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS));
  if (message) {
    gst_message_unref(message);
  }
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  return frames;
}

}  // namespace

// A clip from the middle of a segment reads it from the keyframe fragment
// before the start instead of from its beginning: the clip is the same,
// frame for frame, as one read from the beginning.
BOOST_AUTO_TEST_CASE(clip_from_mid_segment_skips_to_its_keyframe) {
  Recorded rec("mp4", 7'000'000'000ull, 20'000'000'000ull);
  std::string error;
  auto recording = livepipe::replay::load_recording((rec.dir / "cam").string(), &error);
  BOOST_TEST_REQUIRE(recording.has_value(), error);
  BOOST_TEST_REQUIRE(recording->manifest.segments.size() == 1u);
  livepipe::replay::ClipResult results[2];
  Frames frames[2];
  for (int skip = 0; skip < 2; ++skip) {
    livepipe::replay::ClipOptions options;
    options.start_ns = 4'300'000'000;
    options.end_ns = 6'000'000'000;
    options.skip_to_start = skip == 1;
    options.output = (rec.dir / ("clip" + std::to_string(skip) + ".mp4")).string();
    BOOST_TEST_REQUIRE(
        livepipe::replay::clip_recording(*recording, options, &results[skip], &error), error);
    frames[skip] = read_frames(options.output);
  }
  // Keyframes every 0.5 s: the clip starts on the one at 4.0 s.
  BOOST_TEST(results[1].start_ns <= 4'300'000'000u);
  BOOST_TEST(results[1].start_ns >= 3'800'000'000u);
  BOOST_TEST(results[0].read_from_ns == 0u);
  BOOST_TEST(results[1].read_from_ns > 0u);
  BOOST_TEST(results[1].read_from_ns < results[1].start_ns);
  BOOST_TEST(results[1].start_ns == results[0].start_ns);
  BOOST_TEST(results[1].duration_ns == results[0].duration_ns);
  BOOST_TEST(results[1].video_frames == results[0].video_frames);
  BOOST_TEST(results[1].audio_packets == results[0].audio_packets);
  BOOST_TEST(results[1].video_frames >= 45u);
  BOOST_TEST_REQUIRE(!frames[1].video.empty());
  BOOST_TEST_REQUIRE(!frames[1].audio.empty());
  BOOST_TEST(frames[1].video.front().first == 0u);
  BOOST_TEST(frames[1].video.size() == results[1].video_frames);
  BOOST_TEST((frames[1].video == frames[0].video));
  BOOST_TEST((frames[1].audio == frames[0].audio));
}

namespace {

// Two Matroska segments of VP8 (no frame rate in the caps, as recorded from
// WebRTC) and Opus, as a live recorder can leave them: in the first, the
// audio starts 100 ms before the video keyframe the segment starts with; in
// the second, the video comes first.
struct SkewedVp8Recording {
  fs::path dir;
  // `second_size`: the second segment's picture size, as a browser's
  // stream changes it with its bandwidth.
  explicit SkewedVp8Recording(const std::string &second_size = "width=160,height=120") {
    char *tmp = g_dir_make_tmp("vp8-XXXXXX", nullptr);
    dir = tmp;
    g_free(tmp);
    write_segment("seg-00000.mkv", 100'000'000, 0, "width=160,height=120");
    write_segment("seg-00001.mkv", 2'000'000'000, 2'010'000'000, second_size);
    std::string manifest =
        R"({"version": 1, "format": "mkv", "stream": "cam", "state": "finished",)"
        R"( "created": "2026-11-24T08:00:00.000Z", "duration_ns": 4000000000, "segments": [)";
    for (int i = 0; i < 2; ++i) {
      auto name = "seg-0000" + std::to_string(i) + ".mkv";
      manifest +=
          std::string(i ? "," : "") + R"({"index": )" + std::to_string(i) + R"(, "path": ")" +
          name + R"(", "start_ns": )" + std::to_string(i * 2'000'000'000ll) +
          R"(, "duration_ns": 2000000000, "size": )" + std::to_string(fs::file_size(dir / name)) +
          R"(, "wallclock": "2026-11-24T08:00:00.000Z", "discont": false, "complete": true})";
    }
    manifest += "]}";
    g_file_set_contents((dir / "manifest.json").c_str(), manifest.c_str(), -1, nullptr);
  }
  ~SkewedVp8Recording() { fs::remove_all(dir); }
  void write_segment(const std::string &name, int64_t video_offset, int64_t audio_offset,
                     const std::string &size) {
    std::string launch =
        "matroskamux name=m ! filesink location=" + (dir / name).string() +
        " videotestsrc num-buffers=60 timestamp-offset=" + std::to_string(video_offset) +
        " ! video/x-raw," + size +
        ",framerate=30/1 ! vp8enc deadline=1 "
        "keyframe-max-dist=30 ! capssetter caps=video/x-vp8,framerate=0/1 ! m. "
        "audiotestsrc num-buffers=100 samplesperbuffer=960 timestamp-offset=" +
        std::to_string(audio_offset) + " ! audio/x-raw,rate=48000 ! opusenc ! m.";
    GError *error = nullptr;
    GstElement *pipeline = gst_parse_launch(launch.c_str(), &error);
    BOOST_TEST_REQUIRE(pipeline, (error ? error->message : "no pipeline"));
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus(pipeline);
    GstMessage *message = gst_bus_timed_pop_filtered(
        bus, 30 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    BOOST_TEST_REQUIRE((message && GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS));
    gst_message_unref(message);
    gst_object_unref(bus);
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(pipeline);
  }
};

}  // namespace

// A Matroska segment is placed by its first video frame: placed by its first
// audio frame instead, the first segment's video ran into the second's, the
// VP8 decoder saw time go backwards and left frames without a timestamp,
// and the MP4 muxer failed ("Could not multiplex stream") in most runs.
BOOST_AUTO_TEST_CASE(vp8_clip_across_segments_whose_audio_leads) {
  SkewedVp8Recording rec;
  std::string error;
  auto recording = livepipe::replay::load_recording(rec.dir.string(), &error);
  BOOST_TEST_REQUIRE(recording.has_value(), error);
  for (int run = 0; run < 5; ++run) {
    livepipe::replay::ClipOptions options;
    options.start_ns = 500'000'000;
    options.end_ns = 3'500'000'000;
    options.output = (rec.dir / ("clip" + std::to_string(run) + ".mp4")).string();
    livepipe::replay::ClipResult result;
    BOOST_TEST_REQUIRE(livepipe::replay::clip_recording(*recording, options, &result, &error),
                       "run " << run << ": " << error);
    BOOST_TEST(result.duration_ns >= 2'900'000'000u);
    BOOST_TEST(result.video_frames >= 85u);
  }
}

// The reader behind rebroadcasts places segments the same way: one timeline,
// video never going back across the segments.
BOOST_AUTO_TEST_CASE(feed_reads_segments_on_one_timeline) {
  SkewedVp8Recording rec;
  std::string error;
  auto recording = livepipe::replay::load_recording(rec.dir.string(), &error);
  BOOST_TEST_REQUIRE(recording.has_value(), error);
  livepipe::replay::FeedOptions options;
  GstClockTime last_video = 0;
  bool backwards = false;
  uint64_t caps_changes = 0;
  options.frame = [&](bool video, GstBuffer *buffer, GstCaps *caps) {
    caps_changes += caps ? 1 : 0;
    if (video) {
      backwards = backwards || GST_BUFFER_PTS(buffer) < last_video;
      last_video = GST_BUFFER_PTS(buffer);
    }
    return true;
  };
  livepipe::replay::FeedResult result;
  BOOST_TEST_REQUIRE(livepipe::replay::feed_recording(*recording, options, &result, &error), error);
  BOOST_TEST(!backwards);
  BOOST_TEST(result.video_frames == 120u);
  BOOST_TEST(result.audio_frames >= 190u);
  BOOST_TEST(result.duration_ns >= 3'900'000'000u);
  BOOST_TEST(result.duration_ns <= 4'100'000'000u);
  BOOST_TEST(caps_changes == 4u);  // each stream's first frame of each segment
}

namespace {

// Decodes a VOD's init section and media segments, in the playlist's order,
// as one fragmented MP4; returns the number of H.264 frames decoded.
uint64_t decode_vod(const fs::path &directory, const std::vector<std::string> &segments) {
  fs::path joined = directory / "joined.mp4";
  std::string bytes;
  for (const auto &name : segments) {
    gchar *data = nullptr;
    gsize size = 0;
    BOOST_TEST_REQUIRE(g_file_get_contents((directory / name).c_str(), &data, &size, nullptr));
    bytes.append(data, size);
    g_free(data);
  }
  BOOST_TEST_REQUIRE(g_file_set_contents(joined.c_str(), bytes.data(),
                                         static_cast<gssize>(bytes.size()), nullptr));
  std::string launch = "filesrc location=" + joined.string() +
                       " ! qtdemux ! video/x-h264 ! h264parse ! avdec_h264 ! fakesink name=out";
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(launch.c_str(), &error);
  BOOST_TEST_REQUIRE(pipeline, (error ? error->message : "no pipeline"));
  uint64_t frames = 0;
  GstElement *out = gst_bin_get_by_name(GST_BIN(pipeline), "out");
  GstPad *pad = gst_element_get_static_pad(out, "sink");
  gst_pad_add_probe(
      pad, GST_PAD_PROBE_TYPE_BUFFER,
      [](GstPad *, GstPadProbeInfo *, gpointer data) {
        ++*static_cast<uint64_t *>(data);
        return GST_PAD_PROBE_OK;
      },
      &frames, nullptr);
  gst_object_unref(pad);
  gst_object_unref(out);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *message = gst_bus_timed_pop_filtered(
      bus, 60 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  BOOST_TEST((message && GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS));
  if (message) {
    gst_message_unref(message);
  }
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
  fs::remove(joined);
  return frames;
}

}  // namespace

// HLS of a Matroska VP8 recording: the video is transcoded once to H.264 in
// a fragmented MP4 whose keyframes fall at the target duration, so the
// playlist has several segments of about that duration, all decodable.
BOOST_AUTO_TEST_CASE(hls_of_a_vp8_recording_is_h264_in_several_segments) {
  SkewedVp8Recording rec;
  std::string error;
  auto recording = livepipe::replay::load_recording(rec.dir.string(), &error);
  BOOST_TEST_REQUIRE(recording.has_value(), error);
  livepipe::replay::HlsOptions options;
  options.directory = (rec.dir / "vod").string();
  options.target_duration = 1.0;
  std::vector<double> fractions;
  options.progress = [&](double fraction) { fractions.push_back(fraction); };
  livepipe::replay::HlsResult result;
  BOOST_TEST_REQUIRE(livepipe::replay::make_hls(*recording, options, &result, &error), error);
  BOOST_TEST(result.media_segments >= 3u);
  BOOST_TEST(result.duration_seconds >= 3.8);
  BOOST_TEST(result.duration_seconds <= 4.2);
  BOOST_TEST_REQUIRE(!fractions.empty());
  BOOST_TEST(fractions.back() == 1.0);
  BOOST_TEST(std::is_sorted(fractions.begin(), fractions.end()));
  // It advanced while transcoding, not only at the end.
  BOOST_TEST(
      std::any_of(fractions.begin(), fractions.end(), [](double f) { return f > 0.2 && f < 0.9; }));

  gchar *text = nullptr;
  BOOST_TEST_REQUIRE(g_file_get_contents(result.playlist_path.c_str(), &text, nullptr, nullptr));
  std::string playlist = text;
  g_free(text);
  std::vector<std::string> files;
  size_t media = 0;
  std::istringstream lines(playlist);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("#EXT-X-MAP:URI=\"", 0) == 0) {
      files.push_back(line.substr(16, line.size() - 17));
    } else if (line.rfind("#EXTINF:", 0) == 0) {
      double seconds = std::stod(line.substr(8));
      BOOST_TEST(seconds <= 1.6, line);
      ++media;
    } else if (!line.empty() && line[0] != '#') {
      files.push_back(line);
    }
  }
  BOOST_TEST(media == result.media_segments);
  BOOST_TEST(playlist.find("#EXT-X-DISCONTINUITY") == std::string::npos);
  // Only the playlist and what it names: the transcoded file is gone.
  size_t on_disk = 0;
  for (const auto &entry : fs::directory_iterator(options.directory)) {
    (void)entry;
    ++on_disk;
  }
  BOOST_TEST(on_disk == files.size() + 1);
  BOOST_TEST(decode_vod(options.directory, files) >= 115u);
}

// A change of picture size and shape between segments (4:3 to 16:9): the
// H.264 keeps the first size, letterboxed (the muxer takes one
// configuration); every frame is there.
BOOST_AUTO_TEST_CASE(hls_of_a_vp8_recording_whose_picture_size_changes) {
  SkewedVp8Recording rec("width=320,height=180");
  std::string error;
  auto recording = livepipe::replay::load_recording(rec.dir.string(), &error);
  BOOST_TEST_REQUIRE(recording.has_value(), error);
  livepipe::replay::HlsOptions options;
  options.directory = (rec.dir / "vod").string();
  options.target_duration = 1.0;
  livepipe::replay::HlsResult result;
  BOOST_TEST_REQUIRE(livepipe::replay::make_hls(*recording, options, &result, &error), error);
  BOOST_TEST(result.media_segments >= 3u);
  std::vector<std::string> files{"init-0.mp4"};
  for (size_t i = 0; i < result.media_segments; ++i) {
    files.push_back("seg-0-" + std::to_string(i) + ".m4s");
  }
  BOOST_TEST(decode_vod(options.directory, files) >= 115u);
}

// The transcode stops when cancelled, and leaves no file behind.
BOOST_AUTO_TEST_CASE(hls_of_a_vp8_recording_is_cancelled) {
  SkewedVp8Recording rec;
  std::string error;
  auto recording = livepipe::replay::load_recording(rec.dir.string(), &error);
  BOOST_TEST_REQUIRE(recording.has_value(), error);
  livepipe::replay::HlsOptions options;
  options.directory = (rec.dir / "vod").string();
  bool cancel = false;
  options.progress = [&](double) { cancel = true; };
  options.cancelled = [&] { return cancel; };
  livepipe::replay::HlsResult result;
  BOOST_TEST(!livepipe::replay::make_hls(*recording, options, &result, &error));
  BOOST_TEST(error == "cancelled");
  BOOST_TEST(fs::is_empty(options.directory));
}
