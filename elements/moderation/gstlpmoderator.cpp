/**
 * SECTION:element-lpmoderator
 * @title: lpmoderator
 *
 * Moderation hooks for live video. Every `interval` milliseconds the element
 * takes a snapshot of the frame (a JPEG at most `max-size` pixels on its
 * longer side), hands it to a hook and applies the hook's verdict to the
 * frames that follow: allow, blur (pixelate the frame or the regions the hook
 * returned), block (a black frame with a notice) or end (EOS). The hook is an
 * HTTP(S) webhook, a command run without a shell, or the in-process
 * "snapshot" signal answered with the "submit-verdict" action signal.
 *
 * Snapshots are scaled down on the streaming thread and encoded and submitted
 * on a private worker thread: the streaming thread never waits for a hook.
 * While `max-in-flight` requests are pending, further snapshots are skipped
 * and counted in `snapshots-skipped`. Each verdict, when it takes effect, is
 * posted on the bus as a "livepipe-moderation" element message.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! video/x-raw,format=I420 \
 *   ! lpmoderator hook-uri=http://127.0.0.1:8080/moderate interval=1000 on-error=fail-closed \
 *   ! autovideosink
 * ]|
 */
#include "gstlpmoderator.h"

#include "hooks.h"
#include "jpegencoder.h"
#include "overlay.h"
#include "util/gstptr.h"
#include "util/maincontext.h"
#include "verdict.h"

#include <gst/video/video.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string_view>
#include <set>
#include <thread>

GST_DEBUG_CATEGORY_STATIC(gst_lp_moderator_debug);
#define GST_CAT_DEFAULT gst_lp_moderator_debug

using namespace livepipe::moderation;
using livepipe::GObjPtr;

typedef enum {
  GST_LP_MODERATOR_FAIL_OPEN,
  GST_LP_MODERATOR_FAIL_CLOSED,
} GstLpModeratorOnError;

#define GST_TYPE_LP_MODERATOR_ON_ERROR (gst_lp_moderator_on_error_get_type())
static GType gst_lp_moderator_on_error_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {GST_LP_MODERATOR_FAIL_OPEN, "Keep the verdict in force (allow unless a verdict holds)",
       "fail-open"},
      {GST_LP_MODERATOR_FAIL_CLOSED, "Block until the hook answers again", "fail-closed"},
      {0, nullptr, nullptr},
  };
  if (g_once_init_enter(&type)) {
    g_once_init_leave(&type, g_enum_register_static("GstLpModeratorOnError", values));
  }
  return type;
}

namespace {

constexpr guint DEFAULT_PROP_INTERVAL = 1000;
constexpr guint DEFAULT_PROP_TIMEOUT = 2000;
constexpr GstLpModeratorOnError DEFAULT_PROP_ON_ERROR = GST_LP_MODERATOR_FAIL_OPEN;
constexpr guint DEFAULT_PROP_MAX_SIZE = 640;
constexpr guint DEFAULT_PROP_JPEG_QUALITY = 80;
constexpr guint DEFAULT_PROP_MAX_IN_FLIGHT = 1;
constexpr const char *DEFAULT_PROP_NOTICE = "CONTENT BLOCKED";
// How long stopping waits for hooks to notice their cancellation.
constexpr guint kStopGraceMs = 3000;

enum {
  PROP_0,
  PROP_HOOK_URI,
  PROP_INTERVAL,
  PROP_TIMEOUT,
  PROP_ON_ERROR,
  PROP_STREAM_ID,
  PROP_EXTRA_HEADERS,
  PROP_AUTH_TOKEN,
  PROP_MAX_SIZE,
  PROP_JPEG_QUALITY,
  PROP_MAX_IN_FLIGHT,
  PROP_NOTICE,
  PROP_FORCED_HOLDS,
  PROP_VERDICT,
  PROP_SNAPSHOTS_TAKEN,
  PROP_SNAPSHOTS_SKIPPED,
  PROP_HOOK_ERRORS,
  PROP_VERDICTS_RECEIVED,
};

enum { SIGNAL_SNAPSHOT, SIGNAL_SUBMIT_VERDICT, SIGNAL_RELEASE_FORCED, N_SIGNALS };
guint signals[N_SIGNALS];

struct Settings {
  std::string hook_uri;
  guint interval_ms = DEFAULT_PROP_INTERVAL;
  guint timeout_ms = DEFAULT_PROP_TIMEOUT;
  GstLpModeratorOnError on_error = DEFAULT_PROP_ON_ERROR;
  std::string stream_id;
  GstStructure *extra_headers = nullptr;
  std::string auth_token;
  guint max_size = DEFAULT_PROP_MAX_SIZE;
  guint jpeg_quality = DEFAULT_PROP_JPEG_QUALITY;
  guint max_in_flight = DEFAULT_PROP_MAX_IN_FLIGHT;
  std::string notice = DEFAULT_PROP_NOTICE;
};

// A verdict in force. Immutable once published; threads share it by pointer.
struct Current {
  Verdict verdict;
  uint64_t generation = 0;
  uint64_t sequence = 0;   // of the snapshot it answers; 0 = none
  int snapshot_width = 0;  // regions are in these pixels; 0 = frame pixels
  int snapshot_height = 0;
  gint64 expires_at_us = 0;  // monotonic; 0 = holds until the next verdict
  gint64 captured_us = 0;    // monotonic time of the snapshot; 0 = unknown
  std::string source;        // hook, signal, forced, error, expired, released
};

// A scaled-down frame on its way to the worker.
struct RawSnapshot {
  uint64_t sequence = 0;
  int width = 0;
  int height = 0;
  std::vector<uint8_t> i420;
  GstClockTime running_time = GST_CLOCK_TIME_NONE;
  gint64 captured_us = 0;
  int64_t timestamp_ms = 0;
};

class Worker;

struct ModeratorState {
  Settings settings;  // guarded by the object lock

