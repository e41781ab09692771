// The server's WebSocket framing without sockets: what clients may send, what
// they must not, and what the server writes.
#define BOOST_TEST_MODULE ws_frame
#include "ws_frame.h"

#include <boost/test/unit_test.hpp>
#include <glib.h>

#include <vector>

using namespace livepipe::signaling::ws;

namespace {

// A client frame: masked with a fixed key, as every client must.
std::string client_frame(uint8_t first_byte, std::string_view payload, bool masked = true,
                         int force_length_bytes = 0) {
  std::string frame;
  frame += static_cast<char>(first_byte);
  const uint8_t mask_bit = masked ? 0x80 : 0;
  const uint64_t length = payload.size();
  if ((length < 126 && !force_length_bytes) || force_length_bytes == 1) {
    frame += static_cast<char>(mask_bit | length);
  } else if ((length <= 0xFFFF && !force_length_bytes) || force_length_bytes == 2) {
    frame += static_cast<char>(mask_bit | 126);
    frame += static_cast<char>(length >> 8);
    frame += static_cast<char>(length & 0xFF);
  } else {
    frame += static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8) {
      frame += static_cast<char>((length >> shift) & 0xFF);
    }
  }
  const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (masked) {
    frame.append(reinterpret_cast<const char *>(key), 4);
  }
  for (size_t i = 0; i < payload.size(); ++i) {
    frame += static_cast<char>(payload[i] ^ (masked ? key[i & 3] : 0));
  }
  return frame;
}

std::vector<Event> decode_all(Decoder &decoder) {
  std::vector<Event> events;
  Event event;
  while (decoder.next(&event)) {
    events.push_back(event);
  }
  return events;
}

Event only_event(std::string_view bytes, uint64_t max = 1024) {
  Decoder decoder(max);
  decoder.feed(bytes);
  auto events = decode_all(decoder);
  BOOST_REQUIRE_EQUAL(events.size(), 1u);
  return events[0];
}

void expect_error(std::string_view bytes, uint16_t code, uint64_t max = 1024) {
  Event event = only_event(bytes, max);
  BOOST_TEST((event.kind == Event::Kind::kError));
  BOOST_TEST(event.code == code, "reason: " << event.payload);
}

}  // namespace

BOOST_AUTO_TEST_CASE(text_message_unmasked_and_delivered) {
  Event event = only_event(client_frame(0x81, "hello"));
  BOOST_TEST((event.kind == Event::Kind::kText));
  BOOST_TEST(event.payload == "hello");
}

BOOST_AUTO_TEST_CASE(every_length_encoding) {
  for (size_t size : {0u, 125u, 126u, 65535u, 65536u, 70000u}) {
    std::string payload(size, 'x');
    Event event = only_event(client_frame(0x82, payload), 100000);
    BOOST_TEST((event.kind == Event::Kind::kBinary));
    BOOST_TEST(event.payload.size() == size);
  }
}

BOOST_AUTO_TEST_CASE(frames_arriving_byte_by_byte) {
  std::string bytes =
      client_frame(0x81, std::string(300, 'a')) + client_frame(0x89, "p") + client_frame(0x81, "b");
  Decoder decoder(1024);
  std::vector<Event> events;
  for (char c : bytes) {
    decoder.feed(std::string_view(&c, 1));
    auto more = decode_all(decoder);
    events.insert(events.end(), more.begin(), more.end());
  }
  BOOST_REQUIRE_EQUAL(events.size(), 3u);
  BOOST_TEST(events[0].payload == std::string(300, 'a'));
  BOOST_TEST((events[1].kind == Event::Kind::kPing));
  BOOST_TEST(events[1].payload == "p");
  BOOST_TEST(events[2].payload == "b");
  BOOST_TEST(decoder.buffered() == 0u);
}

BOOST_AUTO_TEST_CASE(fragments_reassemble_with_control_frames_between) {
  Decoder decoder(1024);
  decoder.feed(client_frame(0x01, "hel") + client_frame(0x8A, "pong") + client_frame(0x00, "lo ") +
               client_frame(0x80, "world"));
  auto events = decode_all(decoder);
  BOOST_REQUIRE_EQUAL(events.size(), 2u);
  BOOST_TEST((events[0].kind == Event::Kind::kPong));
  BOOST_TEST((events[1].kind == Event::Kind::kText));
  BOOST_TEST(events[1].payload == "hello world");
}

