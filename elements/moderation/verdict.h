// Moderation verdicts as hooks answer them: the JSON reply format and its
// parser. No GStreamer here, so the parser can be fuzzed on its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace livepipe::moderation {

enum class Action { Allow, Blur, Block, End };

// Bounds a reply must respect; larger values are rejected, not clamped, so a
// misbehaving hook is noticed instead of half-applied.
inline constexpr size_t kMaxReplyBytes = 64 * 1024;
inline constexpr size_t kMaxRegions = 64;
inline constexpr size_t kMaxReasonBytes = 1024;
inline constexpr int64_t kMaxExpiresMs = 24 * 3600 * 1000;
inline constexpr int64_t kMaxCoordinate = 1 << 16;

// A rectangle in the snapshot's pixels (the JPEG the hook received).
struct Region {
  int x = 0;
  int y = 0;
  int w = 0;
  int h = 0;
  bool operator==(const Region &) const = default;
};

struct Verdict {
  Action action = Action::Allow;
  std::string reason;
  std::vector<Region> regions;        // blur only; empty = the whole frame
  std::optional<int64_t> expires_ms;  // the verdict lapses to allow after this
};

// "allow", "blur", "block", "end".
const char *action_name(Action action);
std::optional<Action> action_from_name(std::string_view name);

// Parses a hook's reply:
//   {"verdict": "allow"|"blur"|"block"|"end", "reason": "...",
//    "regions": [{"x":0,"y":0,"w":10,"h":10}, ...], "expires_ms": 5000}
// Unknown members are ignored so hooks may add their own. Returns false with
// a one-line `error` naming the problem (and its JSON position) otherwise.
bool parse_verdict(std::string_view text, Verdict *verdict, std::string *error);

}  // namespace livepipe::moderation
