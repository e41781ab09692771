#include "url.h"

#include <glib.h>

namespace livepipe::signaling::rtmp {
namespace {

constexpr size_t kMaxUrlBytes = 2048;

}  // namespace

std::string check_rtmp_url(const std::string &url) {
  if (url.empty()) {
    return "the URL is empty";
  }
  if (url.size() > kMaxUrlBytes) {
    return "the URL is longer than 2048 bytes";
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c >= 0x7f) {
      return "the URL has spaces or control characters";
    }
  }
  // rtmp2sink reads the location itself and knows these two spellings only.
  if (url.rfind("rtmp://", 0) != 0 && url.rfind("rtmps://", 0) != 0) {
    return "the URL must start with rtmp:// or rtmps://";
  }
  GError *error = nullptr;
  GUri *uri = g_uri_parse(url.c_str(), G_URI_FLAGS_NONE, &error);
  if (!uri) {
    std::string why = std::string("the URL does not parse: ") + error->message;
    g_error_free(error);
    return why;
  }
  std::string scheme = g_uri_get_scheme(uri);
  std::string host = g_uri_get_host(uri) ? g_uri_get_host(uri) : "";
  std::string path = g_uri_get_path(uri);
  g_uri_unref(uri);
  if (scheme != "rtmp" && scheme != "rtmps") {
    return "the URL must start with rtmp:// or rtmps://";
  }
  if (host.empty()) {
    return "the URL has no host";
  }
  // rtmp2sink takes the first path segment as the application and the rest
  // as the stream name; both must be there.
  std::string rest = path.empty() ? path : path.substr(1);
  size_t slash = rest.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= rest.size()) {
    return "the URL needs an application and a stream: rtmp://host[:port]/app/stream";
  }
  return {};
}

}  // namespace livepipe::signaling::rtmp
