#include "ws_frame.h"

#include <glib.h>

namespace livepipe::signaling::ws {
namespace {

bool is_control(uint8_t opcode) {
  return opcode & 0x8;
}

bool known_opcode(uint8_t opcode) {
  switch (static_cast<Opcode>(opcode)) {
    case Opcode::kContinuation:
    case Opcode::kText:
    case Opcode::kBinary:
    case Opcode::kClose:
    case Opcode::kPing:
    case Opcode::kPong:
      return true;
  }
  return false;
}

bool valid_utf8(std::string_view text) {
  return g_utf8_validate_len(text.data(), text.size(), nullptr);
}

}  // namespace

bool valid_close_code(uint16_t code) {
  if (code >= 3000 && code <= 4999) {
    return true;
  }
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

void Decoder::compact() {
  // Keeps appends cheap without moving bytes after every frame.
  if (offset_ > 0 && (offset_ == buffer_.size() || offset_ > 64 * 1024)) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
}

bool Decoder::next(Event *event) {
  auto fail = [&](uint16_t code, const char *reason) {
    done_ = true;
    buffer_.clear();
    offset_ = 0;
    message_.clear();
    *event = Event{Event::Kind::kError, reason, code};
    return true;
  };
  while (!done_) {
    const auto *bytes = reinterpret_cast<const uint8_t *>(buffer_.data()) + offset_;
    const size_t available = buffer_.size() - offset_;
    if (available < 2) {
      compact();
      return false;
    }
    const bool fin = bytes[0] & 0x80;
    const uint8_t rsv = bytes[0] & 0x70;
    const uint8_t opcode = bytes[0] & 0x0F;
    const bool masked = bytes[1] & 0x80;
    uint64_t length = bytes[1] & 0x7F;
    size_t header = 2;
    if (rsv) {
      return fail(kCloseProtocolError, "reserved bits set (no extension was negotiated)");
    }
    if (!known_opcode(opcode)) {
      return fail(kCloseProtocolError, "unknown opcode");
    }
    if (!masked) {
      return fail(kCloseProtocolError, "client frames must be masked");
    }
    if (is_control(opcode)) {
      if (!fin) {
        return fail(kCloseProtocolError, "fragmented control frame");
      }
      if (length > 125) {
        return fail(kCloseProtocolError, "control frame longer than 125 bytes");
      }
    } else if (opcode == static_cast<uint8_t>(Opcode::kContinuation)) {
      if (!fragmented_) {
        return fail(kCloseProtocolError, "continuation frame without a message to continue");
      }
    } else if (fragmented_) {
      return fail(kCloseProtocolError, "new message before the previous one finished");
    }
    if (length == 126) {
      if (available < 4) {
        compact();
        return false;
      }
      length = (uint64_t(bytes[2]) << 8) | bytes[3];
      header = 4;
      if (length < 126) {
        return fail(kCloseProtocolError, "length not in its shortest form");
      }
    } else if (length == 127) {
      if (available < 10) {
        compact();
        return false;
      }
      length = 0;
      for (int i = 0; i < 8; ++i) {
        length = (length << 8) | bytes[2 + i];
      }
      header = 10;
      if (length >> 63) {
        return fail(kCloseProtocolError, "length has its most significant bit set");
      }
      if (length <= 0xFFFF) {
        return fail(kCloseProtocolError, "length not in its shortest form");
      }
    }
    if (!is_control(opcode) &&
        length > max_message_ - std::min<uint64_t>(max_message_, message_.size())) {
      return fail(kCloseTooBig, "message too big");
    }
    if (available < header + 4 + length) {
      compact();
      return false;
    }
    const uint8_t *mask = bytes + header;
    const uint8_t *data = mask + 4;
    std::string payload(static_cast<size_t>(length), '\0');
    for (size_t i = 0; i < payload.size(); ++i) {
      payload[i] = static_cast<char>(data[i] ^ mask[i & 3]);
    }
    offset_ += header + 4 + static_cast<size_t>(length);

    switch (static_cast<Opcode>(opcode)) {
      case Opcode::kPing:
        *event = Event{Event::Kind::kPing, std::move(payload), 0};
        compact();
        return true;
      case Opcode::kPong:
        *event = Event{Event::Kind::kPong, std::move(payload), 0};
        compact();
        return true;
      case Opcode::kClose: {
        if (payload.size() == 1) {
          return fail(kCloseProtocolError, "close frame with a one-byte payload");
        }
        uint16_t code = kCloseNoStatus;
        std::string reason;
        if (payload.size() >= 2) {
          code = static_cast<uint16_t>((uint8_t(payload[0]) << 8) | uint8_t(payload[1]));
          if (!valid_close_code(code)) {
            return fail(kCloseProtocolError, "invalid close code");
          }
          reason = payload.substr(2);
          if (!valid_utf8(reason)) {
            return fail(kCloseInvalidData, "close reason is not UTF-8");
          }
        }
        done_ = true;
        buffer_.clear();
        offset_ = 0;
        *event = Event{Event::Kind::kClose, std::move(reason), code};
        return true;
      }
      case Opcode::kText:
      case Opcode::kBinary:
        message_opcode_ = static_cast<Opcode>(opcode);
        message_ = std::move(payload);
        break;
      case Opcode::kContinuation:
        message_ += payload;
        break;
    }
    fragmented_ = !fin;
    if (fragmented_) {
      continue;
    }
    const bool text = message_opcode_ == Opcode::kText;
    if (text && !valid_utf8(message_)) {
      return fail(kCloseInvalidData, "text message is not UTF-8");
    }
    *event = Event{text ? Event::Kind::kText : Event::Kind::kBinary, std::move(message_), 0};
    message_.clear();
    compact();
    return true;
  }
  return false;
}

std::string encode(Opcode opcode, std::string_view payload) {
  std::string frame;
  frame.reserve(payload.size() + 10);
  frame += static_cast<char>(0x80 | static_cast<uint8_t>(opcode));
  const uint64_t length = payload.size();
  if (length < 126) {
    frame += static_cast<char>(length);
  } else if (length <= 0xFFFF) {
    frame += static_cast<char>(126);
    frame += static_cast<char>(length >> 8);
    frame += static_cast<char>(length & 0xFF);
  } else {
    frame += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) {
      frame += static_cast<char>((length >> shift) & 0xFF);
    }
  }
  frame.append(payload);
  return frame;
}

std::string encode_close(uint16_t code, std::string_view reason) {
  std::string payload;
  payload += static_cast<char>(code >> 8);
  payload += static_cast<char>(code & 0xFF);
  // A control frame carries at most 125 bytes; cut on a character boundary.
  size_t keep = std::min<size_t>(reason.size(), 123);
  while (keep > 0 && keep < reason.size() && (uint8_t(reason[keep]) & 0xC0) == 0x80) {
    --keep;
  }
  payload.append(reason.substr(0, keep));
  return encode(Opcode::kClose, payload);
}

}  // namespace livepipe::signaling::ws
