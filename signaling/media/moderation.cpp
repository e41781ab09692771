#include "moderation.h"

#include "http_reply.h"
#include "server.h"
#include "util/gstptr.h"
#include "util/json.h"

#include <deque>
#include <map>
#include <vector>

namespace livepipe::signaling::media {
namespace {

constexpr size_t kHistoryKept = 20;
constexpr size_t kErrorsKept = 10;
constexpr size_t kMaxBodyBytes = 16 * 1024;
constexpr size_t kMaxReasonBytes = 1024;
constexpr int64_t kMaxExpiresMs = 86400000;

int64_t now_unix_ms() {
  return g_get_real_time() / 1000;
}

std::string field_string(const GstStructure *s, const char *name) {
  const char *value = gst_structure_get_string(s, name);
  return value ? value : "";
}

// The stream's lpmoderationswitch elements (a passthrough moderated
// description has one per medium; one that always re-encodes has none).
std::vector<GstPtr<GstElement>> moderation_switches(GstElement *pipeline) {
  std::vector<GstPtr<GstElement>> found;
  GstIterator *it = gst_bin_iterate_recurse(GST_BIN(pipeline));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    auto *element = GST_ELEMENT(g_value_get_object(&item));
    if (g_strcmp0(G_OBJECT_TYPE_NAME(element), "GstLpModerationSwitch") == 0) {
      found.push_back(ref(element));
    }
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return found;
}

}  // namespace

std::variant<ForcedVerdict, std::string> parse_forced_verdict(const std::string &body) {
  if (body.size() > kMaxBodyBytes) {
    return std::string("the body is larger than 16 KiB");
  }
  json::ParseError error;
  json::NodePtr root = json::parse(body, &error);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root.get())) {
    return std::string(
        "the body must be a JSON object such as {\"verdict\": \"block\", \"reason\": \"...\", "
        "\"expiresMs\": 60000}");
  }
  JsonObject *object = json_node_get_object(root.get());
  GList *members = json_object_get_members(object);
  std::string unknown;
  for (GList *l = members; l; l = l->next) {
    std::string name = static_cast<const char *>(l->data);
    if (name != "verdict" && name != "reason" && name != "expiresMs" && unknown.empty()) {
      unknown = name;
    }
  }
  g_list_free(members);
  if (!unknown.empty()) {
    return "unknown member \"" + unknown + "\" (verdict, reason, expiresMs)";
  }
  ForcedVerdict forced;
  auto verdict = json::get_string(object, "verdict");
  if (!verdict) {
    return std::string("verdict is required: allow, blur, block or end");
  }
  if (*verdict != "allow" && *verdict != "blur" && *verdict != "block" && *verdict != "end") {
    return "verdict must be allow, blur, block or end, not \"" + *verdict + "\"";
  }
  forced.verdict = *verdict;
  if (json_object_has_member(object, "reason")) {
    auto reason = json::get_string(object, "reason");
    if (!reason || reason->size() > kMaxReasonBytes) {
      return std::string("reason must be a string of at most 1024 bytes");
    }
    forced.reason = *reason;
  }
  if (json_object_has_member(object, "expiresMs")) {
    auto expires = json::get_int(object, "expiresMs");
    if (!expires || *expires < 1 || *expires > kMaxExpiresMs) {
      return std::string("expiresMs must be an integer from 1 to 86400000");
    }
    if (forced.verdict == "end") {
      return std::string("an end verdict cannot expire");
    }
    forced.expires_ms = *expires;
  }
  if (forced.reason.empty()) {
    forced.reason = "forced by an administrator";
  }
  return forced;
}

std::string element_verdict_json(const ForcedVerdict &forced) {
  json::ObjectBuilder out;
  out.set("verdict", forced.verdict).set("reason", forced.reason);
  if (forced.expires_ms) {
    out.set("expires_ms", forced.expires_ms);
  }
  return out.to_string();
}

