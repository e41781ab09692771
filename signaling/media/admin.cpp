#include "admin.h"

#include "http_reply.h"
#include "service.h"
#include "util/json.h"

#include <cstring>

namespace livepipe::signaling::media {
namespace {

constexpr size_t kSamplesKept = 4;  // the rate spans up to three seconds

int64_t now_unix() {
  return g_get_real_time() / G_USEC_PER_SEC;
}

json::NodePtr codec_list(const Stream &stream) {
  json::NodePtr node(json_node_new(JSON_NODE_ARRAY));
  JsonArray *array = json_array_new();
  for (const auto &chosen : stream.publisher_plan().media) {
    json_array_add_element(array, json::ObjectBuilder()
                                      .set("kind", chosen.kind)
                                      .set("codec", codec_name(chosen.codec))
                                      .set("payloadType", int64_t(chosen.payload_type))
                                      .set("clockRate", int64_t(chosen.clock_rate))
                                      .build()
                                      .release());
  }
  json_node_take_array(node.get(), array);
  return node;
}

}  // namespace

StreamsAdmin::StreamsAdmin(MediaService &service, const Config &config)
    : service_(service), config_(config) {
  sampler_ = add_timeout(g_main_context_get_thread_default(), 1000, [this] {
    sample();
    return true;
  });
}

void StreamsAdmin::sample() {
  std::map<std::pair<std::string, int64_t>, std::deque<Sample>> kept;
  int64_t now = g_get_monotonic_time();
  for (const Stream *stream : service_.streams()) {
    auto key = std::make_pair(stream->name(), stream->started_unix());
    auto found = samples_.find(key);
    std::deque<Sample> samples =
        found == samples_.end() ? std::deque<Sample>{} : std::move(found->second);
    samples.push_back({now, stream->bytes_in()});
    while (samples.size() > kSamplesKept) {
      samples.pop_front();
    }
    kept[key] = std::move(samples);
  }
  samples_ = std::move(kept);
}

int64_t StreamsAdmin::bitrate_in(const Stream &stream) const {
  auto found = samples_.find({stream.name(), stream.started_unix()});
  int64_t now = g_get_monotonic_time();
  if (found != samples_.end() && !found->second.empty() &&
      now - found->second.front().mono_us >= G_USEC_PER_SEC / 2) {
    const Sample &oldest = found->second.front();
    return static_cast<int64_t>((stream.bytes_in() - oldest.bytes_in) * 8 * G_USEC_PER_SEC /
                                (now - oldest.mono_us));
  }
  // Younger than the sampling: the mean since the stream started.
  int64_t age = std::max<int64_t>(1, now_unix() - stream.started_unix());
  return static_cast<int64_t>(stream.bytes_in() * 8 / age);
}

bool StreamsAdmin::handle(SoupServerMessage *msg, const std::string &method,
                          const std::string &path) {
  const std::string prefix = "/api/v1/streams";
  if (path.rfind(prefix, 0) != 0) {
    return false;
  }
  std::string rest = path.substr(prefix.size());
  if (!rest.empty() && rest[0] != '/') {  // e.g. /api/v1/streamsfoo
    return false;
  }
  if (!rest.empty() && rest[0] == '/') {
    rest.erase(0, 1);
  }
  // "", "{stream}" or "{stream}/viewers/{id}"; other paths under a stream
  // (its RTMP destinations, its recording) belong to other handlers.
  std::string name = rest.substr(0, rest.find('/'));
  std::string tail = rest.find('/') == std::string::npos ? "" : rest.substr(rest.find('/') + 1);
  const std::string viewers_prefix = "viewers/";
  if (!tail.empty() && tail.rfind(viewers_prefix, 0) != 0) {
    return false;
  }
  handle(msg, method, name, tail);
  return true;
}

void StreamsAdmin::handle(SoupServerMessage *msg, const std::string &method,
                          const std::string &name, const std::string &tail) {
  StreamsAdmin *self = this;
  auto summary = [self](const Stream &stream) {
    uint64_t bytes_out = 0;
    for (const auto &viewer : stream.viewers()) {
      bytes_out += viewer.sent.bytes;
    }
    json::ObjectBuilder builder;
    builder.set("name", stream.name())
        .set("publisher", json::ObjectBuilder().set("state", stream.publisher_state()).build())
        .set("codecs", codec_list(stream))
        .set("viewerCount", int64_t(stream.viewer_count()))
        .set("bitrateIn", self->bitrate_in(stream))
        .set("bytesIn", int64_t(stream.bytes_in()))
        .set("packetsIn", int64_t(stream.packets_in()))
        .set("bytesOut", int64_t(bytes_out))
        .set("startedAt", stream.started_unix())
        .set("uptimeSeconds", now_unix() - stream.started_unix());
    return builder;
  };

  if (name.empty()) {
    if (method != "GET") {
      reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use GET");
      return;
    }
    json::NodePtr list(json_node_new(JSON_NODE_ARRAY));
    JsonArray *array = json_array_new();
    for (const Stream *stream : self->service_.streams()) {
      json_array_add_element(array, summary(*stream).build().release());
    }
    json_node_take_array(list.get(), array);
    reply_json(msg, SOUP_STATUS_OK,
               json::ObjectBuilder().set("streams", std::move(list)).to_string());
    return;
  }
  const Stream *stream = self->service_.find_stream(name);
  if (tail.empty()) {
    if (method != "GET" && method != "DELETE") {
      reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use GET or DELETE");
      return;
    }
    if (!stream || stream->ended()) {
      reply_error(msg, SOUP_STATUS_NOT_FOUND, "no stream " + name);
      return;
    }
    if (method == "DELETE") {
      self->service_.end_stream(name, "ended by an administrator");
      soup_server_message_set_status(msg, SOUP_STATUS_NO_CONTENT, nullptr);
      return;
    }
    json::NodePtr viewers(json_node_new(JSON_NODE_ARRAY));
    JsonArray *array = json_array_new();
    for (const auto &viewer : stream->viewers()) {
      json_array_add_element(array, json::ObjectBuilder()
                                        .set("id", viewer.id)
                                        .set("since", viewer.since_unix)
                                        .set("uptimeSeconds", now_unix() - viewer.since_unix)
                                        .set("packetsOut", int64_t(viewer.sent.packets))
                                        .set("bytesOut", int64_t(viewer.sent.bytes))
                                        .build()
                                        .release());
    }
    json_node_take_array(viewers.get(), array);
    reply_json(msg, SOUP_STATUS_OK,
               summary(*stream).set("viewers", std::move(viewers)).to_string());
    return;
  }
  const std::string viewers_prefix = "viewers/";
  if (tail.size() == viewers_prefix.size() ||
      tail.find('/', viewers_prefix.size()) != std::string::npos) {
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "no such endpoint");
    return;
  }
  std::string viewer = tail.substr(viewers_prefix.size());
  if (method != "DELETE") {
    reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use DELETE");
    return;
  }
  if (!stream || stream->ended()) {
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "no stream " + name);
    return;
  }
  if (!self->service_.kick_viewer(name, viewer)) {
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "stream " + name + " has no viewer " + viewer);
    return;
  }
  soup_server_message_set_status(msg, SOUP_STATUS_NO_CONTENT, nullptr);
}

}  // namespace livepipe::signaling::media