  std::mutex mutex;  // guards current, generation, awaiting
  std::shared_ptr<const Current> current = std::make_shared<Current>();
  uint64_t generation = 0;
  std::set<uint64_t> awaiting;  // sequences the in-process hook may answer

  std::atomic<guint64> taken{0};
  std::atomic<guint64> skipped{0};
  std::atomic<guint64> errors{0};
  std::atomic<guint64> verdicts{0};
  std::atomic<guint> in_flight{0};
  std::atomic<bool> forced_holds{false};

  // Streaming thread only.
  GstClockTime next_due = GST_CLOCK_TIME_NONE;
  uint64_t sequence = 0;
  uint64_t posted_generation = 0;
  std::shared_ptr<const Current> frame_verdict;
  bool ended = false;
  HookKind kind = HookKind::Signal;

  std::mutex worker_mutex;  // guards the pointer, not the worker
  std::unique_ptr<Worker> worker;
};

}  // namespace

struct _GstLpModerator {
  GstVideoFilter parent;
  ModeratorState *state;
};

#define VIDEO_CAPS GST_VIDEO_CAPS_MAKE("{ I420, NV12 }")

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS(VIDEO_CAPS));
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS(VIDEO_CAPS));

G_DEFINE_TYPE(GstLpModerator, gst_lp_moderator, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE(lpmoderator, "lpmoderator", GST_RANK_NONE, GST_TYPE_LP_MODERATOR)

namespace {

// A forced verdict that hook answers may not replace (forced-holds): it
// holds until it expires, is released or another verdict is forced.
bool forced_in_force(const ModeratorState *state) {
  const Current &current = *state->current;
  return state->forced_holds.load() && current.source == "forced" &&
         (!current.expires_at_us || g_get_monotonic_time() < current.expires_at_us);
}

// Publishes a verdict; the caller holds state->mutex. A hook's verdict (or
// an error's) does not replace a forced verdict that holds.
void publish_locked(ModeratorState *state, Verdict verdict, const char *source, uint64_t sequence,
                    int snapshot_width, int snapshot_height, gint64 captured_us) {
  const std::string_view from = source;
  if (from != "forced" && from != "expired" && from != "released" && forced_in_force(state)) {
    return;
  }
  auto current = std::make_shared<Current>();
  current->verdict = std::move(verdict);
  current->generation = ++state->generation;
  current->sequence = sequence;
  current->snapshot_width = snapshot_width;
  current->snapshot_height = snapshot_height;
  current->captured_us = captured_us;
  current->source = source;
  if (current->verdict.expires_ms) {
    current->expires_at_us = g_get_monotonic_time() + *current->verdict.expires_ms * 1000;
  }
  state->current = std::move(current);
}

void publish(ModeratorState *state, Verdict verdict, const char *source, uint64_t sequence,
             int snapshot_width, int snapshot_height, gint64 captured_us) {
  std::lock_guard lock(state->mutex);
  publish_locked(state, std::move(verdict), source, sequence, snapshot_width, snapshot_height,
                 captured_us);
}

// The verdict in force now; a lapsed one is replaced by allow.
std::shared_ptr<const Current> current_verdict(ModeratorState *state) {
  std::lock_guard lock(state->mutex);
  const auto &current = state->current;
  if (current->expires_at_us && g_get_monotonic_time() >= current->expires_at_us) {
    Verdict allow;
    allow.reason = std::string("the ") + action_name(current->verdict.action) + " verdict expired";
    publish_locked(state, std::move(allow), "expired", current->sequence, 0, 0, 0);
  }
  return state->current;
}

// Runs hooks on its own thread and main context, so that encoding, HTTP and
// child processes never touch the streaming thread.
class Worker {
 public:
  Worker(GstLpModerator *self, HookKind kind) : self_(self), kind_(kind) {
    context_ = g_main_context_new();
    loop_ = g_main_loop_new(context_, FALSE);
    {
      livepipe::ObjectLocker lock(self);
      const Settings &s = self->state->settings;
      uri_ = s.hook_uri;
      http_.url = s.hook_uri;
      http_.bearer_token = s.auth_token;
      if (s.extra_headers) {
        gst_structure_foreach(
            s.extra_headers,
            [](GQuark field, const GValue *value, gpointer data) -> gboolean {
              auto *headers = static_cast<std::vector<std::pair<std::string, std::string>> *>(data);
              std::string text;
              if (G_VALUE_HOLDS_STRING(value)) {
                text = g_value_get_string(value) ? g_value_get_string(value) : "";
              } else {
                livepipe::GCharPtr serialized(gst_value_serialize(value));
                text = serialized ? serialized.get() : "";
              }
              headers->emplace_back(g_quark_to_string(field), std::move(text));
              return TRUE;
            },
            &http_.headers);
      }
    }
    thread_ = std::thread([this] { run(); });
  }

  ~Worker() {
    livepipe::invoke_on(context_, [this] { begin_stop(); });
    thread_.join();
    g_main_loop_unref(loop_);
    g_main_context_unref(context_);
  }

  Worker(const Worker &) = delete;
  Worker &operator=(const Worker &) = delete;

  void queue(std::function<void()> work) { livepipe::invoke_on(context_, std::move(work)); }

  // Worker thread: encode, then hand to the hook.
  void snapshot(RawSnapshot raw) {
    if (stopping_) {
      return;
    }
    ModeratorState *state = self_->state;
    guint quality, timeout_ms;
    std::string stream_id;
    {
      livepipe::ObjectLocker lock(self_);
      quality = state->settings.jpeg_quality;
      timeout_ms = state->settings.timeout_ms;
      stream_id = state->settings.stream_id;
    }
    if (stream_id.empty()) {
      livepipe::GCharPtr name(gst_object_get_name(GST_OBJECT(self_)));
      stream_id = name.get();
    }
    std::string error;
    GBytes *jpeg =
        encoder_.encode(raw.i420, raw.width, raw.height, static_cast<int>(quality), &error);
    if (!jpeg) {
      state->in_flight--;
      hook_failed("encode", "snapshot " + std::to_string(raw.sequence) + ": " + error);
      return;
    }

    const uint64_t sequence = raw.sequence;
    Pending &pending = pending_[sequence];
    pending.cancellable.reset(g_cancellable_new());
    pending.snapshot_width = raw.width;
    pending.snapshot_height = raw.height;
    pending.captured_us = raw.captured_us;
    pending.timer = livepipe::add_timeout(context_, timeout_ms, [this, sequence, timeout_ms] {
      timed_out(sequence, timeout_ms);
      return false;
    });

    Snapshot snapshot;
    snapshot.sequence = sequence;
    snapshot.stream_id = stream_id;
    snapshot.timestamp_ms = raw.timestamp_ms;
    snapshot.running_time = raw.running_time;
    snapshot.width = raw.width;
    snapshot.height = raw.height;
    snapshot.jpeg = jpeg;

    if (hook_) {
      ++outstanding_;
      hook_->submit(snapshot, pending.cancellable.get(), [this, sequence](HookReply reply) {
        --outstanding_;
        finish(sequence, std::move(reply));
        if (stopping_ && outstanding_ == 0) {
          g_main_loop_quit(loop_);
        }
      });
    } else {
      {
        std::lock_guard lock(state->mutex);
        state->awaiting.insert(sequence);
      }
      GstStructure *info = gst_structure_new(
          "livepipe-snapshot", "stream-id", G_TYPE_STRING, stream_id.c_str(), "sequence",
          G_TYPE_UINT64, guint64{sequence}, "timestamp-ms", G_TYPE_INT64, gint64{raw.timestamp_ms},
          "running-time", G_TYPE_UINT64, guint64{raw.running_time}, "width", G_TYPE_INT, raw.width,
          "height", G_TYPE_INT, raw.height, nullptr);
      // A handler may answer right here with submit-verdict; `pending` may
      // be gone after this call.
      g_signal_emit(self_, signals[SIGNAL_SNAPSHOT], 0, jpeg, guint64{sequence}, info);
      gst_structure_free(info);
    }
    g_bytes_unref(jpeg);
  }

  // Worker thread: a reply, a failure or an in-process answer for `sequence`.
  void finish(uint64_t sequence, HookReply reply) {
    auto it = pending_.find(sequence);
    if (it == pending_.end()) {
      return;  // already timed out or stopped: the reply is too late to matter
    }
    Pending pending = std::move(it->second);
    pending_.erase(it);
    ModeratorState *state = self_->state;
    {
      std::lock_guard lock(state->mutex);
      state->awaiting.erase(sequence);
    }
    state->in_flight--;
    if (!reply.ok) {
      hook_failed(reply.kind.c_str(), reply.error);
      return;
    }
    Verdict verdict;
    std::string error;
    if (!parse_verdict(reply.body, &verdict, &error)) {
      hook_failed("malformed",
                  "malformed reply to snapshot " + std::to_string(sequence) + ": " + error);
      return;
    }
    if (!burst_kinds_.empty()) {
      GST_INFO_OBJECT(self_, "moderation hook answers again after %" G_GUINT64_FORMAT " failures",
                      burst_failures_);
      burst_kinds_.clear();
      burst_failures_ = 0;
    }
    state->verdicts++;
    GST_DEBUG_OBJECT(self_, "snapshot %" G_GUINT64_FORMAT ": %s (%s)", sequence,
                     action_name(verdict.action), verdict.reason.c_str());
    publish(state, std::move(verdict), kind_ == HookKind::Signal ? "signal" : "hook", sequence,
            pending.snapshot_width, pending.snapshot_height, pending.captured_us);
  }

 private:
  struct Pending {
    GObjPtr<GCancellable> cancellable;
    livepipe::SourceGuard timer;
    int snapshot_width = 0;
    int snapshot_height = 0;
    gint64 captured_us = 0;
  };

  void run() {
    g_main_context_push_thread_default(context_);
    std::string error;
    if (kind_ == HookKind::Http) {
      hook_ = make_http_hook(http_, &error);
    } else if (kind_ == HookKind::Exec) {
      hook_ = make_exec_hook(uri_, &error);
    }
    g_main_loop_run(loop_);
    pending_.clear();
    hook_.reset();
    // Let cancelled connections and reaped children release what they hold.
    while (g_main_context_iteration(context_, FALSE)) {
    }
    g_main_context_pop_thread_default(context_);
  }

  void begin_stop() {
    stopping_ = true;
    for (auto &[sequence, pending] : pending_) {
      g_cancellable_cancel(pending.cancellable.get());
    }
    pending_.clear();
    {
      std::lock_guard lock(self_->state->mutex);
      self_->state->awaiting.clear();
    }
    if (outstanding_ == 0) {
      g_main_loop_quit(loop_);
      return;
    }
    stop_deadline_ = livepipe::add_timeout(context_, kStopGraceMs, [this] {
      GST_WARNING_OBJECT(self_, "%d hook requests did not stop within %u ms", outstanding_,
                         kStopGraceMs);
      g_main_loop_quit(loop_);
      return false;
    });
  }

  void timed_out(uint64_t sequence, guint timeout_ms) {
    auto it = pending_.find(sequence);
    if (it == pending_.end()) {
      return;
    }
    GObjPtr<GCancellable> cancellable(G_CANCELLABLE(g_object_ref(it->second.cancellable.get())));
    HookReply reply;
    reply.kind = "timeout";
    reply.error = "no verdict for snapshot " + std::to_string(sequence) + " within " +
                  std::to_string(timeout_ms) + " ms";
    finish(sequence, std::move(reply));
    g_cancellable_cancel(cancellable.get());
  }

  // One warning per kind of failure per burst (a run of failures without a
  // good answer in between), then the on-error policy.
  void hook_failed(const char *kind, const std::string &error) {
    ModeratorState *state = self_->state;
    state->errors++;
    ++burst_failures_;
    GstLpModeratorOnError policy;
    {
      livepipe::ObjectLocker lock(self_);
      policy = state->settings.on_error;
    }
    const char *policy_name =
        policy == GST_LP_MODERATOR_FAIL_CLOSED ? "fail-closed: blocking" : "fail-open: unchanged";
    if (burst_kinds_.insert(kind).second) {
      GST_WARNING_OBJECT(self_, "moderation hook failed (%s): %s; %s", kind, error.c_str(),
                         policy_name);
      GST_ELEMENT_WARNING(self_, RESOURCE, FAILED, ("Moderation hook failed: %s", error.c_str()),
                          ("failure kind \"%s\", on-error %s", kind, policy_name));
    } else {
      GST_DEBUG_OBJECT(self_, "moderation hook failed again (%s): %s", kind, error.c_str());
    }
    if (policy != GST_LP_MODERATOR_FAIL_CLOSED) {
      return;
    }
    std::lock_guard lock(state->mutex);
    if ((state->current->verdict.action == Action::Block && state->current->source == "error") ||
        forced_in_force(state)) {
      return;
    }
    Verdict block;
    block.action = Action::Block;
    block.reason = "hook failed: " + error;
    publish_locked(state, std::move(block), "error", 0, 0, 0, 0);
  }

  GstLpModerator *self_;
  HookKind kind_;
  std::string uri_;
  HttpSettings http_;
  GMainContext *context_ = nullptr;
  GMainLoop *loop_ = nullptr;
  std::thread thread_;

  // Worker thread only.
  std::unique_ptr<Hook> hook_;
  JpegEncoder encoder_;
  std::map<uint64_t, Pending> pending_;
  int outstanding_ = 0;
  bool stopping_ = false;
  livepipe::SourceGuard stop_deadline_;
  std::set<std::string> burst_kinds_;
  guint64 burst_failures_ = 0;
};

Planes420 planes_of(GstVideoFrame *frame) {
  Planes420 planes;
  planes.width = GST_VIDEO_FRAME_WIDTH(frame);
  planes.height = GST_VIDEO_FRAME_HEIGHT(frame);
  planes.y = static_cast<uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(frame, 0));
  planes.y_stride = GST_VIDEO_FRAME_PLANE_STRIDE(frame, 0);
  planes.u = static_cast<uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(frame, 1));
  planes.u_stride = GST_VIDEO_FRAME_PLANE_STRIDE(frame, 1);
  if (GST_VIDEO_FRAME_FORMAT(frame) == GST_VIDEO_FORMAT_I420) {
    planes.v = static_cast<uint8_t *>(GST_VIDEO_FRAME_PLANE_DATA(frame, 2));
    planes.v_stride = GST_VIDEO_FRAME_PLANE_STRIDE(frame, 2);
  }
  return planes;
}

}  // namespace