struct ModerationService::Impl {
  // A verdict as lpmoderator applied it (its "livepipe-moderation" message).
  struct Result {
    int64_t at_ms = 0;
    std::string verdict, reason, source;
    uint64_t sequence = 0;
    int64_t expires_ms = -1;
    double latency_ms = -1;
  };
  struct HookError {
    int64_t at_ms = 0;
    std::string message;
  };
  struct Entry {
    int64_t started_unix = 0;
    GstPtr<GstElement> moderator;
    std::vector<GstPtr<GstElement>> switches;
    Result current;  // allow until the first verdict
    std::deque<Result> history;
    std::deque<HookError> errors;
    std::optional<ForcedVerdict> forced;
    int64_t forced_at_ms = 0;
  };

  const Config &config;
  MediaService &media;
  Notifier &notifier;
  Logger &log;
  std::map<std::string, Entry> streams;
  std::map<std::string, uint64_t> changes;  // verdict changes, by verdict
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  Impl(const Config &c, MediaService &m, Notifier &n, Logger &l)
      : config(c), media(m), notifier(n), log(l) {}

  void started(Stream &stream) {
    GstElement *moderator = stream.pipeline() ? stream.pipeline()->find("moderator") : nullptr;
    if (!moderator || g_strcmp0(G_OBJECT_TYPE_NAME(moderator), "GstLpModerator") != 0) {
      return;
    }
    Entry entry;
    entry.started_unix = stream.started_unix();
    entry.moderator = ref(moderator);
    entry.switches = moderation_switches(stream.pipeline()->element());
    entry.current.at_ms = now_unix_ms();
    entry.current.verdict = "allow";
    entry.current.source = "start";
    streams[stream.name()] = std::move(entry);
    std::weak_ptr<bool> weak = alive;
    std::string name = stream.name();
    int64_t started = stream.started_unix();
    stream.add_message_listener([this, weak, name, started](GstMessage *message) {
      if (!weak.lock()) {
        return;
      }
      auto it = streams.find(name);
      if (it != streams.end() && it->second.started_unix == started &&
          GST_MESSAGE_SRC(message) == GST_OBJECT(it->second.moderator.get())) {
        on_message(name, it->second, message);
      }
    });
  }

  void ending(Stream &stream) {
    auto it = streams.find(stream.name());
    if (it != streams.end() && it->second.started_unix == stream.started_unix()) {
      streams.erase(it);
    }
  }

  void on_message(const std::string &name, Entry &entry, GstMessage *message) {
    if (GST_MESSAGE_TYPE(message) == GST_MESSAGE_WARNING) {
      GError *error = nullptr;
      gst_message_parse_warning(message, &error, nullptr);
      entry.errors.push_back({now_unix_ms(), error ? error->message : "hook failed"});
      g_clear_error(&error);
      while (entry.errors.size() > kErrorsKept) {
        entry.errors.pop_front();
      }
      return;
    }
    const GstStructure *s = gst_message_get_structure(message);
    if (!s || !gst_structure_has_name(s, "livepipe-moderation")) {
      return;
    }
    Result result;
    result.at_ms = now_unix_ms();
    result.verdict = field_string(s, "verdict");
    result.reason = field_string(s, "reason");
    result.source = field_string(s, "source");
    guint64 sequence = 0;
    gst_structure_get_uint64(s, "sequence", &sequence);
    result.sequence = sequence;
    gint64 expires = -1;
    gst_structure_get_int64(s, "expires-ms", &expires);
    result.expires_ms = expires;
    gst_structure_get_double(s, "latency-ms", &result.latency_ms);
    const std::string previous = entry.current.verdict;
    entry.current = result;
    entry.history.push_back(result);
    while (entry.history.size() > kHistoryKept) {
      entry.history.pop_front();
    }
    if (result.source == "released" || result.source == "expired") {
      entry.forced.reset();
    }
    if (result.verdict == previous) {
      return;
    }
    ++changes[result.verdict];
    log.info("moderation", {{"stream", name},
                            {"verdict", result.verdict},
                            {"previous", previous},
                            {"source", result.source},
                            {"reason", result.reason}});
    json::ObjectBuilder event;
    event.set("event", "moderation")
        .set("stream", name)
        .set("verdict", result.verdict)
        .set("previous", previous)
        .set("reason", result.reason)
        .set("source", result.source)
        .set("sequence", static_cast<int64_t>(result.sequence))
        .set("at_ms", result.at_ms);
    if (result.latency_ms >= 0) {
      event.set("latency_ms", result.latency_ms);
    }
    notifier.send(config.hooks.on_moderation, "moderation", event.to_string());
    if (result.verdict == "end") {
      media.end_stream(name, "ended by moderation: " + result.reason);
    }
  }

