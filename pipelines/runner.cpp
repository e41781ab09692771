#include "runner.h"

#include "util/gstptr.h"

#include <glib-unix.h>

#include <cstdio>

namespace livepipe::pipelines {
namespace {

struct RunState {
  GMainLoop *loop = nullptr;
  GstElement *pipeline = nullptr;
  const RunOptions *options = nullptr;
  RunResult result = RunResult::kEos;
  bool interrupted = false;
  bool eos_sent = false;
};

std::string object_name(const RunOptions &options, GstObject *object) {
  if (!object) {
    return "pipeline";
  }
  if (options.describe) {
    return options.describe(object);
  }
  GCharPtr name(gst_object_get_name(object));
  return name ? name.get() : "element";
}

gboolean on_bus_message(GstBus *, GstMessage *message, gpointer data) {
  auto *state = static_cast<RunState *>(data);
  switch (GST_MESSAGE_TYPE(message)) {
    case GST_MESSAGE_EOS:
      g_main_loop_quit(state->loop);
      break;
    case GST_MESSAGE_ERROR: {
      GError *error = nullptr;
      gchar *debug = nullptr;
      gst_message_parse_error(message, &error, &debug);
      std::fprintf(stderr, "ERROR from %s: %s\n",
                   object_name(*state->options, GST_MESSAGE_SRC(message)).c_str(),
                   error ? error->message : "unknown error");
      if (debug && state->options->verbose) {
        std::fprintf(stderr, "Debug: %s\n", debug);
      }
      g_clear_error(&error);
      g_free(debug);
      state->result = RunResult::kError;
      g_main_loop_quit(state->loop);
      break;
    }
    case GST_MESSAGE_WARNING: {
      GError *error = nullptr;
      gst_message_parse_warning(message, &error, nullptr);
      if (!state->options->quiet) {
        std::fprintf(stderr, "WARNING from %s: %s\n",
                     object_name(*state->options, GST_MESSAGE_SRC(message)).c_str(),
                     error ? error->message : "unknown warning");
      }
      g_clear_error(&error);
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

gboolean on_interrupt(gpointer data) {
  auto *state = static_cast<RunState *>(data);
  if (state->options->eos_on_interrupt && !state->eos_sent) {
    if (!state->options->quiet) {
      std::fprintf(stderr, "Interrupt: sending EOS so files are finalized...\n");
    }
    state->eos_sent = true;
    state->interrupted = true;
    gst_element_send_event(state->pipeline, gst_event_new_eos());
    return G_SOURCE_CONTINUE;
  }
  if (!state->options->quiet) {
    std::fprintf(stderr, "Interrupt: stopping.\n");
  }
  state->interrupted = true;
  g_main_loop_quit(state->loop);
  return G_SOURCE_CONTINUE;
}

void on_deep_notify(GstObject *, GstObject *origin, GParamSpec *pspec, gpointer data) {
  auto *state = static_cast<RunState *>(data);
  if (!(pspec->flags & G_PARAM_READABLE)) {
    return;
  }
  GValue value = G_VALUE_INIT;
  g_value_init(&value, pspec->value_type);
  g_object_get_property(G_OBJECT(origin), pspec->name, &value);
  GCharPtr text(gst_value_serialize(&value));
  std::printf("%s: %s = %s\n", object_name(*state->options, origin).c_str(), pspec->name,
              text ? text.get() : "(unprintable)");
  g_value_unset(&value);
}

}  // namespace

RunResult run(GstElement *pipeline, const RunOptions &options) {
  RunState state;
  state.loop = g_main_loop_new(nullptr, FALSE);
  state.pipeline = pipeline;
  state.options = &options;

  GstPtr<GstBus> bus(gst_element_get_bus(pipeline));
  gst_bus_add_watch(bus.get(), on_bus_message, &state);
  guint sigint = g_unix_signal_add(SIGINT, on_interrupt, &state);
  guint sigterm = g_unix_signal_add(SIGTERM, on_interrupt, &state);
  gulong notify = 0;
  if (options.verbose) {
    notify = g_signal_connect(pipeline, "deep-notify", G_CALLBACK(on_deep_notify), &state);
  }

  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    // The error message on the bus says why; let the loop print it.
    state.result = RunResult::kError;
    while (g_main_context_iteration(nullptr, FALSE)) {
    }
  } else {
    g_main_loop_run(state.loop);
  }

  gst_element_set_state(pipeline, GST_STATE_NULL);
  if (notify) {
    g_signal_handler_disconnect(pipeline, notify);
  }
  g_source_remove(sigint);
  g_source_remove(sigterm);
  gst_bus_remove_watch(bus.get());
  g_main_loop_unref(state.loop);
  if (state.result == RunResult::kError) {
    return RunResult::kError;
  }
  return state.interrupted ? RunResult::kInterrupted : RunResult::kEos;
}

}  // namespace livepipe::pipelines