gint gst_lp_moderator_get_action(GstLpModerator *self) {
  g_return_val_if_fail(GST_IS_LP_MODERATOR(self), 0);
  return static_cast<gint>(current_verdict(self->state)->verdict.action);
}

GstLpModerator *gst_lp_moderator_find(GstElement *element, const gchar *name, gchar **error) {
  if (!name || !*name) {
    *error = g_strdup("the \"moderator\" property is not set");
    return nullptr;
  }
  auto parent = livepipe::adopt(gst_object_get_parent(GST_OBJECT(element)));
  if (!parent || !GST_IS_BIN(parent.get())) {
    *error = g_strdup_printf("not inside a bin, so moderator \"%s\" cannot be found", name);
    return nullptr;
  }
  GstElement *found = gst_bin_get_by_name_recurse_up(GST_BIN(parent.get()), name);
  if (!found) {
    *error = g_strdup_printf("no element named \"%s\" in the pipeline", name);
    return nullptr;
  }
  if (!GST_IS_LP_MODERATOR(found)) {
    *error = g_strdup_printf("\"%s\" is a %s, not an lpmoderator", name, G_OBJECT_TYPE_NAME(found));
    gst_object_unref(found);
    return nullptr;
  }
  return GST_LP_MODERATOR(found);
}

