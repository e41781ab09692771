// Marshalling work from GStreamer's threads (webrtcbin, streaming threads, bus
// sync handlers) to the GMainContext that owns sessions and jobs.
#pragma once

#include <glib.h>

#include <functional>

namespace livepipe {

// Runs `work` on `context` (nullptr = the global default context). When the
// calling thread already owns the context it runs immediately; otherwise it is
// queued and runs in FIFO order with everything else invoked there, so an SDP
// queued before its ICE candidates is always handled first.
void invoke_on(GMainContext *context, std::function<void()> work,
               gint priority = G_PRIORITY_DEFAULT);

// Always queues, even from the owning thread: for work that must run after the
// current callback has returned (e.g. destroying the object that called us).
void post_to(GMainContext *context, std::function<void()> work, gint priority = G_PRIORITY_DEFAULT);

// Owns a GSource attached to a context and destroys it on scope exit.
class SourceGuard {
 public:
  SourceGuard() = default;
  explicit SourceGuard(GSource *source) : source_(source) {}
  ~SourceGuard() { reset(); }
  SourceGuard(SourceGuard &&other) noexcept : source_(other.source_) { other.source_ = nullptr; }
  SourceGuard &operator=(SourceGuard &&other) noexcept {
    if (this != &other) {
      reset();
      source_ = other.source_;
      other.source_ = nullptr;
    }
    return *this;
  }
  void reset();
  explicit operator bool() const { return source_ != nullptr; }

 private:
  GSource *source_ = nullptr;
};

// A repeating or one-shot timer on `context` calling `tick`; `tick` returns
// false to stop. Destroying the guard stops it.
SourceGuard add_timeout(GMainContext *context, guint interval_ms, std::function<bool()> tick);

}  // namespace livepipe
