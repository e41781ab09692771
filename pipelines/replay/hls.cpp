#include "hls.h"

#include "mp4boxes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

namespace livepipe::replay {
namespace {

struct FdCloser {
  void operator()(int *fd) const {
    if (*fd >= 0) {
      ::close(*fd);
    }
    delete fd;
  }
};
using Fd = std::unique_ptr<int, FdCloser>;

bool copy_range(int in, uint64_t offset, uint64_t length, const std::string &out_path, bool append,
                std::string *error) {
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC),
                   0644);
  if (out < 0) {
    *error = "cannot write '" + out_path + "': " + std::strerror(errno);
    return false;
  }
  Fd guard(new int(out));
  std::vector<char> buffer(1 << 20);
  while (length > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(length, buffer.size()));
    ssize_t n = ::pread(in, buffer.data(), want, static_cast<off_t>(offset));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) {
        continue;
      }
      *error = "short read while copying to '" + out_path + "'";
      return false;
    }
    size_t done = 0;
    while (done < static_cast<size_t>(n)) {
      ssize_t w = ::write(out, buffer.data() + done, static_cast<size_t>(n) - done);
      if (w < 0 && errno == EINTR) {
        continue;
      }
      if (w <= 0) {
        *error = "cannot write '" + out_path + "': " + std::strerror(errno);
        return false;
      }
      done += static_cast<size_t>(w);
    }
    offset += static_cast<uint64_t>(n);
    length -= static_cast<uint64_t>(n);
  }
  return true;
}

bool write_all(const std::string &out_path, const std::vector<uint8_t> &data, std::string *error) {
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    *error = "cannot write '" + out_path + "': " + std::strerror(errno);
    return false;
  }
  Fd guard(new int(out));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = ::write(out, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      *error = "cannot write '" + out_path + "': " + std::strerror(errno);
      return false;
    }
    done += static_cast<size_t>(w);
  }
  return true;
}

