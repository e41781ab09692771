// lprecordbin and its building blocks: safe paths, the fragment gate, the
// manifest, the element's pads and properties, a forced timestamp
// discontinuity that must start a new segment, and kill -9 of a recording
// with a long keyframe interval.
#define BOOST_TEST_MODULE record
#include <boost/test/unit_test.hpp>

#include "gst_fixture.h"
#include "manifest.h"
#include "mp4boxes.h"
#include "recording.h"
#include "safepath.h"

#include <gst/gst.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

BOOST_GLOBAL_FIXTURE(GstGlobalFixture);

namespace fs = std::filesystem;
using namespace livepipe::record;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    char tmpl[] = "/tmp/lprecord-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string error_of(std::string_view tmpl, std::string_view stream = "cam") {
  std::string error;
  auto out = expand_template(tmpl, stream, 1, &error);
  return out ? std::string() : error;
}

int ffprobe_frames(const fs::path &file) {
  std::string command =
      "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
      "stream=nb_read_frames -of csv=p=0 '" +
      file.string() + "'";
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe) {
    return -1;
  }
  int frames = -1;
  if (std::fscanf(pipe, "%d", &frames) != 1) {
    frames = -1;
  }
  return pclose(pipe) == 0 ? frames : -1;
}

}  // namespace

