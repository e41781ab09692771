// Checking RTMP destination URLs before a sink sees them.
#pragma once

#include <string>

namespace livepipe::signaling::rtmp {

// "" when `url` is a usable rtmp:// or rtmps:// URL with a host, an
// application and a stream; otherwise why not.
std::string check_rtmp_url(const std::string &url);

}  // namespace livepipe::signaling::rtmp
