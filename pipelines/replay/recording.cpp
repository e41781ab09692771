#include "recording.h"

#include "mp4boxes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace livepipe::replay {

std::string Recording::segment_path(const record::SegmentEntry &segment) const {
  return (std::filesystem::path(directory) / segment.path).string();
}

std::optional<Recording> load_recording(const std::string &path, std::string *error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path file = path;
  if (fs::is_directory(file, ec)) {
    file /= "manifest.json";
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    *error = "cannot read manifest '" + file.string() + "'";
    return std::nullopt;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto manifest = record::manifest_from_json(text.str(), error);
  if (!manifest) {
    *error = file.string() + ": " + *error;
    return std::nullopt;
  }
  Recording recording;
  recording.directory = file.parent_path().string();
  if (recording.directory.empty()) {
    recording.directory = ".";
  }
  recording.manifest = std::move(*manifest);
  for (auto &segment : recording.manifest.segments) {
    if (segment.complete || recording.manifest.format != "mp4") {
      continue;
    }
    int fd = ::open(recording.segment_path(segment).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      continue;  // opened but nothing reached the disk before a crash
    }
    record::FragmentIndex index;
    if (record::index_fragmented_mp4_fd(fd, &index, nullptr)) {
      segment.duration_ns = static_cast<uint64_t>(index.duration_seconds() * 1e9);
      segment.size = index.complete_size;
    }
    ::close(fd);
  }
  // Keep only segments that hold media.
  std::erase_if(recording.manifest.segments,
                [](const record::SegmentEntry &s) { return s.duration_ns == 0; });
  return recording;
}

}  // namespace livepipe::replay
