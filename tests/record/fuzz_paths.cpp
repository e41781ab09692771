// libFuzzer target for recording paths: location templates, stream names,
// relative-path checks and the relative links between segments. Whatever the
// input, an accepted path must stay below the root.
#include "safepath.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace livepipe::record;

namespace {

// An accepted path has no component that could climb or be ambiguous.
void check_stays_below_root(const std::string &path) {
  if (path.empty() || path[0] == '/' || path.size() > kMaxPathLength) {
    __builtin_trap();
  }
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string::npos) {
      end = path.size();
    }
    std::string_view part(path.data() + begin, end - begin);
    if (part.empty() || part == "." || part == "..") {
      __builtin_trap();
    }
    begin = end + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  // "template\nstream\ntarget": the parts the element gets from its users.
  size_t first = text.find('\n');
  std::string_view tmpl = text.substr(0, first);
  std::string_view rest = first == std::string_view::npos ? "" : text.substr(first + 1);
  size_t second = rest.find('\n');
  std::string_view stream = rest.substr(0, second);
  std::string_view target = second == std::string_view::npos ? "" : rest.substr(second + 1);
  uint64_t index = size * 7919u;

  std::string error;
  bool valid = validate_template(tmpl, &error);
  if (!valid && error.empty()) {
    __builtin_trap();
  }
  error.clear();
  auto expanded = expand_template(tmpl, stream, index, &error);
  if (expanded) {
    check_stays_below_root(*expanded);
  } else if (error.empty()) {
    __builtin_trap();
  }
  if (validate_stream_name(stream, nullptr) &&
      (stream.find('/') != std::string_view::npos || stream == "." || stream == "..")) {
    __builtin_trap();
  }
  if (validate_relative_path(text, nullptr)) {
    check_stays_below_root(std::string(text));
  }

  // Links between two accepted paths resolve to the target from the source.
  if (expanded && validate_relative_path(target, nullptr)) {
    std::string from = parent_of(*expanded);
    std::string link = relative_to(from, target);
    std::string resolved = from;
    size_t begin = 0;
    while (begin <= link.size()) {
      size_t end = link.find('/', begin);
      if (end == std::string::npos) {
        end = link.size();
      }
      std::string_view part(link.data() + begin, end - begin);
      if (part == "..") {
        size_t slash = resolved.rfind('/');
        if (resolved.empty()) {
          __builtin_trap();  // the link climbs above the root
        }
        resolved = slash == std::string::npos ? "" : resolved.substr(0, slash);
      } else {
        resolved += resolved.empty() ? "" : "/";
        resolved += part;
      }
      begin = end + 1;
    }
    if (resolved != target) {
      __builtin_trap();
    }
  }
  return 0;
}