BOOST_AUTO_TEST_CASE(templates_expand_and_refuse_escapes) {
  std::string error;
  BOOST_TEST(*expand_template("rec/{stream}/seg-%05d.mp4", "cam-1", 42, &error) ==
             "rec/cam-1/seg-00042.mp4");
  BOOST_TEST(*expand_template("seg-%d-100%%.mkv", "", 7, &error) == "seg-7-100%.mkv");
  BOOST_TEST(error_of("../seg-%05d.mp4").find("escape the root") != std::string::npos);
  BOOST_TEST(error_of("a/../../seg-%05d.mp4").find("escape the root") != std::string::npos);
  BOOST_TEST(error_of("/etc/seg-%05d.mp4").find("absolute") != std::string::npos);
  BOOST_TEST(error_of("{stream}/seg-%05d.mp4", "..").find("stream name") != std::string::npos);
  BOOST_TEST(error_of("{stream}/seg-%05d.mp4", "a/b").find("stream name") != std::string::npos);
  BOOST_TEST(error_of("{stream}/seg-%05d.mp4", std::string("a\0b", 3)).find("stream name") !=
             std::string::npos);
  BOOST_TEST(error_of(std::string("seg\0-%05d.mp4", 14)).find("NUL") != std::string::npos);
  BOOST_TEST(error_of("seg-%s.mp4").find("directive") != std::string::npos);
  BOOST_TEST(error_of("seg.mp4").find("exactly one") != std::string::npos);
  BOOST_TEST(error_of("seg-%d-%d.mp4").find("exactly one") != std::string::npos);
  BOOST_TEST(error_of("a//seg-%d.mp4").find("empty component") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(root_refuses_symlinks_and_writes_atomically) {
  TempDir dir;
  TempDir outside;
  fs::create_directories(dir.path / "root");
  fs::create_directory_symlink(outside.path, dir.path / "root" / "link");
  Root root;
  std::string error;
  BOOST_REQUIRE(root.open((dir.path / "root").string(), false, &error));
  BOOST_TEST(root.create_file("link/seg-0.mp4", &error) == -1);
  BOOST_TEST(error.find("symbolic link") != std::string::npos);
  fs::create_symlink(outside.path / "target", dir.path / "root" / "file.mp4");
  BOOST_TEST(root.create_file("file.mp4", &error) == -1);
  BOOST_TEST(fs::is_empty(outside.path));
  BOOST_REQUIRE(root.write_atomic("a/b/manifest.json", "{}", &error));
  BOOST_TEST(root.file_size("a/b/manifest.json").value_or(0) == 2u);
  BOOST_TEST(!fs::exists(dir.path / "root" / "a" / "b" / ".manifest.json.tmp"));
  BOOST_TEST(relative_to("a", "a/b/seg.mp4") == "b/seg.mp4");
  BOOST_TEST(relative_to("", "seg.mp4") == "seg.mp4");
}

BOOST_AUTO_TEST_CASE(fragment_gate_releases_only_whole_fragments) {
  auto box = [](const char *type, size_t payload) {
    std::vector<uint8_t> b(8 + payload, 0);
    uint32_t size = static_cast<uint32_t>(b.size());
    b[0] = uint8_t(size >> 24);
    b[1] = uint8_t(size >> 16);
    b[2] = uint8_t(size >> 8);
    b[3] = uint8_t(size);
    std::copy(type, type + 4, b.begin() + 4);
    return b;
  };
  std::vector<uint8_t> stream;
  FragmentGate gate;
  auto append = [&](const std::vector<uint8_t> &b, size_t count) {
    stream.insert(stream.end(), b.begin(), b.begin() + static_cast<long>(count));
    gate.scan(stream.data(), stream.size());
  };
  auto ftyp = box("ftyp", 12), moov = box("moov", 100), moof = box("moof", 40),
       mdat = box("mdat", 1000);
  append(ftyp, ftyp.size());
  BOOST_TEST(gate.writable() == 0u);  // a header alone is not a playable file
  append(moov, 50);
  BOOST_TEST(gate.writable() == 0u);
  stream.resize(ftyp.size());
  append(moov, moov.size());
  BOOST_TEST(gate.writable() == ftyp.size() + moov.size());
  append(moof, moof.size());
  append(mdat, 999);  // torn
  BOOST_TEST(gate.writable() == ftyp.size() + moov.size());
  stream.pop_back();
  stream.resize(stream.size() - 998);
  append(mdat, mdat.size());
  BOOST_TEST(gate.writable() == stream.size());
  gate.consumed(stream.size());
  BOOST_TEST(gate.writable() == 0u);
  BOOST_TEST(!gate.invalid());
}

namespace {

// A box of `type` around `payload`, in the big-endian layout of ISO BMFF.
std::vector<uint8_t> make_box(const char *type, const std::vector<uint8_t> &payload) {
  uint32_t size = static_cast<uint32_t>(8 + payload.size());
  std::vector<uint8_t> b(8 + payload.size());
  for (int i = 0; i < 4; ++i) {
    b[static_cast<size_t>(i)] = uint8_t(size >> (24 - 8 * i));
    b[static_cast<size_t>(4 + i)] = static_cast<uint8_t>(type[i]);
  }
  std::copy(payload.begin(), payload.end(), b.begin() + 8);
  return b;
}

std::vector<uint8_t> words(std::initializer_list<uint32_t> values) {
  std::vector<uint8_t> out;
  for (uint32_t v : values) {
    out.insert(out.end(), {uint8_t(v >> 24), uint8_t(v >> 16), uint8_t(v >> 8), uint8_t(v)});
  }
  return out;
}

std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto &p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

// ftyp + moov (one video track, timescale 90000, trex defaults) + one
// moof/mdat whose trun announces `count` samples with `flags`.
std::vector<uint8_t> one_fragment_file(uint32_t count, uint32_t flags) {
  auto tkhd = make_box("tkhd", words({0, 0, 0, 1, 0}));
  auto mdhd = make_box("mdhd", words({0, 0, 0, 90000, 0}));
  auto hdlr = make_box("hdlr", words({0, 0, fourcc("vide"), 0, 0, 0}));
  auto trak = make_box("trak", concat({tkhd, make_box("mdia", concat({mdhd, hdlr}))}));
  auto trex = make_box("trex", words({0, 1, 1, 3000, 0, 0}));
  auto moov = make_box("moov", concat({trak, make_box("mvex", trex)}));
  auto tfhd = make_box("tfhd", words({0, 1}));
  auto tfdt = make_box("tfdt", words({0, 0}));
  auto trun = make_box("trun", words({flags, count}));
  auto moof = make_box("moof", make_box("traf", concat({tfhd, tfdt, trun})));
  return concat({make_box("ftyp", words({0, 0})), moov, moof, make_box("mdat", {1, 2, 3})});
}

bool index_bytes(const std::vector<uint8_t> &file, FragmentIndex *index, std::string *error) {
  auto read = [&](uint64_t offset, size_t length, std::vector<uint8_t> *out) {
    if (offset > file.size() || length > file.size() - offset) {
      return false;
    }
    out->assign(file.begin() + static_cast<ptrdiff_t>(offset),
                file.begin() + static_cast<ptrdiff_t>(offset + length));
    return true;
  };
  return index_fragmented_mp4(read, file.size(), index, error);
}

}  // namespace

// Found by fuzz_record_mp4: a trun announcing 2^32-1 samples without
// per-sample fields made the indexer loop for seconds over nothing.
BOOST_AUTO_TEST_CASE(huge_sample_count_is_indexed_without_looping) {
  FragmentIndex index;
  std::string error;
  auto started = std::chrono::steady_clock::now();
  BOOST_REQUIRE_MESSAGE(index_bytes(one_fragment_file(0xffffffffu, 0), &index, &error), error);
  BOOST_CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(200));
  BOOST_REQUIRE_EQUAL(index.fragments.size(), 1u);
  BOOST_CHECK_EQUAL(index.fragments[0].duration, uint64_t(0xffffffffu) * 3000u);
  BOOST_CHECK(index.fragments[0].starts_with_keyframe);

  // Per-sample durations (flag 0x100) for more samples than the box holds.
  BOOST_CHECK(!index_bytes(one_fragment_file(0xffffffffu, 0x100), &index, &error));
  BOOST_CHECK_NE(error.find("malformed moof"), std::string::npos);
}

BOOST_AUTO_TEST_CASE(manifest_round_trip_and_validation) {
  Manifest m;
  m.stream = "cam";
  m.segments.push_back({0, "seg-00000.mp4", 0, 2000000000, 1234, "t", false, true});
  m.segments.push_back({1, "seg-00001.mp4", 2000000000, 500000000, 99, "t", true, false});
  std::string error;
  auto back = manifest_from_json(manifest_to_json(m), &error);
  BOOST_REQUIRE(back);
  BOOST_TEST(back->segments.size() == 2u);
  BOOST_TEST(back->segments[1].discont);
  BOOST_TEST(back->duration_ns() == 2500000000u);
  BOOST_TEST(
      !manifest_from_json("{\"version\":1,\"format\":\"mp4\",\"segments\":[{\"path\":"
                          "\"../x.mp4\",\"start_ns\":0,\"duration_ns\":1}]}",
                          &error));
  BOOST_TEST(error.find("escape") != std::string::npos);
  BOOST_TEST(!manifest_from_json("[1,2", &error));
  BOOST_TEST(!manifest_from_json("{\"version\":2}", &error));
}

// fuzz_record_manifest trapped on this: a lone UTF-16 surrogate escape decodes to
// bytes that are not UTF-8, so the manifest could not be written back.
BOOST_AUTO_TEST_CASE(manifest_refuses_text_that_is_not_utf8) {
  std::string error;
  BOOST_TEST(!manifest_from_json(
      R"({"version":1,"format":"mp4","stream":"a\udc00b","segments":[]})", &error));
  BOOST_TEST(error.find("$.stream is not valid UTF-8") != std::string::npos);
  BOOST_TEST(!manifest_from_json(R"({"version":1,"format":"mp4","segments":[)"
                                 R"({"path":"x\udc00.mp4","start_ns":0,"duration_ns":1}]})",
                                 &error));
  BOOST_TEST(error.find("$.segments[0].path is not valid UTF-8") != std::string::npos);
  BOOST_TEST(!manifest_from_json("{\"version\":1,\"stream\":\"a\xff\"}", &error));
  BOOST_TEST(g_utf8_validate(error.data(), static_cast<gssize>(error.size()), nullptr));
}

BOOST_AUTO_TEST_CASE(element_pads_and_properties) {
  GstElement *bin = gst_element_factory_make("lprecordbin", nullptr);
  BOOST_REQUIRE(bin);
  gst_object_ref_sink(bin);
  gchar *location = nullptr;
  guint fragment = 0;
  guint64 max_time = 0;
  g_object_get(bin, "location", &location, "fragment-duration", &fragment, "max-size-time",
               &max_time, nullptr);
  BOOST_TEST(std::string(location) == "segment-%05d.mp4");
  BOOST_TEST(fragment == 500u);
  BOOST_TEST(max_time == 60 * GST_SECOND);
  g_free(location);
  gst_util_set_object_arg(G_OBJECT(bin), "format", "mkv");
  GstPad *video = gst_element_request_pad_simple(bin, "video");
  BOOST_REQUIRE(video);
  BOOST_TEST(std::string(GST_PAD_NAME(video)) == "video");
  BOOST_TEST(!gst_element_request_pad_simple(bin, "video"));  // one video stream
  GstPad *audio = gst_element_request_pad_simple(bin, "audio_%u");
  BOOST_REQUIRE(audio);
  BOOST_TEST(g_str_has_prefix(GST_PAD_NAME(audio), "audio_"));
  GstCaps *caps = gst_pad_query_caps(video, nullptr);
  GstCaps *h264 = gst_caps_from_string("video/x-h264");
  BOOST_TEST(gst_caps_can_intersect(caps, h264));
  gst_caps_unref(h264);
  gst_caps_unref(caps);
  gst_element_release_request_pad(bin, audio);
  gst_object_unref(audio);
  gst_element_release_request_pad(bin, video);
  gst_object_unref(video);
  gst_object_unref(bin);
}

BOOST_AUTO_TEST_CASE(invalid_location_is_an_error_on_the_bus) {
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(
      "videotestsrc num-buffers=5 ! x264enc ! h264parse ! lprecordbin location=../x-%05d.mp4",
      &error);
  BOOST_REQUIRE(pipeline);
  BOOST_TEST(gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *message = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  BOOST_REQUIRE(message);
  GError *gerror = nullptr;
  gst_message_parse_error(message, &gerror, nullptr);
  BOOST_TEST(std::string(gerror->message).find("escape the root") != std::string::npos);
  g_error_free(gerror);
  gst_message_unref(message);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);
}

// Shifts every buffer after the 45th back by 20 s, as a restarted encoder
// whose clock starts again would.
static GstPadProbeReturn jump_back(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *count = static_cast<int *>(data);
  if (++*count > 45) {
    GstBuffer *buffer = gst_buffer_make_writable(GST_PAD_PROBE_INFO_BUFFER(info));
    GST_BUFFER_PTS(buffer) += 100 * GST_SECOND - 20 * GST_SECOND;
    if (GST_BUFFER_DTS_IS_VALID(buffer)) {
      GST_BUFFER_DTS(buffer) += 100 * GST_SECOND - 20 * GST_SECOND;
    }
    GST_PAD_PROBE_INFO_DATA(info) = buffer;
  } else {
    GstBuffer *buffer = gst_buffer_make_writable(GST_PAD_PROBE_INFO_BUFFER(info));
    GST_BUFFER_PTS(buffer) += 100 * GST_SECOND;
    if (GST_BUFFER_DTS_IS_VALID(buffer)) {
      GST_BUFFER_DTS(buffer) += 100 * GST_SECOND;
    }
    GST_PAD_PROBE_INFO_DATA(info) = buffer;
  }
  return GST_PAD_PROBE_OK;
}

BOOST_AUTO_TEST_CASE(timestamp_jump_starts_a_new_segment) {
  TempDir dir;
  std::string description =
      "videotestsrc num-buffers=90 ! video/x-raw,format=I420,width=160,height=120,framerate=30/1 "
      "! x264enc key-int-max=15 tune=zerolatency ! h264parse name=parse ! lprecordbin name=rec "
      "root=" +
      dir.path.string() + " location=seg-%05d.mp4 max-size-time=0";
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(description.c_str(), &error);
  BOOST_REQUIRE(pipeline);
  GstElement *parse = gst_bin_get_by_name(GST_BIN(pipeline), "parse");
  GstPad *src = gst_element_get_static_pad(parse, "src");
  int count = 0;
  gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, jump_back, &count, nullptr);
  gst_object_unref(src);
  gst_object_unref(parse);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  std::vector<std::string> finished;
  bool eos = false;
  while (!eos) {
    GstMessage *message = gst_bus_timed_pop_filtered(
        bus, 30 * GST_SECOND,
        static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT));
    BOOST_REQUIRE(message);
    BOOST_REQUIRE(GST_MESSAGE_TYPE(message) != GST_MESSAGE_ERROR);
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS) {
      eos = true;
    } else if (gst_message_has_name(message, "livepipe-recording-segment")) {
      const GstStructure *s = gst_message_get_structure(message);
      finished.push_back(gst_structure_get_string(s, "path"));
      guint64 duration = 0, size = 0;
      gst_structure_get_uint64(s, "duration", &duration);
      gst_structure_get_uint64(s, "size", &size);
      BOOST_TEST(duration > 0u);
      BOOST_TEST(size > 0u);
    }
    gst_message_unref(message);
  }
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);

  BOOST_REQUIRE(finished.size() == 2u);  // no size or time limit: only the jump splits
  std::string why;
  auto recording = livepipe::replay::load_recording(dir.path.string(), &why);
  BOOST_REQUIRE(recording);
  const auto &segments = recording->manifest.segments;
  BOOST_REQUIRE(segments.size() == 2u);
  BOOST_TEST(!segments[0].discont);
  BOOST_TEST(segments[1].discont);
  BOOST_TEST(segments[1].start_ns == segments[0].start_ns + segments[0].duration_ns);
  BOOST_TEST(recording->manifest.state == "finished");
  int total = 0;
  for (const auto &s : segments) {
    int frames = ffprobe_frames(recording->segment_path(s));
    BOOST_TEST(frames > 0);
    total += frames;
  }
  BOOST_TEST(total == 90);
}

