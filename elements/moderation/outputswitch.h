// What lpmoderationswitch decides, without GStreamer, so it can be tested
// alone: which frames reach the stream's outputs (the publisher's own
// encoding while the verdict allows it, the moderated re-encoding while it
// does not), which frames the snapshot path decodes, when to ask the
// publisher for a key frame, and where the key frames are.
#pragma once

#include "verdict.h"

#include <cstddef>
#include <cstdint>

namespace livepipe::moderation {

enum class Codec { H264, VP8, Opus };

// True when the frame starts a picture a decoder can begin with: an H.264
// access unit holding an IDR slice (`nal_length_size` 1, 2 or 4 for the avc
// stream format, 0 for byte-stream start codes), a VP8 key frame. Every
// Opus packet is one.
bool is_keyframe(Codec codec, const uint8_t *data, size_t size, int nal_length_size);
// The NAL length size an avcC record (the caps' codec_data) declares; 4
// when it is not a valid record.
int avc_nal_length_size(const uint8_t *codec_data, size_t size);

enum class Output { Passthrough, Processed };

struct SwitchSettings {
  bool video = true;  // audio: no snapshots; only block and end need processing
  // Nanoseconds of stream time between snapshots (the moderator's interval).
  int64_t interval_ns = 1000000000;
  // Ask for a key frame when none came for one interval while allowed.
  bool request_keyframes = true;
  // Asking again while waiting for a key frame (to switch, or to decode).
  int64_t retry_ns = 300000000;
};

// Times are nanoseconds on one clock that does not go backwards (the
// stream's running time); negative: unknown. Not thread-safe: the element
// holds its lock around every call.
class OutputSwitch {
 public:
  explicit OutputSwitch(SwitchSettings settings = {}) : settings_(settings) {}

  void set_interval(int64_t interval_ns) { settings_.interval_ns = interval_ns; }
  void set_request_keyframes(bool on) { settings_.request_keyframes = on; }

  // What becomes of one of the publisher's frames.
  struct Input {
    bool forward = false;           // onto the outputs, untouched
    bool decode = false;            // onto the snapshot path
    bool request_keyframe = false;  // ask the publisher for a key frame
    bool end = false;               // the verdict is end: EOS on the outputs (once)
  };
  // `decode_full`: the snapshot path has no room for another frame.
  Input on_input(Action action, bool keyframe, int64_t time, bool decode_full);

  // Whether a moderated raw frame is encoded for the outputs: only while the
  // output is processed, and only frames newer than the last one out.
  bool on_raw(int64_t time) const;

  // What becomes of one of the encoder's frames.
  struct Encoded {
    bool forward = false;
    bool request_keyframe = false;  // ask the encoder for a key frame
  };
  Encoded on_encoded(bool keyframe, int64_t time);

  Output output() const { return output_; }
  // The encoder is needed (the output is, or is about to be, processed).
  bool processing() const { return output_ == Output::Processed && !ended_; }
  bool ended() const { return ended_; }
  uint64_t switches() const { return switches_; }
  uint64_t keyframe_requests() const { return keyframe_requests_; }
  uint64_t decode_dropped() const { return decode_dropped_; }

 private:
  bool needs_processing(Action action) const;
  bool may_request(int64_t time, int64_t gap);

  SwitchSettings settings_;
  Output output_ = Output::Passthrough;
  bool ended_ = false;
  bool encoded_started_ = false;  // the encoder's output began with a key frame
  bool decode_synced_ = false;    // decoding every frame, from a key frame on
  bool returning_ = false;        // allowed again, waiting for the publisher's key frame
  int64_t last_out_ = -1;         // the newest frame handed to the outputs
  int64_t last_key_ = -1;         // the last key frame decoded while allowed
  int64_t last_request_ = -1;     // the last key frame asked of the publisher
  int64_t last_encoder_request_ = -1;
  uint64_t switches_ = 0;
  uint64_t keyframe_requests_ = 0;
  uint64_t decode_dropped_ = 0;
};

}  // namespace livepipe::moderation