BOOST_AUTO_TEST_CASE(close_frames) {
  Event plain = only_event(client_frame(0x88, ""));
  BOOST_TEST((plain.kind == Event::Kind::kClose));
  BOOST_TEST(plain.code == kCloseNoStatus);
  Event coded = only_event(client_frame(0x88, std::string("\x0f\xa1", 2) + "bye"));
  BOOST_TEST((coded.kind == Event::Kind::kClose));
  BOOST_TEST(coded.code == 4001);
  BOOST_TEST(coded.payload == "bye");
  // Nothing is decoded after a close.
  Decoder decoder(1024);
  decoder.feed(client_frame(0x88, "") + client_frame(0x81, "late"));
  BOOST_TEST(decode_all(decoder).size() == 1u);
}

BOOST_AUTO_TEST_CASE(protocol_errors_fail_the_connection) {
  expect_error(client_frame(0x81, "x", false), kCloseProtocolError);  // unmasked
  expect_error(client_frame(0xC1, "x"), kCloseProtocolError);         // RSV1 without extension
  expect_error(client_frame(0x83, "x"), kCloseProtocolError);         // reserved opcode
  expect_error(client_frame(0x09, "x"), kCloseProtocolError);         // fragmented ping
  expect_error(client_frame(0x89, std::string(126, 'x')), kCloseProtocolError);
  expect_error(client_frame(0x80, "x"), kCloseProtocolError);  // continuation of nothing
  expect_error(client_frame(0x01, "a") + client_frame(0x81, "b"), kCloseProtocolError);
  expect_error(client_frame(0x88, "x"), kCloseProtocolError);  // one-byte close payload
  expect_error(client_frame(0x88, std::string("\x03\xed", 2)), kCloseProtocolError);  // 1005
  expect_error(client_frame(0x88, std::string("\x03\xec", 2)), kCloseProtocolError);  // 1004
  expect_error(client_frame(0x81, "x", true, 2), kCloseProtocolError);  // non-minimal length
  expect_error(client_frame(0x81, std::string(200, 'x'), true, 8), kCloseProtocolError);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_1007) {
  expect_error(client_frame(0x81, "\xc3\x28"), kCloseInvalidData);
  expect_error(client_frame(0x01, "\xe2\x82") + client_frame(0x80, "\x28"), kCloseInvalidData);
  // A character split across fragments is fine.
  Decoder decoder(1024);
  decoder.feed(client_frame(0x01, "\xe2\x82") + client_frame(0x80, "\xac"));
  auto events = decode_all(decoder);
  BOOST_REQUIRE_EQUAL(events.size(), 1u);
  BOOST_TEST(events[0].payload == "\xe2\x82\xac");
  // Binary messages are not text.
  BOOST_TEST((only_event(client_frame(0x82, "\xc3\x28")).kind == Event::Kind::kBinary));
}

BOOST_AUTO_TEST_CASE(too_big_is_refused_from_the_header) {
  // Only the header of a huge frame is needed to refuse it.
  std::string header = client_frame(0x81, std::string(5000, 'x')).substr(0, 8);
  expect_error(header, kCloseTooBig, 4096);
  // The limit holds across fragments too.
  expect_error(
      client_frame(0x01, std::string(3000, 'x')) + client_frame(0x80, std::string(2000, 'y')),
      kCloseTooBig, 4096);
  // Exactly the limit is fine.
  BOOST_TEST(
      (only_event(client_frame(0x81, std::string(4096, 'x')), 4096).kind == Event::Kind::kText));
}

BOOST_AUTO_TEST_CASE(server_frames) {
  BOOST_TEST(encode(Opcode::kText, "hi") == std::string("\x81\x02hi", 4));
  std::string mid = encode(Opcode::kBinary, std::string(300, 'x'));
  BOOST_TEST(mid.substr(0, 4) == std::string("\x82\x7e\x01\x2c", 4));
  BOOST_TEST(mid.size() == 304u);
  std::string big = encode(Opcode::kText, std::string(70000, 'x'));
  BOOST_TEST(big.substr(0, 10) == std::string("\x81\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10));
  std::string close = encode_close(1000, "done");
  BOOST_TEST(close == std::string("\x88\x06\x03\xe8"
                                  "done",
                                  8));
  // A long reason is cut to fit a control frame, never inside a character.
  std::string reason;
  for (int i = 0; i < 100; ++i) {
    reason += "\xc3\xa9";  // two bytes each
  }
  std::string cut = encode_close(4000, reason);
  BOOST_TEST(uint8_t(cut[1]) <= 125u);
  BOOST_TEST(g_utf8_validate(cut.data() + 4, cut.size() - 4, nullptr));
}

BOOST_AUTO_TEST_CASE(close_codes) {
  for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 4001, 4999}) {
    BOOST_TEST(valid_close_code(code), code);
  }
  for (uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000}) {
    BOOST_TEST(!valid_close_code(code), code);
  }
}
