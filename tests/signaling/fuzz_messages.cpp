// libFuzzer target for everything the signaling service parses from the
// network or from files: WebSocket frames, protocol v1 messages (alone and
// through the router, room relays and media sessions), the GStreamer examples
// protocol, tokens and configuration.
#include "config.h"
#include "gst_router.h"
#include "messages.h"
#include "router.h"
#include "token.h"
#include "ws_frame.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

using namespace livepipe::signaling;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);

  auto parsed = parse_client_message(text);
  if (auto *message = std::get_if<ClientMessage>(&parsed)) {
    // What parses must serialise and parse back.
    std::string again = serialize(*message);
    if (!std::holds_alternative<ClientMessage>(parse_client_message(again))) {
      __builtin_trap();
    }
  }
  if (auto server_message = parse_server_message(text)) {
    serialize(*server_message);
  }

  // Through the router as a peer in a room with another, and as a newcomer.
  InMemoryRoomRegistry rooms;
  RouterSettings settings;
  settings.token_secret = size % 2 ? "fuzz-secret-0123456789" : "";
  Router router(settings, rooms);
  Now now{1000, 1'700'000'000};
  router.connect(1, std::nullopt, now);
  router.connect(2, Claims{"a", "r", "", Role::kJoin, now.unix_s + 60}, now);
  router.receive(1, text, now);
  router.receive(2, R"({"type":"hello"})", now);
  router.receive(2, R"({"type":"join","room":"r"})", now);
  router.receive(2, text, now);
  // Media sessions: the input as a message about a live publish session and
  // as the media side's replies.
  router.connect(3, Claims{"p", "", "s", Role::kPublish, now.unix_s + 60}, now);
  router.receive(3, R"({"type":"hello"})", now);
  auto published = router.receive(3, R"({"type":"publish","stream":"s","sdp":"v=0"})", now);
  std::string session(published.media.empty() ? text : published.media[0].session);
  router.receive(3, text, now);
  router.media_answered(std::string(text), "v=0");
  router.media_failed(session, ErrorCode::kBadOffer, std::string(text));
  router.media_ended(std::string(text), "ended");
  router.disconnect(3, now);
  router.disconnect(2, now);
  router.tick(Now{now.mono_ms + 100000, now.unix_s});

  InMemoryRoomRegistry gst_rooms;
  GstRouter gst(GstRouterSettings{}, gst_rooms);
  gst.connect(1, now);
  gst.connect(2, now);
  gst.receive(1, text, now);
  gst.receive(2, "HELLO b", now);
  gst.receive(2, "ROOM r", now);
  gst.receive(2, text, now);
  gst.receive(1, "ROOM r", now);
  gst.receive(1, text, now);
  gst.disconnect(1, now);

  // The same bytes as a client's WebSocket stream, whole and cut in two.
  for (size_t cut : {size, size / 2}) {
    ws::Decoder decoder(4096);
    decoder.feed(text.substr(0, cut));
    ws::Event event;
    size_t events = 0;
    while (decoder.next(&event) && events < 100000) {
      ++events;
    }
    decoder.feed(text.substr(cut));
    while (decoder.next(&event) && events < 100000) {
      ++events;
    }
  }

  verify_token(text, "fuzz-secret-0123456789", now.unix_s);
  base64url_decode(text);
  parse_config(text);
  std::string host;
  int port = 0;
  parse_listen(text, &host, &port);
  return 0;
}
