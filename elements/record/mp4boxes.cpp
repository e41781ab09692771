#include "mp4boxes.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace livepipe::record {
namespace {

// Boxes larger than this inside moov/moof are not ours to parse.
constexpr uint64_t kMaxMetadataBox = 64 * 1024 * 1024;

uint32_t be32(const uint8_t *p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}
uint64_t be64(const uint8_t *p) {
  return (uint64_t(be32(p)) << 32) | be32(p + 4);
}

// A bounds-checked cursor over one box's payload.
class Cursor {
 public:
  Cursor(const uint8_t *data, size_t size) : data_(data), size_(size) {}
  bool u32(uint32_t *v) {
    if (size_ - pos_ < 4) {
      return false;
    }
    *v = be32(data_ + pos_);
    pos_ += 4;
    return true;
  }
  bool u64(uint64_t *v) {
    if (size_ - pos_ < 8) {
      return false;
    }
    *v = be64(data_ + pos_);
    pos_ += 8;
    return true;
  }
  bool skip(size_t n) {
    if (size_ - pos_ < n) {
      return false;
    }
    pos_ += n;
    return true;
  }
  size_t remaining() const { return size_ - pos_; }

 private:
  const uint8_t *data_;
  size_t size_;
  size_t pos_ = 0;
};

// Calls `visit(header, payload, payload_size)` for each child box in
// data[0..size); false when a child overruns its parent.
template <typename Visit>
bool for_each_child(const uint8_t *data, size_t size, Visit visit) {
  size_t pos = 0;
  while (pos < size) {
    BoxHeader header;
    if (read_box_header(data + pos, size - pos, &header) != HeaderResult::kOk ||
        header.size > size - pos) {
      return false;
    }
    if (!visit(header, data + pos + header.header_size,
               static_cast<size_t>(header.size - header.header_size))) {
      return false;
    }
    pos += static_cast<size_t>(header.size);
  }
  return true;
}

bool parse_trak(const uint8_t *data, size_t size, TrackInfo *track) {
  return for_each_child(data, size, [&](const BoxHeader &h, const uint8_t *p, size_t n) {
    if (h.type == fourcc("tkhd")) {
      Cursor c(p, n);
      uint32_t version_flags = 0;
      if (!c.u32(&version_flags) || !c.skip((version_flags >> 24) == 1 ? 16 : 8) ||
          !c.u32(&track->id)) {
        return false;
      }
    } else if (h.type == fourcc("mdia")) {
      return for_each_child(p, n, [&](const BoxHeader &mh, const uint8_t *mp, size_t mn) {
        Cursor c(mp, mn);
        uint32_t version_flags = 0;
        if (mh.type == fourcc("mdhd")) {
          return c.u32(&version_flags) && c.skip((version_flags >> 24) == 1 ? 16 : 8) &&
                 c.u32(&track->timescale);
        }
        if (mh.type == fourcc("hdlr")) {
          return c.u32(&version_flags) && c.skip(4) && c.u32(&track->handler);
        }
        return true;
      });
    }
    return true;
  });
}

bool parse_moov(const uint8_t *data, size_t size, FragmentIndex *index) {
  std::vector<TrackInfo> defaults;
  bool ok = for_each_child(data, size, [&](const BoxHeader &h, const uint8_t *p, size_t n) {
    if (h.type == fourcc("trak")) {
      TrackInfo track;
      if (!parse_trak(p, n, &track)) {
        return false;
      }
      index->tracks.push_back(track);
    } else if (h.type == fourcc("mvex")) {
      return for_each_child(p, n, [&](const BoxHeader &xh, const uint8_t *xp, size_t xn) {
        if (xh.type != fourcc("trex")) {
          return true;
        }
        Cursor c(xp, xn);
        TrackInfo trex;
        uint32_t version_flags = 0;
        if (!c.u32(&version_flags) || !c.u32(&trex.id) || !c.skip(4) ||
            !c.u32(&trex.default_duration) || !c.skip(4) || !c.u32(&trex.default_flags)) {
          return false;
        }
        defaults.push_back(trex);
        return true;
      });
    }
    return true;
  });
  if (!ok) {
    return false;
  }
  for (auto &track : index->tracks) {
    for (const auto &trex : defaults) {
      if (trex.id == track.id) {
        track.default_duration = trex.default_duration;
        track.default_flags = trex.default_flags;
      }
    }
  }
  for (const auto &track : index->tracks) {
    if (track.handler == fourcc("vide")) {
      index->reference_track = track.id;
      index->timescale = track.timescale;
      break;
    }
  }
  if (index->reference_track == 0 && !index->tracks.empty()) {
    index->reference_track = index->tracks[0].id;
    index->timescale = index->tracks[0].timescale;
  }
  return true;
}

constexpr uint32_t kNonSyncSample = 0x00010000;

// Fills decode time, duration and keyframe of `fragment` from the moof's
// traf for the reference track.
bool parse_moof(const uint8_t *data, size_t size, const FragmentIndex &index, Fragment *fragment,
                bool *has_decode_time) {
  const TrackInfo *reference = nullptr;
  for (const auto &track : index.tracks) {
    if (track.id == index.reference_track) {
      reference = &track;
    }
  }
  return for_each_child(data, size, [&](const BoxHeader &h, const uint8_t *p, size_t n) {
    if (h.type != fourcc("traf")) {
      return true;
    }
    uint32_t track_id = 0;
    uint32_t default_duration = reference ? reference->default_duration : 0;
    uint32_t default_flags = reference ? reference->default_flags : 0;
    bool mine = false;
    return for_each_child(p, n, [&](const BoxHeader &th, const uint8_t *tp, size_t tn) {
      Cursor c(tp, tn);
      uint32_t version_flags = 0;
      if (th.type == fourcc("tfhd")) {
        if (!c.u32(&version_flags) || !c.u32(&track_id)) {
          return false;
        }
        mine = track_id == index.reference_track;
        uint32_t flags = version_flags & 0xffffff;
        if ((flags & 0x01) && !c.skip(8)) {
          return false;
        }
        if ((flags & 0x02) && !c.skip(4)) {
          return false;
        }
        if ((flags & 0x08) && !c.u32(&default_duration)) {
          return false;
        }
        if ((flags & 0x10) && !c.skip(4)) {
          return false;
        }
        if ((flags & 0x20) && !c.u32(&default_flags)) {
          return false;
        }
      } else if (th.type == fourcc("tfdt") && mine) {
        if (!c.u32(&version_flags)) {
          return false;
        }
        if ((version_flags >> 24) == 1) {
          if (!c.u64(&fragment->decode_time)) {
            return false;
          }
        } else {
          uint32_t t = 0;
          if (!c.u32(&t)) {
            return false;
          }
          fragment->decode_time = t;
        }
        *has_decode_time = true;
      } else if (th.type == fourcc("trun") && mine) {
        uint32_t count = 0;
        if (!c.u32(&version_flags) || !c.u32(&count)) {
          return false;
        }
        uint32_t flags = version_flags & 0xffffff;
        if ((flags & 0x01) && !c.skip(4)) {
          return false;
        }
        uint32_t first_flags = 0;
        bool has_first_flags = (flags & 0x04) != 0;
        if (has_first_flags && !c.u32(&first_flags)) {
          return false;
        }
        bool first_run = fragment->duration == 0;
        size_t per_sample = 4 * (((flags & 0x100) != 0) + ((flags & 0x200) != 0) +
                                 ((flags & 0x400) != 0) + ((flags & 0x800) != 0));
        if (per_sample == 0 && count > 0) {
          // No per-sample fields: every sample has the defaults, so a huge
          // count costs nothing to read and must not cost a loop either.
          uint32_t sample_flags = has_first_flags ? first_flags : default_flags;
          if (first_run) {
            fragment->starts_with_keyframe = (sample_flags & kNonSyncSample) == 0;
          }
          fragment->duration += uint64_t(count) * default_duration;
          return true;
        }
        if (per_sample > 0 && count > c.remaining() / per_sample) {
          return false;  // more samples announced than the box holds
        }
        for (uint32_t i = 0; i < count; ++i) {
          uint32_t duration = default_duration;
          uint32_t sample_flags = default_flags;
          if ((flags & 0x100) && !c.u32(&duration)) {
            return false;
          }
          if ((flags & 0x200) && !c.skip(4)) {
            return false;
          }
          if ((flags & 0x400) && !c.u32(&sample_flags)) {
            return false;
          }
          if ((flags & 0x800) && !c.skip(4)) {
            return false;
          }
          if (i == 0 && first_run) {
            if (has_first_flags) {
              sample_flags = first_flags;
            }
            fragment->starts_with_keyframe = (sample_flags & kNonSyncSample) == 0;
          }
          fragment->duration += duration;
        }
      }
      return true;
    });
  });
}

}  // namespace

