#include "safepath.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace livepipe::record {
namespace {

std::string quoted(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\0') {
      out += "\\0";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::vector<std::string_view> split_components(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t begin = 0;
  while (begin <= path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string_view::npos) {
      end = path.size();
    }
    parts.push_back(path.substr(begin, end - begin));
    begin = end + 1;
  }
  return parts;
}

void set_error(std::string *error, std::string message) {
  if (error) {
    *error = std::move(message);
  }
}

std::string errno_text(int code) {
  return std::strerror(code);
}

// Parses "%[0][width]d|u|i" at `tmpl[i]` (which is '%'); returns the length of
// the directive or 0 when it is not one, and its zero-padding width.
size_t number_directive(std::string_view tmpl, size_t i, int *width) {
  size_t j = i + 1;
  bool zero = false;
  if (j < tmpl.size() && tmpl[j] == '0') {
    zero = true;
    ++j;
  }
  int w = 0;
  size_t digits = 0;
  while (j < tmpl.size() && tmpl[j] >= '0' && tmpl[j] <= '9' && digits < 2) {
    w = w * 10 + (tmpl[j] - '0');
    ++j;
    ++digits;
  }
  if (j < tmpl.size() && (tmpl[j] == 'd' || tmpl[j] == 'u' || tmpl[j] == 'i')) {
    *width = zero ? w : -w;  // negative: space padding, as printf would
    return j - i + 1;
  }
  return 0;
}

}  // namespace

bool validate_stream_name(std::string_view name, std::string *error) {
  if (name.empty()) {
    set_error(error, "stream name is empty");
    return false;
  }
  if (name.size() > kMaxStreamNameLength) {
    set_error(error,
              "stream name is longer than " + std::to_string(kMaxStreamNameLength) + " characters");
    return false;
  }
  if (name[0] == '.') {
    set_error(error, "stream name " + quoted(name) + " starts with '.'");
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      set_error(error, "stream name " + quoted(name) +
                           " may only hold letters, digits, '.', '_' and '-' (it would not stay "
                           "one file name under the recording root)");
      return false;
    }
  }
  return true;
}

bool validate_relative_path(std::string_view path, std::string *error) {
  if (path.empty()) {
    set_error(error, "path is empty");
    return false;
  }
  if (path.size() > kMaxPathLength) {
    set_error(error, "path is longer than " + std::to_string(kMaxPathLength) + " characters");
    return false;
  }
  if (path.find('\0') != std::string_view::npos) {
    set_error(error, "path " + quoted(path) + " contains a NUL byte");
    return false;
  }
  if (path[0] == '/') {
    set_error(error, "path " + quoted(path) +
                         " is absolute; recordings are written below the root (set 'root' to "
                         "the directory and give a relative location)");
    return false;
  }
  if (path.find('\\') != std::string_view::npos) {
    set_error(error, "path " + quoted(path) + " contains a backslash");
    return false;
  }
  for (std::string_view part : split_components(path)) {
    if (part.empty()) {
      set_error(error, "path " + quoted(path) + " has an empty component");
      return false;
    }
    if (part == "..") {
      set_error(error, "path " + quoted(path) + " contains '..' and would escape the root");
      return false;
    }
    if (part == ".") {
      set_error(error, "path " + quoted(path) + " contains a '.' component");
      return false;
    }
  }
  return true;
}

bool validate_template(std::string_view tmpl, std::string *error) {
  auto expanded = expand_template(tmpl, "stream", 0, error);
  return expanded.has_value();
}

std::optional<std::string> expand_template(std::string_view tmpl, std::string_view stream,
                                           uint64_t index, std::string *error) {
  if (tmpl.find('\0') != std::string_view::npos) {
    set_error(error, "location " + quoted(tmpl) + " contains a NUL byte");
    return std::nullopt;
  }
  std::string out;
  int directives = 0;
  bool uses_stream = false;
  static constexpr std::string_view kStream = "{stream}";
  for (size_t i = 0; i < tmpl.size();) {
    char c = tmpl[i];
    if (c == '%') {
      if (i + 1 < tmpl.size() && tmpl[i + 1] == '%') {
        out += '%';
        i += 2;
        continue;
      }
      int width = 0;
      size_t length = number_directive(tmpl, i, &width);
      if (length == 0) {
        set_error(error, "location " + quoted(tmpl) +
                             " has a '%' that is not a segment number directive such as %05d "
                             "(write %% for a literal '%')");
        return std::nullopt;
      }
      std::string number = std::to_string(index);
      int pad = width < 0 ? -width : width;
      if (static_cast<int>(number.size()) < pad) {
        number.insert(0, static_cast<size_t>(pad) - number.size(), width < 0 ? ' ' : '0');
      }
      out += number;
      ++directives;
      i += length;
      continue;
    }
    if (tmpl.substr(i, kStream.size()) == kStream) {
      uses_stream = true;
      out += stream;
      i += kStream.size();
      continue;
    }
    out += c;
    ++i;
  }
  if (directives != 1) {
    set_error(error, "location " + quoted(tmpl) +
                         " needs exactly one segment number directive such as %05d (it has " +
                         std::to_string(directives) + ")");
    return std::nullopt;
  }
  if (uses_stream) {
    std::string why;
    if (!validate_stream_name(stream, &why)) {
      set_error(error, why);
      return std::nullopt;
    }
  }
  std::string why;
  if (!validate_relative_path(out, &why)) {
    set_error(error, "location " + quoted(tmpl) + ": " + why);
    return std::nullopt;
  }
  return out;
}

std::string parent_of(std::string_view relative) {
  size_t slash = relative.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(relative.substr(0, slash));
}

