#include "runner.h"

#include "graph.h"
#include "pipeline.h"
#include "status.h"
#include "util/gstptr.h"
#include "util/maincontext.h"

#include <glib-unix.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <mutex>

namespace livepipe::pipelines {
namespace {

// stderr shared by the status line and messages: a message first clears a
// status line drawn in place. Property notifications come from streaming
// threads, hence the lock.
class Console {
 public:
  explicit Console(bool in_place) : in_place_(in_place) {}

  void print(FILE *stream, const std::string &text) {
    std::lock_guard lock(mutex_);
    clear_status();
    std::fputs(text.c_str(), stream);
    std::fflush(stream);
  }

  void status(const std::string &text) {
    std::lock_guard lock(mutex_);
    if (in_place_) {
      std::fprintf(stderr, "\r\033[K%s", text.c_str());
      status_shown_ = true;
    } else {
      std::fprintf(stderr, "status: %s\n", text.c_str());
    }
    std::fflush(stderr);
  }

  void finish() {
    std::lock_guard lock(mutex_);
    if (status_shown_) {
      std::fputc('\n', stderr);
      status_shown_ = false;
    }
  }

 private:
  void clear_status() {
    if (status_shown_) {
      std::fputs("\r\033[K", stderr);
      status_shown_ = false;
    }
  }

  bool in_place_;
  bool status_shown_ = false;
  std::mutex mutex_;
};

struct RunState {
  GMainLoop *loop = nullptr;
  GstElement *pipeline = nullptr;
  const RunOptions *options = nullptr;
  Console *console = nullptr;
  std::unique_ptr<StatusMeter> meter;
  SourceGuard status_timer;
  double status_interval = 0;
  RunResult result = RunResult::kEos;
  bool interrupted = false;
  bool eos_sent = false;
  bool graph_written = false;
  bool graph_failed = false;
};

std::string object_name(const RunOptions &options, GstObject *object) {
  return options.describe ? options.describe(object) : describe_object(object);
}

void write_graph_file(RunState &state) {
  const std::string &path = state.options->graph_path;
  if (path.empty() || state.graph_failed) {
    return;
  }
  std::string error;
  if (!write_graph(GST_BIN(state.pipeline), path, &error)) {
    state.graph_failed = true;
    state.console->print(stderr,
                         "WARNING: cannot write the graph to " + path + ": " + error + "\n");
  }
}

void start_status(RunState &state) {
  if (state.status_timer || state.status_interval <= 0) {
    return;
  }
  state.meter = std::make_unique<StatusMeter>(state.pipeline);
  state.meter->sample();
  auto interval_ms = static_cast<guint>(state.status_interval * 1000);
  state.status_timer = add_timeout(nullptr, interval_ms, [&state] {
    state.console->status(format_status(state.meter->sample()));
    return true;
  });
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
      std::string text = "ERROR from " + object_name(*state->options, GST_MESSAGE_SRC(message)) +
                         ": " + (error ? error->message : "unknown error") + "\n";
      if (debug && state->options->verbose) {
        text += std::string("Debug: ") + debug + "\n";
      }
      state->console->print(stderr, text);
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
        state->console->print(
            stderr, "WARNING from " + object_name(*state->options, GST_MESSAGE_SRC(message)) +
                        ": " + (error ? error->message : "unknown warning") + "\n");
      }
      g_clear_error(&error);
      break;
    }
    case GST_MESSAGE_STATE_CHANGED: {
      if (GST_MESSAGE_SRC(message) != GST_OBJECT(state->pipeline)) {
        break;
      }
      GstState new_state;
      gst_message_parse_state_changed(message, nullptr, &new_state, nullptr);
      if (new_state == GST_STATE_PLAYING) {
        if (!state->graph_written) {
          state->graph_written = true;
          write_graph_file(*state);
        }
        start_status(*state);
      }
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
      state->console->print(stderr, "Interrupt: sending EOS so files are finalized...\n");
    }
    state->eos_sent = true;
    state->interrupted = true;
    gst_element_send_event(state->pipeline, gst_event_new_eos());
    return G_SOURCE_CONTINUE;
  }
  if (!state->options->quiet) {
    state->console->print(stderr, "Interrupt: stopping.\n");
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
  state->console->print(stdout, object_name(*state->options, origin) + ": " + pspec->name + " = " +
                                    (text ? text.get() : "(unprintable)") + "\n");
  g_value_unset(&value);
}

}  // namespace

RunResult run(GstElement *pipeline, const RunOptions &options) {
  StatusMode mode = options.quiet ? StatusMode::kOff : options.status;
  if (mode == StatusMode::kAuto) {
    mode = isatty(STDERR_FILENO) ? StatusMode::kTerminal : StatusMode::kLines;
  }
  Console console(mode == StatusMode::kTerminal);
  RunState state;
  state.loop = g_main_loop_new(nullptr, FALSE);
  state.pipeline = pipeline;
  state.options = &options;
  state.console = &console;
  if (mode != StatusMode::kOff) {
    state.status_interval = options.status_interval > 0     ? options.status_interval
                            : mode == StatusMode::kTerminal ? 0.5
                                                            : 5.0;
  }

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

  state.status_timer.reset();
  if (state.meter && state.result != RunResult::kError) {
    console.status(format_status(state.meter->sample()));
  }
  console.finish();
  // The final graph shows what dynamic pads linked while running.
  write_graph_file(state);
  state.meter.reset();
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
