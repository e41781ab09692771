#include "positions.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <unordered_set>

namespace livepipe::pipelines {
namespace {

bool is_plain_key(std::string_view key) {
  if (key.empty()) {
    return false;
  }
  for (unsigned char c : key) {
    if (c <= ' ' || c == '.' || c == '[' || c == ']' || c == '"' || c == '\\' || c == 0x7f) {
      return false;
    }
  }
  return true;
}

void append_quoted(std::string &out, std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : key) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void append_utf8(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// A cursor over the text that keeps line and column as it moves.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  Position position() const { return {line_, column_}; }

  void advance() {
    if (at_end()) {
      return;
    }
    unsigned char c = static_cast<unsigned char>(text_[pos_++]);
    if (c == '\n') {
      ++line_;
      column_ = 1;
    } else if ((c & 0xc0) != 0x80) {
      // Count characters, not bytes: UTF-8 continuation bytes do not move it.
      ++column_;
    }
  }

  void skip_space() {
    while (!at_end()) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        advance();
      } else {
        break;
      }
    }
  }

  // Reads a string at '"' and returns its decoded value; nullopt if malformed.
  std::optional<std::string> read_string() {
    if (peek() != '"') {
      return std::nullopt;
    }
    advance();
    std::string out;
    while (!at_end()) {
      char c = peek();
      if (c == '"') {
        advance();
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return std::nullopt;
      }
      if (c != '\\') {
        out += c;
        advance();
        continue;
      }
      advance();
      char e = peek();
      advance();
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          auto unit = read_hex4();
          if (!unit) {
            return std::nullopt;
          }
          uint32_t cp = *unit;
          if (cp >= 0xd800 && cp < 0xdc00 && peek() == '\\') {
            advance();
            if (peek() != 'u') {
              return std::nullopt;
            }
            advance();
            auto low = read_hex4();
            if (!low) {
              return std::nullopt;
            }
            if (*low >= 0xdc00 && *low < 0xe000) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (*low - 0xdc00);
            } else {
              append_utf8(out, cp);
              cp = *low;
            }
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return std::nullopt;
      }
    }
    return std::nullopt;
  }

  // Numbers, true, false, null: consumed without checking their grammar.
  bool skip_literal() {
    size_t start = pos_;
    while (!at_end()) {
      char c = peek();
      bool word = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '+' || c == '-' || c == '.';
      if (!word) {
        break;
      }
      advance();
    }
    return pos_ > start;
  }

 private:
  std::optional<uint32_t> read_hex4() {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      char c = peek();
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return std::nullopt;
      }
      value = value * 16 + static_cast<uint32_t>(digit);
      advance();
    }
    return value;
  }

  std::string_view text_;
  size_t pos_ = 0;
  int line_ = 1;
  int column_ = 1;
};

struct Container {
  bool is_object;
  std::string path;
  size_t next_index = 0;  // arrays: index of the next item
  std::vector<std::string> few_keys;
  std::unordered_set<std::string> many_keys;

  // False when the object already has `key`. Small objects use a vector.
  bool add_key(std::string key) {
    constexpr size_t kFew = 32;
    if (many_keys.empty() && few_keys.size() < kFew) {
      if (std::find(few_keys.begin(), few_keys.end(), key) != few_keys.end()) {
        return false;
      }
      few_keys.push_back(std::move(key));
      return true;
    }
    if (many_keys.empty()) {
      many_keys.insert(few_keys.begin(), few_keys.end());
    }
    return many_keys.insert(std::move(key)).second;
  }
};

}  // namespace

std::string path_member(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (is_plain_key(key)) {
    out += '.';
    out += key;
  } else {
    out += '[';
    append_quoted(out, key);
    out += ']';
  }
  return out;
}

std::string path_index(std::string_view parent, size_t index) {
  std::string out(parent);
  out += '[';
  out += std::to_string(index);
  out += ']';
  return out;
}

std::string path_parent(std::string_view path) {
  // Walk forward over the components, remembering where the last one starts.
  size_t last = path.empty() ? 0 : 1;
  size_t i = path.empty() ? 0 : 1;
  while (i < path.size()) {
    last = i;
    if (path[i] == '.') {
      ++i;
      while (i < path.size() && path[i] != '.' && path[i] != '[') {
        ++i;
      }
    } else if (path[i] == '[' && i + 1 < path.size() && path[i + 1] == '"') {
      i += 2;
      while (i < path.size() && path[i] != '"') {
        i += path[i] == '\\' ? 2 : 1;
      }
      i += 2;  // closing quote and bracket
    } else {
      while (i < path.size() && path[i] != ']') {
        ++i;
      }
      ++i;
    }
  }
  return std::string(path.substr(0, std::min(last, path.size())));
}

PositionMap PositionMap::scan(std::string_view text) {
  PositionMap map;
  Cursor cursor(text);
  std::vector<Container> stack;

  // Expecting a value whose path is `path`; records it and opens containers.
  auto value = [&](std::string path, bool record) -> bool {
    cursor.skip_space();
    if (record) {
      map.positions_.insert_or_assign(path, cursor.position());
    }
    char c = cursor.peek();
    if (c == '{' || c == '[') {
      if (static_cast<int>(stack.size()) >= kMaxDepth) {
        return false;
      }
      cursor.advance();
      stack.push_back(Container{c == '{', std::move(path)});
      map.max_depth_ = std::max(map.max_depth_, static_cast<int>(stack.size()));
      return true;
    }
    if (c == '"') {
      return cursor.read_string().has_value();
    }
    return cursor.skip_literal();
  };

  // Inside an object, at a key (after '{' or ','): reads it and its value.
  auto member = [&]() -> bool {
    cursor.skip_space();
    Position at = cursor.position();
    auto key = cursor.read_string();
    if (!key) {
      return false;
    }
    Container &top = stack.back();
    std::string path = path_member(top.path, *key);
    if (!top.add_key(std::move(*key))) {
      map.duplicates_.push_back(path);
    }
    map.positions_.insert_or_assign(path, at);
    cursor.skip_space();
    if (cursor.peek() != ':') {
      return false;
    }
    cursor.advance();
    return value(std::move(path), false);
  };

  auto item = [&]() -> bool {
    Container &top = stack.back();
    size_t index = top.next_index++;
    return value(path_index(top.path, index), true);
  };

  if (!value(std::string(kRootPath), true)) {
    return map;
  }
  // After opening a container the next token is its first member or its end;
  // after any value the next token is ',' or the end of the enclosing one.
  bool just_opened = !stack.empty();
  while (!stack.empty()) {
    cursor.skip_space();
    char c = cursor.peek();
    bool is_object = stack.back().is_object;
    if (c == (is_object ? '}' : ']')) {
      cursor.advance();
      stack.pop_back();
      just_opened = false;
      continue;
    }
    if (!just_opened) {
      if (c != ',') {
        return map;
      }
      cursor.advance();
    }
    size_t depth = stack.size();
    if (!(is_object ? member() : item())) {
      return map;
    }
    just_opened = stack.size() > depth;
  }
  cursor.skip_space();
  map.complete_ = cursor.at_end();
  return map;
}

Position PositionMap::find(std::string_view path) const {
  std::string current(path);
  while (true) {
    auto it = positions_.find(current);
    if (it != positions_.end()) {
      return it->second;
    }
    std::string parent = path_parent(current);
    if (parent.size() >= current.size()) {
      return {};
    }
    current = std::move(parent);
  }
}

}  // namespace livepipe::pipelines
