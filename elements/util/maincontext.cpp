#include "maincontext.h"

#include <memory>

namespace livepipe {
namespace {

using Work = std::function<void()>;

gboolean run_once(gpointer data) {
  (*static_cast<Work *>(data))();
  return G_SOURCE_REMOVE;
}

void destroy_work(gpointer data) {
  delete static_cast<Work *>(data);
}

using Tick = std::function<bool()>;

gboolean run_tick(gpointer data) {
  return (*static_cast<Tick *>(data))() ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

void destroy_tick(gpointer data) {
  delete static_cast<Tick *>(data);
}

}  // namespace

void invoke_on(GMainContext *context, std::function<void()> work, gint priority) {
  g_main_context_invoke_full(context, priority, run_once, new Work(std::move(work)), destroy_work);
}

void post_to(GMainContext *context, std::function<void()> work, gint priority) {
  GSource *source = g_idle_source_new();
  g_source_set_priority(source, priority);
  g_source_set_callback(source, run_once, new Work(std::move(work)), destroy_work);
  g_source_attach(source, context);
  g_source_unref(source);
}

void SourceGuard::reset() {
  if (source_) {
    g_source_destroy(source_);
    g_source_unref(source_);
    source_ = nullptr;
  }
}

SourceGuard add_timeout(GMainContext *context, guint interval_ms, std::function<bool()> tick) {
  GSource *source = g_timeout_source_new(interval_ms);
  g_source_set_callback(source, run_tick, new Tick(std::move(tick)), destroy_tick);
  g_source_attach(source, context);
  return SourceGuard(source);
}

}  // namespace livepipe
