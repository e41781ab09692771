#include "outputswitch.h"

namespace livepipe::moderation {
namespace {

constexpr uint8_t kNalIdr = 5;

bool h264_avc_keyframe(const uint8_t *data, size_t size, int length_size) {
  size_t at = 0;
  while (at + static_cast<size_t>(length_size) < size) {
    size_t length = 0;
    for (int i = 0; i < length_size; ++i) {
      length = (length << 8) | data[at + i];
    }
    at += static_cast<size_t>(length_size);
    if (length == 0 || length > size - at) {
      return false;  // a damaged access unit: not a safe place to start
    }
    if ((data[at] & 0x1f) == kNalIdr) {
      return true;
    }
    at += length;
  }
  return false;
}

bool h264_byte_stream_keyframe(const uint8_t *data, size_t size) {
  for (size_t at = 0; at + 3 < size; ++at) {
    if (data[at] == 0 && data[at + 1] == 0 && data[at + 2] == 1) {
      if ((data[at + 3] & 0x1f) == kNalIdr) {
        return true;
      }
      at += 2;
    }
  }
  return false;
}

}  // namespace

bool is_keyframe(Codec codec, const uint8_t *data, size_t size, int nal_length_size) {
  switch (codec) {
    case Codec::H264:
      if (!data) {
        return false;
      }
      if (nal_length_size == 1 || nal_length_size == 2 || nal_length_size == 4) {
        return h264_avc_keyframe(data, size, nal_length_size);
      }
      return nal_length_size == 0 && h264_byte_stream_keyframe(data, size);
    case Codec::VP8:
      // RFC 6386 9.1: bit 0 of the frame tag is 0 on key frames, which carry
      // the start code 9d 01 2a after the 3-byte tag.
      return data && size >= 10 && (data[0] & 1) == 0 && data[3] == 0x9d && data[4] == 0x01 &&
             data[5] == 0x2a;
    case Codec::Opus:
      return true;
  }
  return false;
}

int avc_nal_length_size(const uint8_t *codec_data, size_t size) {
  if (!codec_data || size < 7 || codec_data[0] != 1) {
    return 4;
  }
  const int length_size = (codec_data[4] & 3) + 1;
  return length_size == 3 ? 4 : length_size;
}

bool OutputSwitch::needs_processing(Action action) const {
  if (settings_.video) {
    return action != Action::Allow;
  }
  // Audio passes untouched through blur.
  return action == Action::Block || action == Action::End;
}

bool OutputSwitch::may_request(int64_t time, int64_t gap) {
  if (time < 0 && last_request_ >= 0) {
    return false;
  }
  if (last_request_ >= 0 && time >= last_request_ && time - last_request_ < gap) {
    return false;
  }
  last_request_ = time;
  ++keyframe_requests_;
  return true;
}

OutputSwitch::Input OutputSwitch::on_input(Action action, bool keyframe, int64_t time,
                                           bool decode_full) {
  Input in;
  const bool process = needs_processing(action);
  if (action == Action::End && !ended_) {
    ended_ = true;
    in.end = true;
  }
  if (process && output_ == Output::Passthrough) {
    // From this frame on nothing of the publisher's reaches the outputs; the
    // encoder's first key frame takes over. The decoder needs a key frame
    // now, whatever was asked for before.
    output_ = Output::Processed;
    encoded_started_ = false;
    returning_ = false;
    last_request_ = -1;
    ++switches_;
  } else if (!process && output_ == Output::Processed) {
    // Back to the publisher's own frames, from one a decoder can start with.
    if (keyframe) {
      output_ = Output::Passthrough;
      ++switches_;
    } else {
      if (!returning_) {
        returning_ = true;
        last_request_ = -1;
      }
      in.request_keyframe = may_request(time, settings_.retry_ns);
    }
  } else if (process) {
    returning_ = false;
  }
  in.forward = output_ == Output::Passthrough && !ended_;
  if (in.forward && time >= 0) {
    last_out_ = time;
  }

  if (output_ == Output::Processed || process) {
    // Every frame, from a key frame on (the decoder saw only key frames, or
    // nothing, until now).
    if (!decode_synced_ && keyframe) {
      decode_synced_ = true;
    }
    if (decode_synced_ && decode_full) {
      // A frame missing from the chain breaks every frame after it until
      // the next key frame.
      decode_synced_ = false;
      ++decode_dropped_;
    }
    in.decode = decode_synced_;
    if (!decode_synced_) {
      in.request_keyframe = may_request(time, settings_.retry_ns) || in.request_keyframe;
    }
    return in;
  }
  decode_synced_ = false;
  if (!settings_.video) {
    return in;
  }
  if (keyframe) {
    in.decode = true;
    last_key_ = time;
  } else if (settings_.request_keyframes && time >= 0 &&
             (last_key_ < 0 || time - last_key_ >= settings_.interval_ns)) {
    in.request_keyframe = may_request(time, settings_.interval_ns);
  }
  return in;
}

bool OutputSwitch::on_raw(int64_t time) const {
  return processing() && (time < 0 || last_out_ < 0 || time > last_out_);
}

OutputSwitch::Encoded OutputSwitch::on_encoded(bool keyframe, int64_t time) {
  Encoded out;
  if (!processing() || (time >= 0 && last_out_ >= 0 && time <= last_out_)) {
    return out;
  }
  if (!encoded_started_) {
    if (!keyframe) {
      if (last_encoder_request_ < 0 || time < 0 ||
          time - last_encoder_request_ >= settings_.retry_ns || time < last_encoder_request_) {
        last_encoder_request_ = time;
        out.request_keyframe = true;
      }
      return out;
    }
    encoded_started_ = true;
  }
  out.forward = true;
  if (time >= 0) {
    last_out_ = time;
  }
  return out;
}

}  // namespace livepipe::moderation
