#include "json_text.h"

#include <glib.h>

#include <unordered_set>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <optional>

namespace livepipe::pipelines {

const char *JsonValue::type_name() const {
  switch (kind_) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return "boolean";
    case Kind::kInt:
      return "integer";
    case Kind::kDouble:
      return "number";
    case Kind::kString:
      return "string";
    case Kind::kArray:
      return "array";
    case Kind::kObject:
      return "object";
  }
  return "?";
}

const JsonValue *JsonValue::find(std::string_view name) const {
  for (const auto &[key, value] : members_) {
    if (key == name) {
      return &value;
    }
  }
  return nullptr;
}

class JsonReader {
 public:
  JsonReader(std::string_view text, int max_depth) : text_(text), max_depth_(max_depth) {}

  JsonText document(JsonTextError *error) {
    JsonText out;
    const char *invalid = nullptr;
    if (!g_utf8_validate(text_.data(), static_cast<gssize>(text_.size()), &invalid)) {
      pos_ = static_cast<size_t>(invalid - text_.data());
      fail("the text is not UTF-8");
    } else {
      skip_space();
      if (pos_ == text_.size()) {
        fail("empty document");
      } else {
        auto root = std::make_unique<JsonValue>();
        bool ok = value(*root, 0);
        skip_space();
        if (ok && pos_ != text_.size()) {
          fail("unexpected text after the end of the document");
        } else if (ok) {
          out.root = std::move(root);
        }
      }
    }
    if (!out.root && error) {
      error->message = message_;
      error->at = position_of(pos_);
    }
    out.duplicate_members = duplicates_;
    return out;
  }

 private:
  // Each fills `out` and returns true, or returns false after fail().
  bool value(JsonValue &out, int depth) {
    skip_space();
    if (pos_ >= text_.size()) {
      return fail("unexpected end of the document, a value was expected");
    }
    switch (text_[pos_]) {
      case '{':
        return object(out, depth + 1);
      case '[':
        return array(out, depth + 1);
      case '"':
        out.kind_ = JsonValue::Kind::kString;
        return string(&out.string_);
      case 't':
        out.kind_ = JsonValue::Kind::kBool;
        out.boolean_ = true;
        return literal("true");
      case 'f':
        out.kind_ = JsonValue::Kind::kBool;
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number(out);
    }
  }

  bool object(JsonValue &out, int depth) {
    if (depth > max_depth_) {
      return too_deep();
    }
    ++pos_;  // '{'
    out.kind_ = JsonValue::Kind::kObject;
    auto &members = out.members_;
    skip_space();
    if (peek() == '}') {
      ++pos_;
      return true;
    }
    // Large objects look names up in a set; small ones just scan.
    constexpr size_t kScanLimit = 32;
    std::unordered_set<std::string_view> names;
    std::string key;
    JsonValue member;
    while (true) {
      skip_space();
      if (peek() != '"') {
        return fail("a member name (a string in double quotes) was expected");
      }
      if (!string(&key)) {
        return false;
      }
      skip_space();
      if (peek() != ':') {
        return fail("':' was expected after the member name");
      }
      ++pos_;
      member = JsonValue();
      if (!value(member, depth)) {
        return false;
      }
      JsonValue *existing = nullptr;
      if (members.size() < kScanLimit) {
        for (auto &[name, old] : members) {
          if (name == key) {
            existing = &old;
          }
        }
      } else {
        if (names.empty()) {
          for (const auto &[name, old] : members) {
            names.insert(name);
          }
        }
        if (names.count(key)) {
          existing = const_cast<JsonValue *>(out.find(key));
        }
      }
      if (existing) {
        duplicates_ = true;
        *existing = std::move(member);
      } else {
        // Names in the set view the members' strings: keep them from moving.
        if (!names.empty() && members.size() == members.capacity()) {
          names.clear();
        }
        members.emplace_back(key, std::move(member));
        if (!names.empty()) {
          names.insert(members.back().first);
        }
      }
      skip_space();
      char c = peek();
      ++pos_;
      if (c == '}') {
        return true;
      }
      if (c != ',') {
        --pos_;
        return fail("',' or '}' was expected");
      }
    }
  }

  bool array(JsonValue &out, int depth) {
    if (depth > max_depth_) {
      return too_deep();
    }
    ++pos_;  // '['
    out.kind_ = JsonValue::Kind::kArray;
    skip_space();
    if (peek() == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      out.items_.emplace_back();
      if (!value(out.items_.back(), depth)) {
        return false;
      }
      skip_space();
      char c = peek();
      ++pos_;
      if (c == ']') {
        return true;
      }
      if (c != ',') {
        --pos_;
        return fail("',' or ']' was expected");
      }
    }
  }

  bool literal(std::string_view word) {
    if (text_.compare(pos_, word.size(), word) != 0) {
      return fail(
          "unknown word; a value (string, number, object, array, true, false, null) "
          "was expected");
    }
    pos_ += word.size();
    return true;
  }

