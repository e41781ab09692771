#include "sdpfrag.h"

#include <cctype>
#include <charconv>

namespace livepipe::signaling::media {
namespace {

// RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/".
bool ice_chars(std::string_view value) {
  for (char c : value) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') {
      return false;
    }
  }
  return true;
}

std::vector<std::string_view> fields(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') {
      ++i;
    }
    size_t start = i;
    while (i < text.size() && text[i] != ' ') {
      ++i;
    }
    if (i > start) {
      out.push_back(text.substr(start, i - start));
    }
  }
  return out;
}

bool number(std::string_view text, unsigned long long max) {
  unsigned long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc() && end == text.data() + text.size() && value <= max;
}

// candidate:<foundation> <component> <transport> <priority> <address> <port>
// typ <type> [...]
std::string check_candidate(std::string_view value) {
  auto f = fields(value.substr(std::string_view("candidate:").size()));
  if (f.size() < 8) {
    return "a candidate needs foundation, component, transport, priority, address, port and typ";
  }
  if (f[0].empty() || f[0].size() > 32 || !ice_chars(f[0])) {
    return "candidate foundation must be 1-32 ice-chars";
  }
  if (!number(f[1], 256) || f[1] == "0") {
    return "candidate component must be 1-256";
  }
  if (!number(f[3], 0xffffffffULL)) {
    return "candidate priority must be a 32-bit number";
  }
  if (!number(f[5], 65535)) {
    return "candidate port must be 0-65535";
  }
  if (f[6] != "typ") {
    return "candidate needs \"typ\" after the port";
  }
  if (f[7] != "host" && f[7] != "srflx" && f[7] != "prflx" && f[7] != "relay") {
    return "candidate type must be host, srflx, prflx or relay";
  }
  return {};
}

}  // namespace

std::variant<SdpFrag, std::string> parse_sdpfrag(std::string_view text) {
  if (text.size() > kMaxSdpFragBytes) {
    return std::string("the fragment is larger than 64 KiB");
  }
  SdpFrag frag;
  SdpFragMedia *current = nullptr;
  std::string ufrag, pwd;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? end : end - pos);
    pos = end == std::string_view::npos ? text.size() : end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty()) {
      continue;
    }
    auto fail = [&](const std::string &why) {
      return "line " + std::to_string(line_no) + ": " + why;
    };
    if (line.size() < 2 || line[1] != '=' || !std::islower(static_cast<unsigned char>(line[0]))) {
      return fail("not an SDP line (x=value)");
    }
    for (char c : line) {
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
        return fail("control character");
      }
    }
    std::string_view value = line.substr(2);
    if (line[0] == 'm') {
      frag.media.emplace_back();
      current = &frag.media.back();
      continue;
    }
    if (line[0] != 'a') {
      continue;
    }
    auto attr = [&](std::string_view name) {
      return value.size() > name.size() && value.substr(0, name.size()) == name &&
             value[name.size()] == ':';
    };
    if (attr("ice-ufrag")) {
      std::string_view v = value.substr(10);
      if (v.size() < 4 || v.size() > 256 || !ice_chars(v)) {
        return fail("ice-ufrag must be 4-256 ice-chars");
      }
      if (!ufrag.empty() && ufrag != v) {
        return fail("conflicting ice-ufrag values");
      }
      ufrag = v;
    } else if (attr("ice-pwd")) {
      std::string_view v = value.substr(8);
      if (v.size() < 22 || v.size() > 256 || !ice_chars(v)) {
        return fail("ice-pwd must be 22-256 ice-chars");
      }
      if (!pwd.empty() && pwd != v) {
        return fail("conflicting ice-pwd values");
      }
      pwd = v;
    } else if (attr("mid")) {
      if (!current) {
        return fail("a=mid before any m= line");
      }
      std::string_view v = value.substr(4);
      if (v.empty() || v.size() > 64) {
        return fail("mid must be 1-64 characters");
      }
      current->mid = v;
    } else if (attr("candidate")) {
      if (!current) {
        return fail("a=candidate before any m= line");
      }
      if (std::string why = check_candidate(value); !why.empty()) {
        return fail(why);
      }
      current->candidates.emplace_back(value);
    } else if (value == "end-of-candidates") {
      if (current) {
        current->end_of_candidates = true;
      } else {
        for (auto &m : frag.media) {
          m.end_of_candidates = true;
        }
      }
    }
  }
  if (ufrag.empty() != pwd.empty()) {
    return std::string("the fragment needs both ice-ufrag and ice-pwd, or neither");
  }
  frag.ice_ufrag = std::move(ufrag);
  frag.ice_pwd = std::move(pwd);
  if (frag.media.empty() && !frag.has_credentials()) {
    return std::string("the fragment has neither media sections nor ICE credentials");
  }
  return frag;
}

}  // namespace livepipe::signaling::media