std::string relative_to(std::string_view from_dir, std::string_view target) {
  auto from = from_dir.empty() ? std::vector<std::string_view>{} : split_components(from_dir);
  auto to = split_components(target);
  size_t common = 0;
  while (common < from.size() && common + 1 < to.size() && from[common] == to[common]) {
    ++common;
  }
  std::string out;
  for (size_t i = common; i < from.size(); ++i) {
    out += "../";
  }
  for (size_t i = common; i < to.size(); ++i) {
    out += to[i];
    if (i + 1 < to.size()) {
      out += '/';
    }
  }
  return out;
}

Root::~Root() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
}

bool Root::open(const std::string &path, bool create, std::string *error) {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (path.empty() || path.find('\0') != std::string::npos) {
    set_error(error, "recording root is empty");
    return false;
  }
  if (create) {
    // mkdir -p: the root is trusted configuration.
    for (size_t pos = 1; pos <= path.size(); ++pos) {
      if (pos == path.size() || path[pos] == '/') {
        std::string prefix = path.substr(0, pos);
        if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
          set_error(error,
                    "cannot create recording root " + quoted(prefix) + ": " + errno_text(errno));
          return false;
        }
      }
    }
  }
  fd_ = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) {
    set_error(error, "cannot open recording root " + quoted(path) + ": " + errno_text(errno));
    return false;
  }
  path_ = path;
  return true;
}

std::string Root::join(std::string_view relative) const {
  if (path_.empty() || path_ == ".") {
    return std::string(relative);
  }
  std::string out = path_;
  if (out.back() != '/') {
    out += '/';
  }
  return out + std::string(relative);
}

int Root::open_parent(std::string_view relative, bool create, std::string *leaf,
                      std::string *error) const {
  if (fd_ < 0) {
    set_error(error, "recording root is not open");
    return -1;
  }
  std::string why;
  if (!validate_relative_path(relative, &why)) {
    set_error(error, why);
    return -1;
  }
  auto parts = split_components(relative);
  int dir = ::dup(fd_);
  if (dir < 0) {
    set_error(error, errno_text(errno));
    return -1;
  }
  std::string walked;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    std::string name(parts[i]);
    walked += (walked.empty() ? "" : "/") + name;
    struct stat st {};
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISLNK(st.st_mode)) {
        ::close(dir);
        set_error(error, quoted(join(walked)) +
                             " is a symbolic link; recordings never follow links below the root");
        return -1;
      }
    } else if (errno == ENOENT && create) {
      if (::mkdirat(dir, name.c_str(), 0755) != 0 && errno != EEXIST) {
        int code = errno;
        ::close(dir);
        set_error(error, "cannot create " + quoted(join(walked)) + ": " + errno_text(code));
        return -1;
      }
    }
    int next = ::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int code = errno;
    ::close(dir);
    if (next < 0) {
      set_error(error,
                "cannot open directory " + quoted(join(walked)) + ": " +
                    (code == ELOOP ? std::string("it is a symbolic link") : errno_text(code)));
      return -1;
    }
    dir = next;
  }
  *leaf = std::string(parts.back());
  return dir;
}

int Root::create_file(std::string_view relative, std::string *error) const {
  std::string leaf;
  int dir = open_parent(relative, true, &leaf, error);
  if (dir < 0) {
    return -1;
  }
  struct stat st {};
  if (::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
    ::close(dir);
    set_error(error, quoted(join(relative)) +
                         " is a symbolic link; recordings never follow links below the root");
    return -1;
  }
  int fd = ::openat(dir, leaf.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  int code = errno;
  ::close(dir);
  if (fd < 0) {
    set_error(error, "cannot create " + quoted(join(relative)) + ": " + errno_text(code));
  }
  return fd;
}

int Root::open_file(std::string_view relative, std::string *error) const {
  std::string leaf;
  int dir = open_parent(relative, false, &leaf, error);
  if (dir < 0) {
    return -1;
  }
  int fd = ::openat(dir, leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  int code = errno;
  ::close(dir);
  if (fd < 0) {
    set_error(error, "cannot open " + quoted(join(relative)) + ": " +
                         (code == ELOOP ? std::string("it is a symbolic link") : errno_text(code)));
  }
  return fd;
}

bool Root::write_atomic(std::string_view relative, std::string_view contents,
                        std::string *error) const {
  std::string leaf;
  int dir = open_parent(relative, true, &leaf, error);
  if (dir < 0) {
    return false;
  }
  std::string temp = "." + leaf + ".tmp";
  int fd = ::openat(dir, temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    int code = errno;
    ::close(dir);
    set_error(error, "cannot write " + quoted(join(relative)) + ": " + errno_text(code));
    return false;
  }
  size_t done = 0;
  bool ok = true;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      ok = false;
      set_error(error, "cannot write " + quoted(join(relative)) + ": " + errno_text(errno));
      break;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  if (ok && ::renameat(dir, temp.c_str(), dir, leaf.c_str()) != 0) {
    ok = false;
    set_error(error, "cannot replace " + quoted(join(relative)) + ": " + errno_text(errno));
  }
  if (!ok) {
    ::unlinkat(dir, temp.c_str(), 0);
  }
  ::close(dir);
  return ok;
}

bool Root::prepare_parent(std::string_view relative, std::string *error) const {
  std::string leaf;
  int dir = open_parent(relative, true, &leaf, error);
  if (dir < 0) {
    return false;
  }
  ::close(dir);
  return true;
}

std::optional<uint64_t> Root::file_size(std::string_view relative) const {
  std::string leaf;
  int dir = open_parent(relative, false, &leaf, nullptr);
  if (dir < 0) {
    return std::nullopt;
  }
  struct stat st {};
  int rc = ::fstatat(dir, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW);
  ::close(dir);
  if (rc != 0 || !S_ISREG(st.st_mode)) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace livepipe::record
