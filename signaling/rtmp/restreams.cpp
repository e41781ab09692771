#include "restreams.h"

#include "http_reply.h"
#include "util/json.h"

namespace livepipe::signaling::rtmp {
namespace {

constexpr size_t kMaxBodyBytes = 16 * 1024;

json::NodePtr destination_json(const DestinationInfo &d) {
  json::ObjectBuilder out;
  out.set("id", d.id)
      .set("url", d.url)
      .set("state", d.state)
      .set("bytesSent", static_cast<int64_t>(d.bytes_sent))
      .set("attempts", static_cast<int64_t>(d.attempts));
  if (!d.last_error.empty()) {
    out.set("lastError", d.last_error);
  }
  if (d.state == "retrying") {
    out.set("nextAttemptUnixMs", d.next_attempt_unix_ms);
  }
  return out.build();
}

std::string label_value(const std::string &text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c == '\n' ? ' ' : c;
  }
  return out;
}

}  // namespace

RtmpService::RtmpService(const Config &config, media::MediaService &media, Logger &log)
    : config_(config), media_(media), log_(log) {
  const RtmpSettings &s = config.rtmp;
  options_.backoff_initial_ms = s.backoff_initial_ms;
  options_.backoff_max_ms = s.backoff_max_ms;
  options_.keyframe_interval_seconds = static_cast<int>(s.keyframe_interval_seconds);
  options_.video_bitrate_kbps = static_cast<int>(s.video_bitrate_kbps);
  options_.audio_bitrate = static_cast<int>(s.audio_bitrate);
  options_.audio_rate = static_cast<int>(s.audio_rate);
  // The media service may outlive this object (it is destroyed after it).
  std::weak_ptr<bool> weak = alive_;
  media_.add_stream_hooks({[this, weak](media::Stream &stream) {
                             if (weak.lock()) {
                               stream_started(stream);
                             }
                           },
                           [this, weak](media::Stream &stream, const std::string &) {
                             if (weak.lock()) {
                               stream_ending(stream);
                             }
                           }});
}

RtmpService::~RtmpService() {
  alive_.reset();
  egresses_.clear();
}

void RtmpService::install(Server &server) {
  server.add_admin_route([this](SoupServerMessage *msg, const std::string &method,
                                const std::string &path,
                                GHashTable *) { return handle_admin(msg, method, path); });
  server.add_metrics([this] { return metrics(); });
}

RtmpEgress *RtmpService::egress_for(media::Stream &stream, std::string *error) {
  auto it = egresses_.find(stream.name());
  if (it != egresses_.end()) {
    return it->second.get();
  }
  if (!stream.pipeline()) {
    *error = "the stream has not started";
    return nullptr;
  }
  StreamMedia media;
  auto video = stream.video_codecs();
  media.video_codec = video.empty() ? "" : media::codec_name(video.front());
  media.audio = !stream.audio_codecs().empty();
  auto egress = std::make_unique<RtmpEgress>(stream.name(), *stream.pipeline(), media, options_);
  RtmpEgress *raw = egress.get();
  egresses_[stream.name()] = std::move(egress);
  return raw;
}

void RtmpService::stream_started(media::Stream &stream) {
  for (const auto &rule : config_.rtmp.destinations) {
    if (rule.stream != "*" && rule.stream != stream.name()) {
      continue;
    }
    std::string url = rule.url;
    for (size_t at = url.find("{stream}"); at != std::string::npos; at = url.find("{stream}")) {
      url.replace(at, 8, stream.name());
    }
    std::string error;
    RtmpEgress *egress = egress_for(stream, &error);
    std::string id = egress ? egress->add(url, &error) : "";
    if (id.empty()) {
      log_.error("rtmp-destination-failed",
                 {{"stream", stream.name()}, {"url", url}, {"error", error}});
      continue;
    }
    ++destinations_added_;
    log_.info("rtmp-destination", {{"stream", stream.name()}, {"id", id}, {"url", url}});
  }
}

void RtmpService::stream_ending(media::Stream &stream) {
  egresses_.erase(stream.name());
}