HeaderResult read_box_header(const uint8_t *data, size_t available, BoxHeader *header) {
  if (available < 8) {
    return HeaderResult::kNeedMore;
  }
  uint64_t size = be32(data);
  header->type = be32(data + 4);
  header->header_size = 8;
  if (size == 1) {
    if (available < 16) {
      return HeaderResult::kNeedMore;
    }
    size = be64(data + 8);
    header->header_size = 16;
  }
  if (size < header->header_size) {
    return HeaderResult::kInvalid;
  }
  header->size = size;
  return HeaderResult::kOk;
}

void FragmentGate::scan(const uint8_t *data, size_t size) {
  while (!invalid_ && cursor_ < size) {
    BoxHeader header;
    HeaderResult result = read_box_header(data + cursor_, size - cursor_, &header);
    if (result == HeaderResult::kInvalid) {
      invalid_ = true;
      return;
    }
    if (result == HeaderResult::kNeedMore || header.size > size - cursor_) {
      return;
    }
    cursor_ += static_cast<size_t>(header.size);
    if (header.type == fourcc("mdat")) {
      ++fragments_;
    }
    if (header.type == fourcc("moov") || header.type == fourcc("mdat") ||
        header.type == fourcc("mfra")) {
      writable_ = cursor_;
    }
  }
}

