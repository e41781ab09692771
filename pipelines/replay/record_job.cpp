#include "record_job.h"

#include "util/gstptr.h"

#include <glib-unix.h>
#include <gst/gst.h>

namespace livepipe::replay {
namespace {

struct Job {
  const RecordOptions *options = nullptr;
  const std::function<void(const RecordEvent &)> *on_event = nullptr;
  GMainLoop *loop = nullptr;
  GstElement *pipeline = nullptr;
  GstElement *recorder = nullptr;
  gint64 started_us = 0;
  bool eos_sent = false;
  int result = 0;
  RecordEvent totals;
  std::string manifest;
  unsigned audio_pads = 0;

  void emit(RecordEvent event) {
    if (started_us) {
      event.elapsed_ns = static_cast<uint64_t>(g_get_monotonic_time() - started_us) * 1000;
    }
    event.segments = totals.segments;
    event.bytes = totals.bytes;
    (*on_event)(event);
  }
  void fail(const std::string &message, int code) {
    RecordEvent event;
    event.kind = RecordEvent::kError;
    event.message = message;
    emit(event);
    result = code;
    g_main_loop_quit(loop);
  }
  void stop() {
    if (!eos_sent) {
      eos_sent = true;
      gst_element_send_event(pipeline, gst_event_new_eos());
    }
  }
};

gboolean on_bus(GstBus *, GstMessage *message, gpointer data) {
  auto *job = static_cast<Job *>(data);
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_EOS:
      g_main_loop_quit(job->loop);
      break;
    case GST_MESSAGE_ERROR: {
      GError *error = nullptr;
      gst_message_parse_error(message, &error, nullptr);
      GCharPtr name(gst_object_get_name(GST_MESSAGE_SRC(message)));
      job->fail(std::string(name ? name.get() : "element") + ": " +
                    (error ? error->message : "unknown error"),
                1);
      g_clear_error(&error);
      break;
    }
    case GST_MESSAGE_STATE_CHANGED:
      if (GST_MESSAGE_SRC(message) == GST_OBJECT(job->pipeline) && !job->started_us) {
        GstState state;
        gst_message_parse_state_changed(message, nullptr, &state, nullptr);
        if (state == GST_STATE_PLAYING) {
          job->started_us = g_get_monotonic_time();
          RecordEvent event;
          event.kind = RecordEvent::kStarted;
          event.path = job->manifest;
          job->emit(event);
        }
      }
      break;
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure(message);
      if (gst_structure_has_name(s, "livepipe-recording-segment")) {
        RecordEvent event;
        event.kind = RecordEvent::kSegment;
        event.path = gst_structure_get_string(s, "path");
        gst_structure_get_uint64(s, "start", &event.start_ns);
        gst_structure_get_uint64(s, "duration", &event.duration_ns);
        gst_structure_get_uint64(s, "size", &event.size);
        gboolean discont = FALSE;
        gst_structure_get_boolean(s, "discont", &discont);
        event.discont = discont;
        job->manifest = gst_structure_get_string(s, "manifest");
        job->totals.segments++;
        job->totals.bytes += event.size;
        job->emit(event);
      }
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

void on_parsed_pad(GstElement *, GstPad *pad, gpointer data) {
  auto *job = static_cast<Job *>(data);
  MiniPtr<GstCaps> caps(gst_pad_get_current_caps(pad));
  if (!caps) {
    caps.reset(gst_pad_query_caps(pad, nullptr));
  }
  const char *media = gst_structure_get_name(gst_caps_get_structure(caps.get(), 0));
  GstPad *target = nullptr;
  if (g_str_has_prefix(media, "video/")) {
    target = gst_element_request_pad_simple(job->recorder, "video");
  } else if (g_str_has_prefix(media, "audio/")) {
    target = gst_element_request_pad_simple(job->recorder, "audio_%u");
  }
  if (!target) {
    return;  // subtitles, data, or a second video stream: not recorded
  }
  // Parsers fix stream-format and alignment for the muxer.
  GstElement *queue = gst_element_factory_make("queue", nullptr);
  gst_bin_add(GST_BIN(job->pipeline), queue);
  gst_element_sync_state_with_parent(queue);
  GstPtr<GstPad> queue_sink(gst_element_get_static_pad(queue, "sink"));
  GstPtr<GstPad> queue_src(gst_element_get_static_pad(queue, "src"));
  gst_pad_link(pad, queue_sink.get());
  if (gst_pad_link(queue_src.get(), target) != GST_PAD_LINK_OK) {
    GCharPtr text(gst_caps_to_string(caps.get()));
    g_warning("cannot record a stream of type %s", text.get());
  }
  gst_object_unref(target);
}

}  // namespace

int run_record(const RecordOptions &options,
               const std::function<void(const RecordEvent &)> &on_event) {
  Job job;
  job.options = &options;
  job.on_event = &on_event;
  auto invalid = [&](const std::string &message) {
    RecordEvent event;
    event.kind = RecordEvent::kError;
    event.message = message;
    on_event(event);
    return 2;
  };
  if (options.format != "mp4" && options.format != "mkv") {
    return invalid("format must be mp4 or mkv");
  }
  GstElement *recorder = gst_element_factory_make("lprecordbin", "recorder");
  if (!recorder) {
    return invalid("the lprecordbin element is not available (livepipe plugin not found)");
  }
  g_object_set(recorder, "root", options.root.c_str(), "stream", options.stream.c_str(), "location",
               options.location.c_str(), "max-size-time", options.segment_duration_ns,
               "max-size-bytes", options.segment_size, "fragment-duration", options.fragment_ms,
               nullptr);
  gst_util_set_object_arg(G_OBJECT(recorder), "format", options.format.c_str());
  GstPtr<GstElement> pipeline = sink(gst_pipeline_new("record"));
  job.pipeline = pipeline.get();
  job.recorder = recorder;
  gst_bin_add(GST_BIN(pipeline.get()), recorder);

  if (options.source == "test") {
    std::string description =
        "videotestsrc is-live=true pattern=ball ! "
        "video/x-raw,format=I420,width=640,height=360,framerate=30/1 "
        "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 bitrate=" +
        std::to_string(options.test_bitrate_kbps) +
        " ! h264parse ! queue name=vq audiotestsrc is-live=true wave=ticks ! audioconvert "
        "! avenc_aac ! aacparse ! queue name=aq";
    GError *error = nullptr;
    GstElement *source = gst_parse_bin_from_description(description.c_str(), FALSE, &error);
    if (!source) {
      std::string message = error ? error->message : "unknown error";
      g_clear_error(&error);
      return invalid("cannot build the test source: " + message);
    }
    gst_bin_add(GST_BIN(pipeline.get()), source);
    GstPtr<GstElement> vq(gst_bin_get_by_name(GST_BIN(source), "vq"));
    GstPtr<GstElement> aq(gst_bin_get_by_name(GST_BIN(source), "aq"));
    GstPtr<GstPad> vsrc(gst_element_get_static_pad(vq.get(), "src"));
    GstPtr<GstPad> asrc(gst_element_get_static_pad(aq.get(), "src"));
    GstPad *vghost = gst_ghost_pad_new("video", vsrc.get());
    GstPad *aghost = gst_ghost_pad_new("audio", asrc.get());
    gst_element_add_pad(source, vghost);
    gst_element_add_pad(source, aghost);
    GstPad *vsink = gst_element_request_pad_simple(recorder, "video");
    GstPad *asink = gst_element_request_pad_simple(recorder, "audio_%u");
    gst_pad_link(vghost, vsink);
    gst_pad_link(aghost, asink);
    gst_object_unref(vsink);
    gst_object_unref(asink);
  } else {
    std::string uri = options.source;
    if (!gst_uri_is_valid(uri.c_str())) {
      GError *error = nullptr;
      gchar *converted = gst_filename_to_uri(uri.c_str(), &error);
      if (!converted) {
        std::string message = error ? error->message : "invalid";
        g_clear_error(&error);
        return invalid("source '" + uri + "': " + message);
      }
      uri = converted;
      g_free(converted);
    }
    GstElement *source = gst_element_factory_make("urisourcebin", nullptr);
    GstElement *parse = gst_element_factory_make("parsebin", nullptr);
    if (!source || !parse) {
      return invalid("urisourcebin/parsebin missing (gst-plugins-base)");
    }
    g_object_set(source, "uri", uri.c_str(), nullptr);
    gst_bin_add_many(GST_BIN(pipeline.get()), source, parse, nullptr);
    g_signal_connect(
        source, "pad-added", G_CALLBACK(+[](GstElement *, GstPad *pad, gpointer parse_element) {
          GstPtr<GstPad> sink_pad(gst_element_get_static_pad(GST_ELEMENT(parse_element), "sink"));
          if (!gst_pad_is_linked(sink_pad.get())) {
            gst_pad_link(pad, sink_pad.get());
          }
        }),
        parse);
    g_signal_connect(parse, "pad-added", G_CALLBACK(on_parsed_pad), &job);
  }

  job.loop = g_main_loop_new(nullptr, FALSE);
  GstPtr<GstBus> bus(gst_element_get_bus(pipeline.get()));
  gst_bus_add_watch(bus.get(), on_bus, &job);
  auto stop = +[](gpointer data) -> gboolean {
    static_cast<Job *>(data)->stop();
    return G_SOURCE_CONTINUE;
  };
  guint sigint = g_unix_signal_add(SIGINT, stop, &job);
  guint sigterm = g_unix_signal_add(SIGTERM, stop, &job);
  guint limit = 0;
  if (options.duration_ns) {
    limit = g_timeout_add(
        static_cast<guint>(options.duration_ns / 1000000),
        +[](gpointer data) -> gboolean {
          static_cast<Job *>(data)->stop();
          return G_SOURCE_REMOVE;
        },
        &job);
  }
  guint ticker = g_timeout_add(
      1000,
      +[](gpointer data) -> gboolean {
        auto *j = static_cast<Job *>(data);
        if (j->started_us) {
          RecordEvent event;
          event.kind = RecordEvent::kProgress;
          j->emit(event);
        }
        return G_SOURCE_CONTINUE;
      },
      &job);

  if (gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    job.result = 2;  // the bus says why (invalid location, root...)
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
    if (job.result == 2) {
      RecordEvent event;
      event.kind = RecordEvent::kError;
      event.message = "the recording could not start";
      on_event(event);
    }
    job.result = 2;
  } else {
    g_main_loop_run(job.loop);
  }
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  g_source_remove(ticker);
  if (limit && !job.eos_sent) {
    g_source_remove(limit);
  }
  g_source_remove(sigint);
  g_source_remove(sigterm);
  gst_bus_remove_watch(bus.get());
  g_main_loop_unref(job.loop);
  if (job.result == 0) {
    RecordEvent event;
    event.kind = RecordEvent::kFinished;
    event.path = job.manifest;
    job.emit(event);
  }
  return job.result;
}

}  // namespace livepipe::replay