bool RtmpService::handle_admin(SoupServerMessage *msg, const std::string &method,
                               const std::string &path) {
  // /api/v1/streams/{stream}/rtmp[/{id}]
  const std::string prefix = "/api/v1/streams/";
  if (path.rfind(prefix, 0) != 0) {
    return false;
  }
  std::string rest = path.substr(prefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string::npos) {
    return false;
  }
  std::string name = rest.substr(0, slash);
  std::string tail = rest.substr(slash + 1);
  std::string id;
  if (tail.rfind("rtmp/", 0) == 0) {
    id = tail.substr(5);
    if (id.empty() || id.find('/') != std::string::npos) {
      return false;
    }
  } else if (tail != "rtmp") {
    return false;
  }
  media::Stream *stream = media_.find_stream(name);
  if (!stream) {
    reply_error(msg, SOUP_STATUS_NOT_FOUND, "no stream named " + name + " is being published");
    return true;
  }
  auto it = egresses_.find(name);
  if (!id.empty()) {
    if (method != "DELETE") {
      soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                                   "DELETE");
      reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use DELETE on a destination");
      return true;
    }
    if (it == egresses_.end() || !it->second->remove(id)) {
      reply_error(msg, SOUP_STATUS_NOT_FOUND, "stream " + name + " has no RTMP destination " + id);
      return true;
    }
    log_.info("rtmp-destination-removed", {{"stream", name}, {"id", id}});
    soup_server_message_set_status(msg, SOUP_STATUS_NO_CONTENT, nullptr);
    return true;
  }
  if (method == "GET") {
    json::NodePtr list(json_node_new(JSON_NODE_ARRAY));
    JsonArray *array = json_array_new();
    if (it != egresses_.end()) {
      for (const auto &d : it->second->destinations()) {
        json_array_add_element(array, destination_json(d).release());
      }
    }
    json_node_take_array(list.get(), array);
    bool video_transcoded = it != egresses_.end() && it->second->transcodes_video();
    reply_json(msg, SOUP_STATUS_OK,
               json::ObjectBuilder()
                   .set("stream", name)
                   .set("videoTranscoded", video_transcoded)
                   .set("destinations", std::move(list))
                   .to_string());
    return true;
  }
  if (method != "POST") {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                                 "GET, POST");
    reply_error(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "use GET or POST");
    return true;
  }
  std::string body = request_body(msg);
  if (body.size() > kMaxBodyBytes) {
    reply_error(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "the body is larger than 16 KiB");
    return true;
  }
  json::ParseError parse_error;
  json::NodePtr root = json::parse(body, &parse_error);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root.get())) {
    reply_error(msg, SOUP_STATUS_BAD_REQUEST,
                "the body must be a JSON object {\"url\": \"rtmp://...\"}");
    return true;
  }
  auto url = json::get_string(json_node_get_object(root.get()), "url");
  if (!url) {
    reply_error(msg, SOUP_STATUS_BAD_REQUEST, "the body needs \"url\", a string");
    return true;
  }
  if (std::string why = check_rtmp_url(*url); !why.empty()) {
    reply_error(msg, SOUP_STATUS_BAD_REQUEST, why);
    return true;
  }
  std::string error;
  RtmpEgress *egress = egress_for(*stream, &error);
  std::string new_id = egress ? egress->add(*url, &error) : "";
  if (new_id.empty()) {
    reply_error(msg, SOUP_STATUS_UNPROCESSABLE_ENTITY, error);
    return true;
  }
  ++destinations_added_;
  log_.info("rtmp-destination", {{"stream", name}, {"id", new_id}, {"url", *url}});
  std::string location = prefix + name + "/rtmp/" + new_id;
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Location",
                               location.c_str());
  reply_json(msg, SOUP_STATUS_CREATED,
             json::ObjectBuilder().set("id", new_id).set("url", *url).to_string());
  return true;
}

std::string RtmpService::metrics() const {
  std::string body;
  auto metric = [&](const char *name, const char *type, const char *help) {
    body += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  };
  std::map<std::string, uint64_t> by_state = {{"connecting", 0}, {"live", 0}, {"retrying", 0}};
  std::string sent, attempts;
  for (const auto &[name, egress] : egresses_) {
    for (const auto &d : egress->destinations()) {
      ++by_state[d.state];
      std::string labels =
          "{stream=\"" + label_value(name) + "\",id=\"" + label_value(d.id) + "\"}";
      sent += "livepipe_rtmp_sent_bytes_total" + labels + " " + std::to_string(d.bytes_sent) + "\n";
      attempts +=
          "livepipe_rtmp_connect_attempts_total" + labels + " " + std::to_string(d.attempts) + "\n";
    }
  }
  metric("livepipe_rtmp_destinations", "gauge", "RTMP restream destinations by state.");
  for (const auto &[state, count] : by_state) {
    body += "livepipe_rtmp_destinations{state=\"" + state + "\"} " + std::to_string(count) + "\n";
  }
  metric("livepipe_rtmp_sent_bytes_total", "counter",
         "FLV bytes handed to each destination's RTMP connection.");
  body += sent;
  metric("livepipe_rtmp_connect_attempts_total", "counter",
         "Connection attempts per destination (1 + reconnects).");
  body += attempts;
  metric("livepipe_rtmp_destinations_added_total", "counter", "RTMP destinations added.");
  body += "livepipe_rtmp_destinations_added_total " + std::to_string(destinations_added_) + "\n";
  return body;
}

}  // namespace livepipe::signaling::rtmp