namespace {

// Seconds ffprobe reports for `file` (0 for a file too short to have one), or
// a negative number if it cannot open it.
double ffprobe_duration(const fs::path &file) {
  std::string command = "ffprobe -v error -show_entries format=duration -of csv=p=0 '" +
                        file.string() + "' 2>/dev/null";
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe) {
    return -1;
  }
  char line[64] = {};
  bool read = std::fgets(line, sizeof line, pipe) != nullptr;
  if (pclose(pipe) != 0 || !read) {
    return -1;
  }
  return std::string(line).rfind("N/A", 0) == 0 ? 0.0 : std::atof(line);
}

bool ffmpeg_decodes(const fs::path &file) {
  std::string command = "ffmpeg -nostdin -v error -i '" + file.string() + "' -f null - 2>&1";
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe) {
    return false;
  }
  std::string errors;
  char chunk[256];
  while (std::fgets(chunk, sizeof chunk, pipe)) {
    errors += chunk;
  }
  if (pclose(pipe) != 0) {
    BOOST_TEST_MESSAGE(file.string() << " does not decode: " << errors);
    return false;
  }
  return true;
}

}  // namespace

// A live source with a keyframe only every 4 s, recorded by a process that is
// killed with SIGKILL at seeded random moments: every segment left on disk
// opens and decodes, and together they hold the wall time recorded to within
// 1 s, whatever the keyframe interval.
BOOST_AUTO_TEST_CASE(kill_9_with_long_keyframe_interval_loses_at_most_a_second) {
  const char *seed_text = std::getenv("RECORD_TEST_SEED");
  unsigned seed =
      seed_text ? static_cast<unsigned>(std::strtoul(seed_text, nullptr, 10)) : 20261205;
  BOOST_TEST_MESSAGE("seed " << seed);
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> kill_after_ms(2500, 8500);
  for (int run = 0; run < 3; ++run) {
    TempDir dir;
    int wait_ms = kill_after_ms(random);
    std::string description =
        "videotestsrc is-live=true pattern=ball ! "
        "video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! x264enc tune=zerolatency "
        "speed-preset=ultrafast key-int-max=120 option-string=scenecut=0 bitrate=1000 ! h264parse "
        "! queue ! "
        "rec.video audiotestsrc is-live=true wave=ticks ! audioconvert ! avenc_aac ! aacparse ! "
        "queue ! rec.audio_0 lprecordbin name=rec location=seg-%05d.mp4 max-size-time=3000000000 "
        "root=" +
        dir.path.string();
    gchar **argv = nullptr;
    std::string command = "gst-launch-1.0 " + description;
    BOOST_REQUIRE(g_shell_parse_argv(command.c_str(), nullptr, &argv, nullptr));
    gchar **envp = g_get_environ();
    if (const char *asan = std::getenv("LIVEPIPE_ASAN_RUNTIME")) {
      envp = g_environ_setenv(envp, "LD_PRELOAD", asan, TRUE);
    }
    GPid pid = 0;
    gint out_fd = -1;
    GError *error = nullptr;
    gboolean spawned = g_spawn_async_with_pipes(
        nullptr, argv, envp,
        static_cast<GSpawnFlags>(G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD), nullptr, nullptr,
        &pid, nullptr, &out_fd, nullptr, &error);
    g_strfreev(argv);
    g_strfreev(envp);
    BOOST_REQUIRE_MESSAGE(spawned, (error ? error->message : "spawn failed"));
    // gst-launch-1.0 says so right before the live sources start.
    std::string output;
    char chunk[512];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (output.find("PLAYING") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      ssize_t n = ::read(out_fd, chunk, sizeof chunk);
      if (n <= 0) {
        break;
      }
      output.append(chunk, static_cast<size_t>(n));
    }
    bool playing = output.find("PLAYING") != std::string::npos;
    auto started = std::chrono::steady_clock::now();
    if (playing) {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    }
    ::kill(pid, SIGKILL);
    auto killed = std::chrono::steady_clock::now();
    int status = 0;
    ::waitpid(pid, &status, 0);
    g_spawn_close_pid(pid);
    ::close(out_fd);
    BOOST_REQUIRE_MESSAGE(playing, "gst-launch-1.0 did not start: " << output);
    double wall = std::chrono::duration<double>(killed - started).count();

    std::vector<fs::path> files;
    for (const auto &entry : fs::directory_iterator(dir.path)) {
      if (entry.path().extension() == ".mp4") {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
    double total = 0;
    for (const auto &file : files) {
      double seconds = ffprobe_duration(file);
      BOOST_TEST(seconds >= 0, "ffprobe cannot open " << file);
      BOOST_TEST(ffmpeg_decodes(file), file << " decodes");
      total += std::max(seconds, 0.0);
    }
    BOOST_TEST_MESSAGE("run " << run << ": killed after " << wall << " s, " << files.size()
                              << " segments hold " << total << " s");
    BOOST_TEST(std::abs(wall - total) <= 1.0,
               "run " << run << ": recorded " << total << " s of " << wall << " s");
  }
}

namespace {

// Presentation times (s) of the packets of `file`'s first stream of `kind`
// ("a" or "v").
std::vector<double> ffprobe_packet_times(const fs::path &file, const char *kind) {
  std::string command = std::string("ffprobe -v error -select_streams ") + kind +
                        ":0 -show_entries packet=pts_time -of csv=p=0 '" + file.string() + "'";
  std::vector<double> times;
  FILE *pipe = popen(command.c_str(), "r");
  if (!pipe) {
    return times;
  }
  char line[64];
  while (std::fgets(line, sizeof line, pipe)) {
    times.push_back(std::atof(line));
  }
  pclose(pipe);
  std::sort(times.begin(), times.end());
  return times;
}

}  // namespace

// Live audio runs ahead of video that an encoder delays: at every switch the
// audio that belongs before the keyframe stays in the old segment and none is
// lost or doubled. Matroska keeps the recorder's timestamps, so the audio of
// all segments laid end to end must tick on without a hole.
BOOST_AUTO_TEST_CASE(audio_is_continuous_across_segment_switches) {
  TempDir dir;
  std::string description =
      "videotestsrc is-live=true num-buffers=120 ! "
      "video/x-raw,format=I420,width=160,height=120,framerate=30/1 ! x264enc tune=zerolatency "
      "key-int-max=15 ! h264parse ! queue ! rec.video audiotestsrc is-live=true "
      "samplesperbuffer=1024 num-buffers=180 ! audio/x-raw,rate=48000 ! audioconvert ! "
      "avenc_aac ! aacparse ! queue ! rec.audio_0 lprecordbin name=rec format=mkv "
      "location=seg-%05d.mkv max-size-time=1000000000 root=" +
      dir.path.string();
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch(description.c_str(), &error);
  BOOST_REQUIRE(pipeline);
  gst_element_set_state(pipeline, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(pipeline);
  GstMessage *message = gst_bus_timed_pop_filtered(
      bus, 30 * GST_SECOND, static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  BOOST_REQUIRE(message);
  BOOST_TEST(GST_MESSAGE_TYPE(message) == GST_MESSAGE_EOS);
  gst_message_unref(message);
  gst_object_unref(bus);
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(pipeline);

  std::string why;
  auto recording = livepipe::replay::load_recording(dir.path.string(), &why);
  BOOST_REQUIRE_MESSAGE(recording, why);
  const auto &segments = recording->manifest.segments;
  BOOST_TEST(segments.size() >= 3u);
  std::vector<double> audio;
  int video_frames = 0;
  for (const auto &s : segments) {
    BOOST_TEST(s.complete);
    auto times = ffprobe_packet_times(recording->segment_path(s), "a");
    BOOST_TEST(!times.empty());
    if (!audio.empty() && !times.empty()) {
      BOOST_TEST(times.front() > audio.back(), "audio doubled at segment " << s.index);
    }
    audio.insert(audio.end(), times.begin(), times.end());
    video_frames += ffprobe_frames(recording->segment_path(s));
  }
  BOOST_TEST(video_frames == 120);
  const double frame = 1024.0 / 48000.0;
  int holes = 0;
  for (size_t i = 1; i < audio.size(); ++i) {
    if (audio[i] - audio[i - 1] > 1.5 * frame) {
      ++holes;
      BOOST_TEST_MESSAGE("audio hole from " << audio[i - 1] << " to " << audio[i] << " s");
    }
  }
  BOOST_TEST(holes == 0);
  BOOST_TEST(audio.size() >= 180u);
}