  json::NodePtr result_json(const Result &r) {
    json::ObjectBuilder out;
    out.set("verdict", r.verdict)
        .set("reason", r.reason)
        .set("source", r.source)
        .set("sequence", static_cast<int64_t>(r.sequence))
        .set("atMs", r.at_ms);
    r.expires_ms >= 0 ? out.set("expiresMs", r.expires_ms) : out.set_null("expiresMs");
    r.latency_ms >= 0 ? out.set("latencyMs", r.latency_ms) : out.set_null("latencyMs");
    return out.build();
  }

  std::string state_json(const std::string &name, const Entry &entry) {
    auto counter = [&](const char *property) {
      guint64 value = 0;
      g_object_get(entry.moderator.get(), property, &value, nullptr);
      return static_cast<int64_t>(value);
    };
    json::NodePtr history(json_node_new(JSON_NODE_ARRAY));
    JsonArray *array = json_array_new();
    for (auto it = entry.history.rbegin(); it != entry.history.rend(); ++it) {
      json_array_add_element(array, result_json(*it).release());
    }
    json_node_take_array(history.get(), array);
    json::NodePtr errors(json_node_new(JSON_NODE_ARRAY));
    array = json_array_new();
    for (auto it = entry.errors.rbegin(); it != entry.errors.rend(); ++it) {
      json_array_add_element(array, json::ObjectBuilder()
                                        .set("atMs", it->at_ms)
                                        .set("message", it->message)
                                        .build()
                                        .release());
    }
    json_node_take_array(errors.get(), array);
    gchar *hook = nullptr;
    g_object_get(entry.moderator.get(), "hook-uri", &hook, nullptr);
    std::string hook_kind = !hook || !*hook                   ? "none"
                            : g_str_has_prefix(hook, "exec:") ? "exec"
                                                              : "http";
    g_free(hook);
    // What the outputs carry: the publisher's own encoding (passthrough),
    // the moderated re-encoding because of the verdict (processed), or a
    // re-encoding whatever the verdict (encoded).
    std::string output = entry.switches.empty() ? "encoded" : "passthrough";
    for (const auto &element : entry.switches) {
      gchar *value = nullptr;
      g_object_get(element.get(), "output", &value, nullptr);
      if (g_strcmp0(value, "processed") == 0) {
        output = "processed";
      }
      g_free(value);
    }
    json::ObjectBuilder out;
    out.set("stream", name)
        .set("verdict", entry.current.verdict)
        .set("output", output)
        .set("current", result_json(entry.current))
        .set("hook", hook_kind)
        .set("snapshotsTaken", counter("snapshots-taken"))
        .set("snapshotsSkipped", counter("snapshots-skipped"))
        .set("hookErrors", counter("hook-errors"))
        .set("verdictsReceived", counter("verdicts-received"));
    if (entry.forced) {
      json::ObjectBuilder forced;
      forced.set("verdict", entry.forced->verdict)
          .set("reason", entry.forced->reason)
          .set("atMs", entry.forced_at_ms);
      entry.forced->expires_ms
          ? forced.set("expiresAtMs", entry.forced_at_ms + entry.forced->expires_ms)
          : forced.set_null("expiresAtMs");
      out.set("forced", forced.build());
    } else {
      out.set_null("forced");
    }
    out.set("results", std::move(history)).set("hookErrorsRecent", std::move(errors));
    return out.to_string();
  }

