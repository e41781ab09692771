// WebSocket protocol v1 message types and their JSON form (docs/signaling.md).
// This module knows nothing of rooms, peers or sockets: text in, structs out,
// and back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace livepipe::signaling {

inline constexpr int kProtocolVersion = 1;

// Stable error codes carried in "error" replies; clients may switch on them.
enum class ErrorCode {
  kBadMessage,   // not JSON, not an object, missing or mistyped member
  kUnknownType,  // "type" names no message of this protocol
  kUnsupportedProtocol,
  kHelloRequired,  // anything but hello before the welcome
  kAlreadyHello,
  kUnauthorized,  // missing, invalid or expired token
  kForbidden,     // token valid but not for this room or role
  kInvalidRoom,   // empty, too long or with characters outside [A-Za-z0-9_.-]
  kAlreadyInRoom,
  kNotInRoom,
  kUnknownPeer,  // "to" names no peer in the sender's room
  kRoomFull,
  kTooManyRooms,
  kTooLarge,     // message over the size limit
  kRateLimited,  // more messages per second than allowed
  kServerFull,   // too many connections
  // Server-side media sessions (publish / play):
  kInvalidStream,     // empty, too long or with characters outside [A-Za-z0-9_.-]
  kUnknownStream,     // play: nobody publishes that stream
  kStreamBusy,        // publish: the stream already has a publisher
  kUnknownSession,    // "session" names none of this connection's sessions
  kBadOffer,          // the offer is not valid SDP or has nothing the server takes
  kTooManySessions,   // the connection has its maximum of media sessions
  kMediaUnavailable,  // the server's stream or viewer limit, or a failing pipeline
};
const char *error_code_name(ErrorCode code);

struct IceServer {
  std::vector<std::string> urls;
  std::string username;    // empty for STUN
  std::string credential;  // empty for STUN
};

struct PeerInfo {
  std::string id;
  std::string name;
};

// --- client -> server ---
struct Hello {
  int protocol = kProtocolVersion;
  std::string token;  // optional when the connection URL carried one
  std::string name;   // optional display name shown to the room
};
struct Join {
  std::string room;
};
struct Leave {};
// offer, answer, candidate and end-of-candidates, relayed between two peers.
enum class RelayKind { kOffer, kAnswer, kCandidate, kEndOfCandidates };
const char *relay_kind_name(RelayKind kind);
struct Relay {
  RelayKind kind = RelayKind::kOffer;
  std::string peer;  // "to" from a client, "from" when delivered
  std::string sdp;   // offer / answer
  std::string candidate;
  std::optional<std::string> sdp_mid;
  std::optional<int64_t> sdp_mline_index;
};
struct Ping {};
// Server-side media: publish to or play a stream by name, the same streams as
// WHIP and WHEP. The server answers with a session id the others then name.
struct Publish {
  std::string stream;
  std::string sdp;  // the offer
};
struct Play {
  std::string stream;
  std::string sdp;
};
// A trickled candidate ("candidate" with "session" instead of "to"); an empty
// candidate with `end` set is "end-of-candidates".
struct SessionCandidate {
  std::string session;
  std::string candidate;
  std::optional<std::string> sdp_mid;
  std::optional<int64_t> sdp_mline_index;
  bool end = false;
};
// "unpublish" (a publish session) or "stop" (a play session).
struct StopSession {
  bool publish = false;
  std::string session;
};

using ClientMessage =
    std::variant<Hello, Join, Leave, Relay, Ping, Publish, Play, SessionCandidate, StopSession>;

struct ParseFailure {
  ErrorCode code = ErrorCode::kBadMessage;
  std::string message;
  std::string request_type;  // the "type" member when it could be read
};

// Parses one text frame. Never throws; every malformed input is a ParseFailure.
std::variant<ClientMessage, ParseFailure> parse_client_message(std::string_view text);

// --- server -> client ---
struct Welcome {
  std::string peer;
  std::vector<IceServer> ice_servers;
};
struct Joined {
  std::string room;
  std::vector<PeerInfo> peers;  // everyone else in the room
};
struct PeerJoined {
  std::string room;
  PeerInfo peer;
};
struct PeerLeft {
  std::string room;
  std::string peer;
  std::string reason;  // "left", "disconnected", "timeout", "kicked"
};
struct Left {
  std::string room;
};
struct Pong {};
struct Error {
  ErrorCode code = ErrorCode::kBadMessage;
  std::string message;
  std::string request_type;  // empty when unknown
  std::string stream;        // media requests: the stream and session concerned
  std::string session;
};
// The server's answer to publish or play ("answer" with "session").
struct SessionAnswer {
  std::string stream;
  std::string session;
  std::string sdp;
};
// A media session is over: stopped by the client, the stream ended, kicked.
struct SessionEnded {
  std::string stream;
  std::string session;
  std::string reason;
};
struct Bye {
  std::string reason;
};

using ServerMessage = std::variant<Welcome, Joined, PeerJoined, PeerLeft, Left, Relay, Pong, Error,
                                   Bye, SessionAnswer, SessionEnded>;

std::string serialize(const ServerMessage &message);
// Client messages are serialised by clients (tests, benchmarks, bridges).
std::string serialize(const ClientMessage &message);
// Parses what a server sends; for clients written in C++.
std::optional<ServerMessage> parse_server_message(std::string_view text);

// Room names: 1..64 characters from [A-Za-z0-9_.-].
bool valid_room_name(std::string_view room);
// Stream names: as room names, but not "." or "..".
bool valid_stream_name(std::string_view stream);

}  // namespace livepipe::signaling