static void gst_lp_moderator_set_property(GObject *object, guint prop_id, const GValue *value,
                                          GParamSpec *pspec) {
  GstLpModerator *self = GST_LP_MODERATOR(object);
  livepipe::ObjectLocker lock(self);
  Settings &s = self->state->settings;
  switch (prop_id) {
    case PROP_HOOK_URI:
      s.hook_uri = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case PROP_INTERVAL:
      s.interval_ms = g_value_get_uint(value);
      break;
    case PROP_TIMEOUT:
      s.timeout_ms = g_value_get_uint(value);
      break;
    case PROP_ON_ERROR:
      s.on_error = static_cast<GstLpModeratorOnError>(g_value_get_enum(value));
      break;
    case PROP_STREAM_ID:
      s.stream_id = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case PROP_EXTRA_HEADERS: {
      const GstStructure *headers = gst_value_get_structure(value);
      if (s.extra_headers) {
        gst_structure_free(s.extra_headers);
      }
      s.extra_headers = headers ? gst_structure_copy(headers) : nullptr;
      break;
    }
    case PROP_AUTH_TOKEN:
      s.auth_token = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case PROP_MAX_SIZE:
      s.max_size = g_value_get_uint(value);
      break;
    case PROP_JPEG_QUALITY:
      s.jpeg_quality = g_value_get_uint(value);
      break;
    case PROP_MAX_IN_FLIGHT:
      s.max_in_flight = g_value_get_uint(value);
      break;
    case PROP_NOTICE:
      s.notice = g_value_get_string(value) ? g_value_get_string(value) : "";
      break;
    case PROP_FORCED_HOLDS:
      self->state->forced_holds = g_value_get_boolean(value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_lp_moderator_get_property(GObject *object, guint prop_id, GValue *value,
                                          GParamSpec *pspec) {
  GstLpModerator *self = GST_LP_MODERATOR(object);
  ModeratorState *state = self->state;
  switch (prop_id) {
    case PROP_VERDICT:
      g_value_set_string(value, action_name(current_verdict(state)->verdict.action));
      return;
    case PROP_SNAPSHOTS_TAKEN:
      g_value_set_uint64(value, state->taken.load());
      return;
    case PROP_SNAPSHOTS_SKIPPED:
      g_value_set_uint64(value, state->skipped.load());
      return;
    case PROP_HOOK_ERRORS:
      g_value_set_uint64(value, state->errors.load());
      return;
    case PROP_VERDICTS_RECEIVED:
      g_value_set_uint64(value, state->verdicts.load());
      return;
    case PROP_FORCED_HOLDS:
      g_value_set_boolean(value, state->forced_holds.load());
      return;
    default:
      break;
  }
  livepipe::ObjectLocker lock(self);
  const Settings &s = state->settings;
  switch (prop_id) {
    case PROP_HOOK_URI:
      g_value_set_string(value, s.hook_uri.c_str());
      break;
    case PROP_INTERVAL:
      g_value_set_uint(value, s.interval_ms);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint(value, s.timeout_ms);
      break;
    case PROP_ON_ERROR:
      g_value_set_enum(value, s.on_error);
      break;
    case PROP_STREAM_ID:
      g_value_set_string(value, s.stream_id.c_str());
      break;
    case PROP_EXTRA_HEADERS:
      gst_value_set_structure(value, s.extra_headers);
      break;
    case PROP_AUTH_TOKEN:
      g_value_set_string(value, s.auth_token.c_str());
      break;
    case PROP_MAX_SIZE:
      g_value_set_uint(value, s.max_size);
      break;
    case PROP_JPEG_QUALITY:
      g_value_set_uint(value, s.jpeg_quality);
      break;
    case PROP_MAX_IN_FLIGHT:
      g_value_set_uint(value, s.max_in_flight);
      break;
    case PROP_NOTICE:
      g_value_set_string(value, s.notice.c_str());
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static gboolean gst_lp_moderator_start(GstBaseTransform *trans) {
  GstLpModerator *self = GST_LP_MODERATOR(trans);
  ModeratorState *state = self->state;
  std::string uri;
  {
    livepipe::ObjectLocker lock(self);
    uri = state->settings.hook_uri;
  }
  HookKind kind;
  std::string error;
  if (!validate_hook_uri(uri, &kind, &error)) {
    GST_ELEMENT_ERROR(self, RESOURCE, SETTINGS, ("Invalid moderation hook: %s", error.c_str()),
                      (nullptr));
    return FALSE;
  }
  state->kind = kind;
  state->next_due = GST_CLOCK_TIME_NONE;
  state->sequence = 0;
  state->ended = false;
  state->in_flight = 0;
  {
    std::lock_guard lock(state->mutex);
    auto initial = std::make_shared<Current>();
    initial->generation = state->generation;
    state->current = std::move(initial);
    state->posted_generation = state->generation;
  }
  state->frame_verdict.reset();
  auto worker = std::make_unique<Worker>(self, kind);
  std::lock_guard lock(state->worker_mutex);
  state->worker = std::move(worker);
  return TRUE;
}

static gboolean gst_lp_moderator_stop(GstBaseTransform *trans) {
  GstLpModerator *self = GST_LP_MODERATOR(trans);
  std::unique_ptr<Worker> worker;
  {
    std::lock_guard lock(self->state->worker_mutex);
    worker = std::move(self->state->worker);
  }
  worker.reset();  // cancels pending requests, kills commands, joins the thread
  self->state->frame_verdict.reset();
  return TRUE;
}

static void gst_lp_moderator_before_transform(GstBaseTransform *trans, GstBuffer *) {
  GstLpModerator *self = GST_LP_MODERATOR(trans);
  ModeratorState *state = self->state;
  state->frame_verdict = current_verdict(state);
  // Allowed frames pass untouched (no copy of read-only buffers); any other
  // verdict needs a writable frame from this buffer on.
  gst_base_transform_set_passthrough(trans, state->frame_verdict->verdict.action == Action::Allow);
}

static void post_applied(GstLpModerator *self, const Current &current) {
  double latency_ms = -1.0;
  if (current.captured_us) {
    latency_ms = static_cast<double>(g_get_monotonic_time() - current.captured_us) / 1000.0;
  }
  std::string stream_id;
  {
    livepipe::ObjectLocker lock(self);
    stream_id = self->state->settings.stream_id;
  }
  if (stream_id.empty()) {
    livepipe::GCharPtr name(gst_object_get_name(GST_OBJECT(self)));
    stream_id = name.get();
  }
  GstStructure *s = gst_structure_new(
      "livepipe-moderation", "verdict", G_TYPE_STRING, action_name(current.verdict.action),
      "reason", G_TYPE_STRING, current.verdict.reason.c_str(), "source", G_TYPE_STRING,
      current.source.c_str(), "sequence", G_TYPE_UINT64, guint64{current.sequence}, "regions",
      G_TYPE_UINT, static_cast<guint>(current.verdict.regions.size()), "expires-ms", G_TYPE_INT64,
      gint64{current.verdict.expires_ms.value_or(-1)}, "latency-ms", G_TYPE_DOUBLE, latency_ms,
      "stream-id", G_TYPE_STRING, stream_id.c_str(), nullptr);
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

static void take_snapshot(GstLpModerator *self, GstVideoFrame *frame) {
  ModeratorState *state = self->state;
  guint interval_ms, max_in_flight, max_size;
  {
    livepipe::ObjectLocker lock(self);
    interval_ms = state->settings.interval_ms;
    max_in_flight = state->settings.max_in_flight;
    max_size = state->settings.max_size;
  }
  if (state->kind == HookKind::Signal &&
      !g_signal_has_handler_pending(self, signals[SIGNAL_SNAPSHOT], 0, FALSE)) {
    return;
  }
  // Snapshots follow the stream's running time, so a file processed faster
  // than real time is still sampled once per `interval` of media; buffers
  // without timestamps fall back to the monotonic clock.
  GstBaseTransform *trans = GST_BASE_TRANSFORM(self);
  GstClockTime running_time =
      gst_segment_to_running_time(&trans->segment, GST_FORMAT_TIME, GST_BUFFER_PTS(frame->buffer));
  const GstClockTime now = GST_CLOCK_TIME_IS_VALID(running_time)
                               ? running_time
                               : static_cast<GstClockTime>(g_get_monotonic_time()) * GST_USECOND;
  const GstClockTime interval = interval_ms * GST_MSECOND;
  // A due time more than one interval ahead means time went backwards (a new
  // segment): start over instead of waiting for the old timeline.
  if (GST_CLOCK_TIME_IS_VALID(state->next_due) && now < state->next_due &&
      state->next_due - now <= interval) {
    return;
  }
  state->next_due = now + interval;
  if (state->in_flight.load() >= max_in_flight) {
    state->skipped++;
    GST_LOG_OBJECT(self, "snapshot skipped: %u requests pending", max_in_flight);
    return;
  }
  state->in_flight++;
  state->taken++;

  RawSnapshot raw;
  raw.sequence = ++state->sequence;
  raw.running_time = running_time;
  raw.captured_us = g_get_monotonic_time();
  raw.timestamp_ms = g_get_real_time() / 1000;
  const Planes420 planes = planes_of(frame);
  snapshot_size(planes.width, planes.height, static_cast<int>(max_size), &raw.width, &raw.height);
  raw.i420.resize(static_cast<size_t>(raw.width) * raw.height * 3 / 2);
  downscale_to_i420(planes, raw.width, raw.height, raw.i420.data());

  std::lock_guard lock(state->worker_mutex);
  if (!state->worker) {
    state->in_flight--;
    return;
  }
  Worker *worker = state->worker.get();
  auto shared = std::make_shared<RawSnapshot>(std::move(raw));
  worker->queue([worker, shared] { worker->snapshot(std::move(*shared)); });
}

static GstFlowReturn gst_lp_moderator_transform_frame_ip(GstVideoFilter *filter,
                                                         GstVideoFrame *frame) {
  GstLpModerator *self = GST_LP_MODERATOR(filter);
  ModeratorState *state = self->state;
  if (state->ended) {
    return GST_FLOW_EOS;
  }
  // The hook sees what the camera sent, not what the last verdict made of it.
  take_snapshot(self, frame);

  std::shared_ptr<const Current> current = state->frame_verdict;
  if (!current) {
    current = current_verdict(state);
  }
  if (current->generation != state->posted_generation) {
    state->posted_generation = current->generation;
    post_applied(self, *current);
  }
  const bool writable = !gst_base_transform_is_passthrough(GST_BASE_TRANSFORM(filter));
  switch (current->verdict.action) {
    case Action::Allow:
      break;
    case Action::Blur: {
      if (!writable) {
        break;
      }
      Planes420 planes = planes_of(frame);
      const int block = pixelation_block(planes.width, planes.height);
      if (current->verdict.regions.empty()) {
        pixelate(planes, Region{0, 0, planes.width, planes.height}, block);
      } else {
        const bool frame_pixels = current->snapshot_width == 0;
        for (const Region &region : scale_regions(
                 current->verdict.regions, frame_pixels ? planes.width : current->snapshot_width,
                 frame_pixels ? planes.height : current->snapshot_height, planes.width,
                 planes.height)) {
          pixelate(planes, region, block);
        }
      }
      break;
    }
    case Action::Block: {
      if (!writable) {
        break;
      }
      std::string notice;
      {
        livepipe::ObjectLocker lock(self);
        notice = state->settings.notice;
      }
      Planes420 planes = planes_of(frame);
      black_with_notice(planes, notice);
      break;
    }
    case Action::End:
      GST_INFO_OBJECT(self, "ending the stream: %s", current->verdict.reason.c_str());
      state->ended = true;
      gst_pad_push_event(GST_BASE_TRANSFORM_SRC_PAD(filter), gst_event_new_eos());
      return GST_FLOW_EOS;
  }
  return GST_FLOW_OK;
}

static gboolean gst_lp_moderator_submit_verdict(GstLpModerator *self, guint64 sequence,
                                                const gchar *reply) {
  ModeratorState *state = self->state;
  if (!reply) {
    return FALSE;
  }
  if (sequence == 0) {
    Verdict verdict;
    std::string error;
    if (!parse_verdict(reply, &verdict, &error)) {
      GST_WARNING_OBJECT(self, "submit-verdict: %s", error.c_str());
      return FALSE;
    }
    publish(state, std::move(verdict), "forced", 0, 0, 0, 0);
    return TRUE;
  }
  {
    std::lock_guard lock(state->mutex);
    // Claimed here, so a second answer to the same snapshot is refused.
    if (state->awaiting.erase(sequence) == 0) {
      GST_DEBUG_OBJECT(self, "submit-verdict: snapshot %" G_GUINT64_FORMAT " is not awaited",
                       sequence);
      return FALSE;
    }
  }
  std::lock_guard lock(state->worker_mutex);
  if (!state->worker) {
    return FALSE;
  }
  Worker *worker = state->worker.get();
  HookReply answer;
  answer.ok = true;
  answer.body = reply;
  auto shared = std::make_shared<HookReply>(std::move(answer));
  worker->queue([worker, sequence, shared] { worker->finish(sequence, std::move(*shared)); });
  return TRUE;
}

static void gst_lp_moderator_finalize(GObject *object) {
  GstLpModerator *self = GST_LP_MODERATOR(object);
  if (self->state->settings.extra_headers) {
    gst_structure_free(self->state->settings.extra_headers);
  }
  delete self->state;
  self->state = nullptr;
  G_OBJECT_CLASS(gst_lp_moderator_parent_class)->finalize(object);
}

static gboolean gst_lp_moderator_release_forced(GstLpModerator *self) {
  ModeratorState *state = self->state;
  std::lock_guard lock(state->mutex);
  if (state->current->source != "forced") {
    return FALSE;
  }
  Verdict allow;
  allow.reason = "the forced verdict was released";
  publish_locked(state, std::move(allow), "released", 0, 0, 0, 0);
  return TRUE;
}

static void gst_lp_moderator_class_init(GstLpModeratorClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *transform_class = GST_BASE_TRANSFORM_CLASS(klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS(klass);

  GST_DEBUG_CATEGORY_INIT(gst_lp_moderator_debug, "lpmoderator", 0, "livepipe moderation hooks");

  gobject_class->set_property = gst_lp_moderator_set_property;
  gobject_class->get_property = gst_lp_moderator_get_property;
  gobject_class->finalize = gst_lp_moderator_finalize;

  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const auto live_flags = static_cast<GParamFlags>(flags | GST_PARAM_MUTABLE_PLAYING);
  const auto read_only = static_cast<GParamFlags>(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_property(
      gobject_class, PROP_HOOK_URI,
      g_param_spec_string("hook-uri", "Hook URI",
                          "http(s):// webhook URL, or exec:/absolute/command args... (split "
                          "like a shell line, run without a shell); empty = the in-process "
                          "\"snapshot\" signal. Read when the element starts",
                          "", flags));
  g_object_class_install_property(
      gobject_class, PROP_INTERVAL,
      g_param_spec_uint("interval", "Interval", "Milliseconds of stream time between snapshots", 10,
                        3600 * 1000, DEFAULT_PROP_INTERVAL, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_TIMEOUT,
      g_param_spec_uint("timeout", "Timeout",
                        "Milliseconds a hook has to answer before on-error applies", 10, 600 * 1000,
                        DEFAULT_PROP_TIMEOUT, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_ON_ERROR,
      g_param_spec_enum("on-error", "On error",
                        "What hook errors, timeouts and malformed replies do",
                        GST_TYPE_LP_MODERATOR_ON_ERROR, DEFAULT_PROP_ON_ERROR, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_STREAM_ID,
      g_param_spec_string("stream-id", "Stream id",
                          "Identifies the stream to the hook (default: the element's name)", "",
                          live_flags));
  g_object_class_install_property(
      gobject_class, PROP_EXTRA_HEADERS,
      g_param_spec_boxed("extra-headers", "Extra headers",
                         "HTTP headers added to each webhook request, one field per header "
                         "(e.g. \"headers, X-Api-Key=(string)abc\")",
                         GST_TYPE_STRUCTURE, flags));
  g_object_class_install_property(
      gobject_class, PROP_AUTH_TOKEN,
      g_param_spec_string("auth-token", "Bearer token",
                          "Sent as \"Authorization: Bearer <token>\" to the webhook", "", flags));
  g_object_class_install_property(
      gobject_class, PROP_MAX_SIZE,
      g_param_spec_uint("max-size", "Maximum snapshot size",
                        "Longest side of the JPEG snapshot in pixels (frames are scaled down "
                        "to fit, never up)",
                        16, 8192, DEFAULT_PROP_MAX_SIZE, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_JPEG_QUALITY,
      g_param_spec_uint("jpeg-quality", "JPEG quality", "Quality of the JPEG snapshot", 1, 100,
                        DEFAULT_PROP_JPEG_QUALITY, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_MAX_IN_FLIGHT,
      g_param_spec_uint("max-in-flight", "Maximum requests in flight",
                        "Snapshots awaiting a verdict at once; further snapshots are skipped", 1,
                        16, DEFAULT_PROP_MAX_IN_FLIGHT, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_NOTICE,
      g_param_spec_string("notice", "Block notice",
                          "Text drawn on blocked frames (A-Z, 0-9 and . , : - ! ? ' / ( ) + =)",
                          DEFAULT_PROP_NOTICE, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_FORCED_HOLDS,
      g_param_spec_boolean("forced-holds", "Forced verdicts hold",
                           "A forced verdict (submit-verdict 0) holds against the hook's "
                           "verdicts until it expires, is released (release-forced) or another "
                           "verdict is forced",
                           FALSE, live_flags));
  g_object_class_install_property(
      gobject_class, PROP_VERDICT,
      g_param_spec_string("verdict", "Verdict", "The verdict in force: allow, blur, block or end",
                          "allow", read_only));
  g_object_class_install_property(
      gobject_class, PROP_SNAPSHOTS_TAKEN,
      g_param_spec_uint64("snapshots-taken", "Snapshots taken", "Snapshots sent to the hook", 0,
                          G_MAXUINT64, 0, read_only));
  g_object_class_install_property(
      gobject_class, PROP_SNAPSHOTS_SKIPPED,
      g_param_spec_uint64("snapshots-skipped", "Snapshots skipped",
                          "Snapshots not taken because max-in-flight requests were pending", 0,
                          G_MAXUINT64, 0, read_only));
  g_object_class_install_property(
      gobject_class, PROP_HOOK_ERRORS,
      g_param_spec_uint64("hook-errors", "Hook errors",
                          "Failed requests, timeouts and malformed replies", 0, G_MAXUINT64, 0,
                          read_only));
  g_object_class_install_property(
      gobject_class, PROP_VERDICTS_RECEIVED,
      g_param_spec_uint64("verdicts-received", "Verdicts received",
                          "Valid verdicts the hook returned", 0, G_MAXUINT64, 0, read_only));

  /**
   * GstLpModerator::snapshot:
   * @jpeg: the snapshot as a JPEG
   * @sequence: pass it back to #GstLpModerator::submit-verdict
   * @info: stream-id, sequence, timestamp-ms, running-time, width, height
   *
   * Emitted on the element's worker thread when hook-uri is empty. Answer
   * (from any thread, now or later) with submit-verdict before `timeout`.
   */
  signals[SIGNAL_SNAPSHOT] =
      g_signal_new("snapshot", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, nullptr, nullptr,
                   nullptr, G_TYPE_NONE, 3, G_TYPE_BYTES, G_TYPE_UINT64, GST_TYPE_STRUCTURE);
  /**
   * GstLpModerator::submit-verdict:
   * @sequence: the snapshot answered, or 0 to force a verdict now
   * @reply: the verdict JSON, as a hook would answer
   *
   * Returns: TRUE if the answer was accepted (a malformed answer to a pending
   * snapshot is accepted and gets the on-error policy); FALSE for a sequence
   * not awaited or a malformed forced verdict.
   */
  signals[SIGNAL_SUBMIT_VERDICT] =
      g_signal_new_class_handler("submit-verdict", G_TYPE_FROM_CLASS(klass),
                                 static_cast<GSignalFlags>(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
                                 G_CALLBACK(gst_lp_moderator_submit_verdict), nullptr, nullptr,
                                 nullptr, G_TYPE_BOOLEAN, 2, G_TYPE_UINT64, G_TYPE_STRING);
  /**
   * GstLpModerator::release-forced:
   *
   * Replaces a forced verdict in force by allow (source "released"), so the
   * hook's next verdict decides again.
   *
   * Returns: TRUE if a forced verdict was in force.
   */
  signals[SIGNAL_RELEASE_FORCED] = g_signal_new_class_handler(
      "release-forced", G_TYPE_FROM_CLASS(klass),
      static_cast<GSignalFlags>(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(gst_lp_moderator_release_forced), nullptr, nullptr, nullptr, G_TYPE_BOOLEAN, 0);

  gst_element_class_set_static_metadata(
      element_class, "livepipe moderator", "Filter/Effect/Video",
      "Sends periodic snapshots to a moderation hook and blurs, blocks or ends the stream on its "
      "verdicts",
      "livepipe developers");
  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);

  transform_class->start = GST_DEBUG_FUNCPTR(gst_lp_moderator_start);
  transform_class->stop = GST_DEBUG_FUNCPTR(gst_lp_moderator_stop);
  transform_class->before_transform = GST_DEBUG_FUNCPTR(gst_lp_moderator_before_transform);
  filter_class->transform_frame_ip = GST_DEBUG_FUNCPTR(gst_lp_moderator_transform_frame_ip);

  gst_type_mark_as_plugin_api(GST_TYPE_LP_MODERATOR_ON_ERROR, static_cast<GstPluginAPIFlags>(0));
}

static void gst_lp_moderator_init(GstLpModerator *self) {
  self->state = new ModeratorState();
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
}
