// Moderation hooks that run outside the process: an HTTP(S) webhook
// (libsoup 3) and a command (GSubprocess, no shell). Both are driven from
// lpmoderator's worker thread and never block it.
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace livepipe::moderation {

struct Snapshot {
  uint64_t sequence = 0;
  std::string stream_id;
  int64_t timestamp_ms = 0;                         // wall clock, Unix epoch
  GstClockTime running_time = GST_CLOCK_TIME_NONE;  // of the frame in its pipeline
  int width = 0;
  int height = 0;
  GBytes *jpeg = nullptr;  // borrowed for the duration of submit()
};

// What a hook brought back: the reply text, or why there is none. `kind` is a
// short stable word ("transport", "status", "exit", "oversized", ...) so
// repeated failures of one kind are logged once per burst.
struct HookReply {
  bool ok = false;
  std::string body;
  std::string kind;
  std::string error;
};

using HookDone = std::function<void(HookReply)>;

class Hook {
 public:
  virtual ~Hook() = default;
  // Called on the worker's thread-default main context. `done` is called
  // exactly once, later, on that context; also after `cancellable` fires
  // (the hook then stops its work: closes the connection, kills the command).
  virtual void submit(const Snapshot &snapshot, GCancellable *cancellable, HookDone done) = 0;
};

struct HttpSettings {
  std::string url;
  std::string bearer_token;  // "" = no Authorization header
  std::vector<std::pair<std::string, std::string>> headers;
};

// Creates a webhook on the calling thread's thread-default context, or returns
// nullptr and fills `error` for a URL that is not http:// or https://.
std::unique_ptr<Hook> make_http_hook(const HttpSettings &settings, std::string *error);

// `command` is "exec:" followed by the program and its arguments, split like a
// shell would split them (quotes, backslashes) but run without a shell.
std::unique_ptr<Hook> make_exec_hook(const std::string &command, std::string *error);

// The JSON document the webhook POSTs (also used by tests and docs).
std::string snapshot_json(const Snapshot &snapshot);

}  // namespace livepipe::moderation

namespace livepipe::moderation {

enum class HookKind { Signal, Http, Exec };

// Checks a hook-uri without creating anything: "" (the in-process "snapshot"
// signal), http(s)://host/..., or exec:/absolute/program args...
bool validate_hook_uri(const std::string &uri, HookKind *kind, std::string *error);

}  // namespace livepipe::moderation