bool read_range(int in, uint64_t offset, uint64_t length, std::vector<uint8_t> *out,
                std::string *error) {
  out->resize(static_cast<size_t>(length));
  size_t done = 0;
  while (done < out->size()) {
    ssize_t n =
        ::pread(in, out->data() + done, out->size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      *error = "short read";
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

std::string format_seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", seconds);
  return text;
}

}  // namespace

bool make_hls(const Recording &recording, const HlsOptions &options, HlsResult *result,
              std::string *error) {
  namespace fs = std::filesystem;
  if (recording.manifest.format != "mp4") {
    *error = "HLS needs an MP4 recording (this one is " + recording.manifest.format +
             ", as recordings of VP8 streams are)";
    return false;
  }
  if (recording.manifest.segments.empty()) {
    *error = "the recording has no media";
    return false;
  }
  if (!(options.target_duration >= 1.0 && options.target_duration <= 60.0)) {
    *error = "target duration must be between 1 and 60 seconds";
    return false;
  }
  std::error_code ec;
  fs::create_directories(options.directory, ec);
  if (ec) {
    *error = "cannot create '" + options.directory + "': " + ec.message();
    return false;
  }
  uint64_t total_bytes = 0;
  for (const auto &s : recording.manifest.segments) {
    total_bytes += s.size;
  }
  uint64_t copied = 0;

  std::string body;
  double longest = 0;
  size_t media_count = 0;
  double total_seconds = 0;
  bool first_segment = true;
  for (const auto &segment : recording.manifest.segments) {
    if (options.cancelled && options.cancelled()) {
      *error = "cancelled";
      return false;
    }
    std::string source = recording.segment_path(segment);
    int in = ::open(source.c_str(), O_RDONLY | O_CLOEXEC);
    if (in < 0) {
      *error = "cannot open '" + source + "': " + std::strerror(errno);
      return false;
    }
    Fd in_guard(new int(in));
    record::FragmentIndex index;
    if (!record::index_fragmented_mp4_fd(in, &index, error)) {
      *error = source + ": " + *error;
      return false;
    }
    if (index.fragments.empty() || index.timescale == 0) {
      continue;
    }
    std::string init_name = "init-" + std::to_string(segment.index) + ".mp4";
    if (!copy_range(in, 0, index.init_size, (fs::path(options.directory) / init_name).string(),
                    false, error)) {
      return false;
    }
    // Each recording segment has its own header; its decode times are moved
    // to the recording's timeline so the playlist plays as one timeline. A
    // discontinuity is declared only where that is not possible.
    bool shiftable = true;
    {
      std::vector<uint8_t> probe;
      const auto &f = index.fragments.front();
      shiftable =
          read_range(in, f.offset, f.size, &probe, error) &&
          record::shift_decode_times(probe.data(), probe.size(), index.tracks, segment.start_ns);
    }
    if (!first_segment && !shiftable) {
      body += "#EXT-X-DISCONTINUITY\n";
    }
    first_segment = false;
    body += "#EXT-X-MAP:URI=\"" + init_name + "\"\n";

    size_t i = 0;
    size_t part = 0;
    while (i < index.fragments.size()) {
      if (options.cancelled && options.cancelled()) {
        *error = "cancelled";
        return false;
      }
      std::string name =
          "seg-" + std::to_string(segment.index) + "-" + std::to_string(part++) + ".m4s";
      std::string path = (fs::path(options.directory) / name).string();
      uint64_t ticks = 0;
      size_t first = i;
      // Whole fragments until the target is reached and the next one starts
      // on a keyframe, so every media segment decodes on its own.
      do {
        ticks += index.fragments[i].duration;
        ++i;
      } while (i < index.fragments.size() &&
               (static_cast<double>(ticks) / index.timescale < options.target_duration ||
                !index.fragments[i].starts_with_keyframe));
      uint64_t offset = index.fragments[first].offset;
      uint64_t end = index.fragments[i - 1].offset + index.fragments[i - 1].size;
      std::vector<uint8_t> media;
      if (!read_range(in, offset, end - offset, &media, error)) {
        *error = source + ": " + *error;
        return false;
      }
      if (shiftable &&
          !record::shift_decode_times(media.data(), media.size(), index.tracks, segment.start_ns)) {
        *error = source + ": malformed fragment";
        return false;
      }
      if (!write_all(path, media, error)) {
        return false;
      }
      copied += end - offset;
      double seconds = static_cast<double>(ticks) / index.timescale;
      longest = std::max(longest, seconds);
      total_seconds += seconds;
      body += "#EXTINF:" + format_seconds(seconds) + ",\n" + name + "\n";
      ++media_count;
      if (options.progress && total_bytes) {
        options.progress(std::min(1.0, static_cast<double>(copied) / total_bytes));
      }
    }
  }
  if (media_count == 0) {
    *error = "the recording has no complete fragment";
    return false;
  }
  std::string playlist = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:" +
                         std::to_string(static_cast<int>(std::ceil(longest))) +
                         "\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n"
                         "#EXT-X-INDEPENDENT-SEGMENTS\n" +
                         body + "#EXT-X-ENDLIST\n";
  fs::path playlist_path = fs::path(options.directory) / options.playlist;
  fs::path temp = playlist_path;
  temp += ".tmp";
  FILE *out = std::fopen(temp.c_str(), "wb");
  if (!out || std::fwrite(playlist.data(), 1, playlist.size(), out) != playlist.size()) {
    if (out) {
      std::fclose(out);
    }
    *error = "cannot write '" + playlist_path.string() + "'";
    return false;
  }
  std::fclose(out);
  fs::rename(temp, playlist_path, ec);
  if (ec) {
    *error = "cannot write '" + playlist_path.string() + "': " + ec.message();
    return false;
  }
  if (options.progress) {
    options.progress(1.0);
  }
  result->playlist_path = playlist_path.string();
  result->media_segments = media_count;
  result->duration_seconds = total_seconds;
  return true;
}

}  // namespace livepipe::replay