  bool number(JsonValue &out) {
    size_t start = pos_;
    bool integral = true;
    if (peek() == '-') {
      ++pos_;
    }
    if (peek() == '0') {
      ++pos_;
    } else if (is_digit(peek())) {
      skip_digits();
    } else {
      pos_ = start;
      return fail("a value (string, number, object, array, true, false, null) was expected");
    }
    if (peek() == '.') {
      integral = false;
      ++pos_;
      if (!is_digit(peek())) {
        return fail("a digit was expected after the decimal point");
      }
      skip_digits();
    }
    if (peek() == 'e' || peek() == 'E') {
      integral = false;
      ++pos_;
      if (peek() == '+' || peek() == '-') {
        ++pos_;
      }
      if (!is_digit(peek())) {
        return fail("a digit was expected in the exponent");
      }
      skip_digits();
    }
    std::string digits(text_.substr(start, pos_ - start));
    if (integral) {
      errno = 0;
      long long value = std::strtoll(digits.c_str(), nullptr, 10);
      if (errno == 0) {
        out.kind_ = JsonValue::Kind::kInt;
        out.integer_ = value;
        return true;
      }
    }
    out.kind_ = JsonValue::Kind::kDouble;
    out.number_ = g_ascii_strtod(digits.c_str(), nullptr);
    return true;
  }

  // Reads a string at '"' into `out`.
  bool string(std::string *out) {
    out->clear();
    ++pos_;  // '"'
    while (true) {
      size_t run = pos_;
      while (pos_ < text_.size() && text_[pos_] != '"' && text_[pos_] != '\\' &&
             static_cast<unsigned char>(text_[pos_]) >= 0x20) {
        ++pos_;
      }
      out->append(text_.data() + run, pos_ - run);
      if (pos_ >= text_.size()) {
        fail("unterminated string");
        return false;
      }
      char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c != '\\') {
        fail("control characters must be escaped in strings");
        return false;
      }
      ++pos_;
      char e = peek();
      ++pos_;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          *out += e;
          break;
        case 'b':
          *out += '\b';
          break;
        case 'f':
          *out += '\f';
          break;
        case 'n':
          *out += '\n';
          break;
        case 'r':
          *out += '\r';
          break;
        case 't':
          *out += '\t';
          break;
        case 'u':
          if (!unicode_escape(out)) {
            return false;
          }
          break;
        default:
          pos_ -= 2;
          fail("unknown escape in a string");
          return false;
      }
    }
  }

  bool unicode_escape(std::string *out) {
    auto unit = hex4();
    if (!unit) {
      return false;
    }
    uint32_t cp = *unit;
    if (cp >= 0xd800 && cp < 0xdc00 && text_.compare(pos_, 2, "\\u") == 0) {
      size_t back = pos_;
      pos_ += 2;
      auto low = hex4();
      if (!low) {
        return false;
      }
      if (*low >= 0xdc00 && *low < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (*low - 0xdc00);
      } else {
        pos_ = back;  // not a pair: the first stands alone
      }
    }
    if (cp >= 0xd800 && cp < 0xe000) {
      cp = 0xfffd;  // a lone surrogate has no UTF-8 form
    }
    if (cp == 0) {
      pos_ -= 6;
      fail("strings cannot contain \\u0000");
      return false;
    }
    char buffer[8];
    out->append(buffer, static_cast<size_t>(g_unichar_to_utf8(cp, buffer)));
    return true;
  }

  std::optional<uint32_t> hex4() {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      int digit = g_ascii_xdigit_value(peek());
      if (digit < 0) {
        fail("four hex digits were expected after \\u");
        return std::nullopt;
      }
      value = value * 16 + static_cast<uint32_t>(digit);
      ++pos_;
    }
    return value;
  }

  void skip_space() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
        return;
      }
      ++pos_;
    }
  }

  void skip_digits() {
    while (is_digit(peek())) {
      ++pos_;
    }
  }

  static bool is_digit(char c) { return c >= '0' && c <= '9'; }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }

  bool fail(const char *message) {
    if (message_.empty()) {
      message_ = message;
    }
    return false;
  }

  bool too_deep() {
    return fail(
        ("objects and arrays nest deeper than " + std::to_string(max_depth_) + " levels").c_str());
  }

  // Line and column (in characters) of a byte offset: only needed on error.
  Position position_of(size_t offset) const {
    Position at{1, 1};
    for (size_t i = 0; i < offset && i < text_.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(text_[i]);
      if (c == '\n') {
        ++at.line;
        at.column = 1;
      } else if ((c & 0xc0) != 0x80) {
        ++at.column;
      }
    }
    return at;
  }

  std::string_view text_;
  int max_depth_;
  size_t pos_ = 0;
  bool duplicates_ = false;
  std::string message_;
};

JsonText parse_json(std::string_view text, int max_depth, JsonTextError *error) {
  return JsonReader(text, max_depth).document(error);
}

}  // namespace livepipe::pipelines