  void handle(SoupServerMessage *msg, const std::string &method, const std::string &name) {
    if (method != "GET" && method != "POST" && method != "DELETE") {
      reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use GET, POST or DELETE");
      return;
    }
    Stream *stream = media.find_stream(name);
    if (!stream) {
      reply_error(msg, SOUP_STATUS_NOT_FOUND, "no stream " + name);
      return;
    }
    auto it = streams.find(name);
    if (it == streams.end() || it->second.started_unix != stream->started_unix()) {
      reply_error(msg, SOUP_STATUS_CONFLICT,
                  "stream " + name +
                      " is not moderated: its description has no lpmoderator \"moderator\" "
                      "(publish with ?moderation=on or a media rule)");
      return;
    }
    Entry &entry = it->second;
    if (method == "GET") {
      reply_json(msg, SOUP_STATUS_OK, state_json(name, entry));
      return;
    }
    if (method == "DELETE") {
      gboolean released = FALSE;
      g_signal_emit_by_name(entry.moderator.get(), "release-forced", &released);
      entry.forced.reset();
      log.info("moderation-released", {{"stream", name}});
      reply_json(msg, SOUP_STATUS_OK, state_json(name, entry));
      return;
    }
    auto parsed = parse_forced_verdict(request_body(msg));
    if (auto *why = std::get_if<std::string>(&parsed)) {
      reply_error(msg, SOUP_STATUS_BAD_REQUEST, *why);
      return;
    }
    ForcedVerdict forced = std::get<ForcedVerdict>(std::move(parsed));
    gboolean accepted = FALSE;
    g_signal_emit_by_name(entry.moderator.get(), "submit-verdict", guint64{0},
                          element_verdict_json(forced).c_str(), &accepted);
    if (!accepted) {
      reply_error(msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, "the moderator refused the verdict");
      return;
    }
    log.info("moderation-forced", {{"stream", name},
                                   {"verdict", forced.verdict},
                                   {"reason", forced.reason},
                                   {"expires_ms", std::to_string(forced.expires_ms)}});
    entry.forced = forced;
    entry.forced_at_ms = now_unix_ms();
    std::string body = state_json(name, entry);
    if (forced.verdict == "end") {
      // Without waiting for a frame to carry the verdict: a stalled
      // publisher is ended too.
      media.end_stream(name, "ended by an administrator's moderation verdict: " + forced.reason);
    }
    reply_json(msg, SOUP_STATUS_OK, body);
  }

  std::string metrics() const {
    std::string body =
        "# HELP livepipe_moderation_streams Streams with an lpmoderator.\n"
        "# TYPE livepipe_moderation_streams gauge\n"
        "livepipe_moderation_streams " +
        std::to_string(streams.size()) +
        "\n# HELP livepipe_moderation_verdict_changes_total Verdict changes applied, by the "
        "verdict changed to.\n# TYPE livepipe_moderation_verdict_changes_total counter\n";
    for (const auto &[verdict, count] : changes) {
      body += "livepipe_moderation_verdict_changes_total{verdict=\"" + verdict + "\"} " +
              std::to_string(count) + "\n";
    }
    return body;
  }
};

ModerationService::ModerationService(const Config &config, MediaService &media, Notifier &notifier,
                                     Logger &log)
    : impl_(std::make_unique<Impl>(config, media, notifier, log)) {
  std::weak_ptr<bool> weak = impl_->alive;
  Impl *impl = impl_.get();
  media.add_stream_hooks({[impl, weak](Stream &stream) {
                            if (weak.lock()) {
                              impl->started(stream);
                            }
                          },
                          [impl, weak](Stream &stream, const std::string &) {
                            if (weak.lock()) {
                              impl->ending(stream);
                            }
                          }});
}

ModerationService::~ModerationService() {
  impl_->alive.reset();
}

void ModerationService::install(Server &server) {
  server.add_admin_route([this](SoupServerMessage *msg, const std::string &method,
                                const std::string &path,
                                GHashTable *) { return handle_admin(msg, method, path); });
  server.add_metrics([this] { return impl_->metrics(); });
}

bool ModerationService::handle_admin(SoupServerMessage *msg, const std::string &method,
                                     const std::string &path) {
  const std::string prefix = "/api/v1/streams/";
  const std::string suffix = "/moderation";
  if (path.size() <= prefix.size() + suffix.size() || path.rfind(prefix, 0) != 0 ||
      path.compare(path.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  std::string name = path.substr(prefix.size(), path.size() - prefix.size() - suffix.size());
  if (name.find('/') != std::string::npos) {
    return false;
  }
  impl_->handle(msg, method, name);
  return true;
}

}  // namespace livepipe::signaling::media