void FragmentGate::consumed(size_t count) {
  cursor_ = cursor_ > count ? cursor_ - count : 0;
  writable_ = writable_ > count ? writable_ - count : 0;
}

bool shift_decode_times(uint8_t *data, size_t size, const std::vector<TrackInfo> &tracks,
                        uint64_t offset_ns) {
  auto put32 = [](uint8_t *p, uint32_t v) {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
  };
  bool ok = true;
  auto visit_traf = [&](uint8_t *p, size_t n) {
    uint32_t track_id = 0;
    return for_each_child(p, n, [&](const BoxHeader &h, const uint8_t *cp, size_t cn) {
      auto *payload = const_cast<uint8_t *>(cp);
      if (h.type == fourcc("tfhd") && cn >= 8) {
        track_id = be32(payload + 4);
      } else if (h.type == fourcc("tfdt") && cn >= 8) {
        uint32_t timescale = 0;
        for (const auto &t : tracks) {
          if (t.id == track_id) {
            timescale = t.timescale;
          }
        }
        if (timescale == 0) {
          ok = false;
          return false;
        }
        unsigned __int128 ticks = (unsigned __int128)offset_ns * timescale / 1000000000u;
        if (payload[0] == 1 && cn >= 12) {
          uint64_t v = be64(payload + 4) + static_cast<uint64_t>(ticks);
          put32(payload + 4, uint32_t(v >> 32));
          put32(payload + 8, uint32_t(v));
        } else {
          uint64_t v = be32(payload + 4) + static_cast<uint64_t>(ticks);
          if (v > 0xffffffffu) {
            ok = false;
            return false;
          }
          put32(payload + 4, uint32_t(v));
        }
      }
      return true;
    });
  };
  bool parsed = for_each_child(data, size, [&](const BoxHeader &h, const uint8_t *p, size_t n) {
    if (h.type != fourcc("moof")) {
      return true;
    }
    return for_each_child(p, n, [&](const BoxHeader &th, const uint8_t *tp, size_t tn) {
      return th.type != fourcc("traf") || visit_traf(const_cast<uint8_t *>(tp), tn);
    });
  });
  return parsed && ok;
}

