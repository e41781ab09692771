#include "access_hooks.h"

#include "util/gstptr.h"
#include "util/json.h"

#include <libsoup/soup.h>

#include <algorithm>
#include <set>

namespace livepipe::signaling::media {
namespace {

// A reason longer than this is cut: it goes into a response body and a log line.
constexpr size_t kMaxReasonBytes = 200;

const char *hook_name(AccessRequest::Action action) {
  return action == AccessRequest::Action::kPublish ? "on_publish" : "on_play";
}

// The hook's body as a one-line reason: control characters become spaces,
// the ends are trimmed and the length bounded (on a UTF-8 boundary).
std::string reason_from_body(GBytes *bytes) {
  gsize size = 0;
  const char *data = bytes ? static_cast<const char *>(g_bytes_get_data(bytes, &size)) : nullptr;
  std::string text(data ? data : "", std::min<gsize>(size, 4 * kMaxReasonBytes));
  for (char &c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      c = ' ';
    }
  }
  if (!g_utf8_validate(text.data(), static_cast<gssize>(text.size()), nullptr)) {
    GCharPtr valid(g_utf8_make_valid(text.data(), static_cast<gssize>(text.size())));
    text = valid.get();
  }
  size_t begin = text.find_first_not_of(' ');
  if (begin == std::string::npos) {
    return {};
  }
  text = text.substr(begin, text.find_last_not_of(' ') - begin + 1);
  if (text.size() > kMaxReasonBytes) {
    size_t cut = kMaxReasonBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) {
      --cut;
    }
    text = text.substr(0, cut);
  }
  return text;
}

}  // namespace

struct AccessHooks::Impl {
  // One hook request in flight; owned by its libsoup callback.
  struct Call {
    Impl *owner = nullptr;  // null once the hooks are gone
    AccessRequest::Action action = AccessRequest::Action::kPublish;
    std::string stream;
    Done done;
    GCancellable *cancellable = g_cancellable_new();
    guint timer = 0;
    bool timed_out = false;
    bool idle = false;  // failing without a request: owned by its idle source
    ~Call() { g_object_unref(cancellable); }
  };

  HookSettings settings;
  Logger &log;
  SoupSession *session = soup_session_new();
  std::set<Call *> calls;

  Impl(const HookSettings &s, Logger &l) : settings(s), log(l) {}

  ~Impl() {
    for (Call *call : calls) {
      call->owner = nullptr;
      if (call->timer) {
        g_source_remove(call->timer);
        call->timer = 0;
      }
      if (call->idle) {
        delete call;
        continue;
      }
      // Its callback frees it, and may run from within the cancel.
      g_cancellable_cancel(call->cancellable);
    }
    g_object_unref(session);
  }

  void finish(Call *call, GBytes *bytes, GError *error, guint status) {
    const char *name = hook_name(call->action);
    AccessVerdict verdict;
    if (error) {
      verdict.allowed = false;
      if (call->timed_out) {
        verdict.reason = std::string("the ") + name + " hook did not answer within " +
                         std::to_string(settings.timeout_ms) + " ms";
      } else {
        verdict.reason = std::string("the ") + name + " hook could not be reached";
      }
      log.warn("hook-failed",
               {{"hook", name}, {"stream", call->stream}, {"error", error->message}});
    } else if (status < 200 || status > 299) {
      verdict.allowed = false;
      verdict.reason = reason_from_body(bytes);
      if (verdict.reason.empty()) {
        verdict.reason = std::string("denied by the ") + name + " hook";
      }
      log.info("hook-denied", {{"hook", name},
                               {"stream", call->stream},
                               {"status", std::to_string(status)},
                               {"reason", verdict.reason}});
    }
    call->done(verdict);
  }

  static void on_sent(GObject *source, GAsyncResult *result, gpointer data) {
    std::unique_ptr<Call> call(static_cast<Call *>(data));
    GError *error = nullptr;
    GBytes *bytes = soup_session_send_and_read_finish(SOUP_SESSION(source), result, &error);
    if (call->owner) {
      Impl *self = call->owner;
      self->calls.erase(call.get());
      if (call->timer) {
        g_source_remove(call->timer);
        call->timer = 0;
      }
      SoupMessage *msg = soup_session_get_async_result_message(SOUP_SESSION(source), result);
      self->finish(call.get(), bytes, error, msg ? soup_message_get_status(msg) : 0);
    }
    if (bytes) {
      g_bytes_unref(bytes);
    }
    g_clear_error(&error);
  }
};

AccessHooks::AccessHooks(const HookSettings &settings, Logger &log)
    : impl_(std::make_unique<Impl>(settings, log)) {}

AccessHooks::~AccessHooks() = default;

bool AccessHooks::enabled(AccessRequest::Action action) const {
  return !(action == AccessRequest::Action::kPublish ? impl_->settings.on_publish
                                                     : impl_->settings.on_play)
              .empty();
}

void AccessHooks::ask(const AccessRequest &request, Done done) {
  const bool publish = request.action == AccessRequest::Action::kPublish;
  const std::string &url = publish ? impl_->settings.on_publish : impl_->settings.on_play;
  json::ObjectBuilder query;
  for (const auto &[key, value] : request.query) {
    query.set(key.c_str(), value);
  }
  json::ObjectBuilder body;
  body.set("action", publish ? "publish" : "play").set("stream", request.stream);
  request.subject.empty() ? body.set_null("subject") : body.set("subject", request.subject);
  request.remote.empty() ? body.set_null("remote") : body.set("remote", request.remote);
  body.set("query", query.build());
  std::string text = json::to_string(body.build().get());

  auto call = std::make_unique<Impl::Call>();
  call->owner = impl_.get();
  call->action = request.action;
  call->stream = request.stream;
  call->done = std::move(done);
  SoupMessage *msg = soup_message_new(SOUP_METHOD_POST, url.c_str());
  if (!msg) {
    // The config checked the URL, so this is not expected; it still denies.
    Impl::Call *raw = call.release();
    raw->idle = true;
    impl_->calls.insert(raw);
    raw->timer = g_idle_add_once(
        +[](gpointer data) {
          std::unique_ptr<Impl::Call> owned(static_cast<Impl::Call *>(data));
          owned->timer = 0;
          owned->owner->calls.erase(owned.get());
          GError *error =
              g_error_new_literal(G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "not an http:// URL");
          owned->owner->finish(owned.get(), nullptr, error, 0);
          g_error_free(error);
        },
        raw);
    return;
  }
  GBytes *bytes = g_bytes_new(text.data(), text.size());
  soup_message_set_request_body_from_bytes(msg, "application/json", bytes);
  g_bytes_unref(bytes);
  Impl::Call *raw = call.release();
  impl_->calls.insert(raw);
  raw->timer = g_timeout_add_once(
      static_cast<guint>(impl_->settings.timeout_ms),
      +[](gpointer data) {
        auto *c = static_cast<Impl::Call *>(data);
        c->timer = 0;
        c->timed_out = true;
        g_cancellable_cancel(c->cancellable);
      },
      raw);
  soup_session_send_and_read_async(impl_->session, msg, G_PRIORITY_DEFAULT, raw->cancellable,
                                   Impl::on_sent, raw);
  g_object_unref(msg);
}

}  // namespace livepipe::signaling::media
