// Recording paths that can never leave their root: template expansion with
// validation, and file-system access relative to an open root directory that
// refuses symbolic links at every step below the root.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace livepipe::record {

// Longest expanded relative path and stream name accepted.
inline constexpr size_t kMaxPathLength = 1024;
inline constexpr size_t kMaxStreamNameLength = 128;

// A stream name is one path component: 1..128 characters from [A-Za-z0-9._-],
// not starting with '.'. Fills `error` and returns false otherwise.
bool validate_stream_name(std::string_view name, std::string *error);

// A relative path below the root: not absolute, no NUL, no '..' or '.'
// components, no empty components, no backslash, at most kMaxPathLength.
bool validate_relative_path(std::string_view path, std::string *error);

// A location template: a relative path with exactly one segment-number
// directive (%d, %u, %05d, ...), '%%' for a literal '%', and optionally
// "{stream}" placeholders. Other '%' directives are refused.
bool validate_template(std::string_view tmpl, std::string *error);

// Expands `tmpl` for segment `index`; nullopt (and `error`) when the template,
// the stream name or the resulting path is not acceptable.
std::optional<std::string> expand_template(std::string_view tmpl, std::string_view stream,
                                           uint64_t index, std::string *error);

// The directory part of a relative path ("" when it has none).
std::string parent_of(std::string_view relative);
// `target` relative to the directory `from_dir` (both root-relative, validated).
std::string relative_to(std::string_view from_dir, std::string_view target);

// An open root directory. Everything below it is reached with openat() one
// component at a time, with O_NOFOLLOW, so neither '..' nor a symbolic link
// planted inside the root can lead outside it.
class Root {
 public:
  Root() = default;
  ~Root();
  Root(const Root &) = delete;
  Root &operator=(const Root &) = delete;

  // Opens (and with `create`, first creates) the root directory. The root
  // itself is trusted configuration and may be a symbolic link.
  bool open(const std::string &path, bool create, std::string *error);
  bool is_open() const { return fd_ >= 0; }
  const std::string &path() const { return path_; }
  // root/relative for messages and for tools outside this process.
  std::string join(std::string_view relative) const;

  // Creates or truncates a file for writing, creating missing directories.
  // Returns the file descriptor or -1 with `error` filled.
  int create_file(std::string_view relative, std::string *error) const;
  // Opens an existing file for reading (-1 and `error` when it cannot).
  int open_file(std::string_view relative, std::string *error) const;
  // Replaces `relative` with `contents` atomically (temporary file + rename).
  bool write_atomic(std::string_view relative, std::string_view contents, std::string *error) const;
  std::optional<uint64_t> file_size(std::string_view relative) const;
  // Creates the directories leading to `relative`, refusing symbolic links.
  bool prepare_parent(std::string_view relative, std::string *error) const;

 private:
  // Opens the directory holding `relative`'s last component; `leaf` gets it.
  int open_parent(std::string_view relative, bool create, std::string *leaf,
                  std::string *error) const;

  int fd_ = -1;
  std::string path_;
};

}  // namespace livepipe::record