double FragmentIndex::duration_seconds() const {
  if (timescale == 0 || fragments.empty()) {
    return 0.0;
  }
  uint64_t total = 0;
  for (const auto &f : fragments) {
    total += f.duration;
  }
  return static_cast<double>(total) / timescale;
}

bool index_fragmented_mp4(const ReadAt &read, uint64_t file_size, FragmentIndex *index,
                          std::string *error) {
  *index = FragmentIndex{};
  auto fail = [&](std::string message) {
    if (error) {
      *error = std::move(message);
    }
    return false;
  };
  uint64_t pos = 0;
  bool have_moov = false;
  std::vector<uint8_t> bytes;
  std::optional<Fragment> open;  // a moof waiting for its mdat
  uint64_t next_decode_time = 0;
  while (pos < file_size) {
    if (!read(pos, static_cast<size_t>(std::min<uint64_t>(16, file_size - pos)), &bytes)) {
      return fail("read error");
    }
    BoxHeader header;
    HeaderResult result = read_box_header(bytes.data(), bytes.size(), &header);
    if (result == HeaderResult::kNeedMore ||
        (result == HeaderResult::kOk && header.size > file_size - pos)) {
      break;  // torn tail
    }
    if (result == HeaderResult::kInvalid) {
      return fail("invalid box at offset " + std::to_string(pos));
    }
    bool metadata = header.type == fourcc("moov") || header.type == fourcc("moof");
    if (metadata) {
      if (header.size > kMaxMetadataBox) {
        return fail("oversized box at offset " + std::to_string(pos));
      }
      if (!read(pos, static_cast<size_t>(header.size), &bytes)) {
        return fail("read error");
      }
      const uint8_t *payload = bytes.data() + header.header_size;
      size_t payload_size = static_cast<size_t>(header.size - header.header_size);
      if (header.type == fourcc("moov")) {
        if (!parse_moov(payload, payload_size, index)) {
          return fail("malformed moov");
        }
        have_moov = true;
      } else {
        if (!have_moov) {
          return fail("moof before moov: not a fragmented MP4 recording");
        }
        if (index->init_size == 0) {
          index->init_size = pos;
        }
        Fragment fragment;
        fragment.offset = pos;
        bool has_decode_time = false;
        if (!parse_moof(payload, payload_size, *index, &fragment, &has_decode_time)) {
          return fail("malformed moof at offset " + std::to_string(pos));
        }
        if (!has_decode_time) {
          fragment.decode_time = next_decode_time;
        }
        open = fragment;
      }
    } else if (header.type == fourcc("mdat") && open) {
      open->size = pos + header.size - open->offset;
      next_decode_time = open->decode_time + open->duration;
      index->fragments.push_back(*open);
      open.reset();
    }
    pos += header.size;
    if (!open) {
      index->complete_size = pos;
    }
  }
  if (!have_moov) {
    return fail("no moov box: not an MP4 recording (or nothing was written yet)");
  }
  if (index->init_size == 0) {
    index->init_size = index->complete_size;
  }
  return true;
}

bool index_fragmented_mp4_fd(int fd, FragmentIndex *index, std::string *error) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    if (error) {
      *error = "cannot stat file";
    }
    return false;
  }
  auto read = [fd](uint64_t offset, size_t length, std::vector<uint8_t> *out) {
    out->resize(length);
    size_t done = 0;
    while (done < length) {
      ssize_t n = ::pread(fd, out->data() + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return false;
      }
      done += static_cast<size_t>(n);
    }
    return true;
  };
  return index_fragmented_mp4(read, static_cast<uint64_t>(st.st_size), index, error);
}

}  // namespace livepipe::record
