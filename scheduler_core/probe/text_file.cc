#include "probe/text_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"

namespace accelpack::probe {
namespace {

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InvalidArgumentError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

// Closes a descriptor on every path out of a function.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }
  // Closes now, reporting the error a deferred write may only show at close.
  int Close() {
    const int result = close(fd_);
    fd_ = -1;
    return result;
  }

 private:
  int fd_;
};

absl::Status WriteAll(int fd, absl::string_view contents, const std::string& path) {
  while (!contents.empty()) {
    const ssize_t written = write(fd, contents.data(), contents.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path);
    }
    contents.remove_prefix(static_cast<size_t>(written));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadTextFile(const std::string& path) {
  FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("cannot read", path);
  std::string contents;
  std::vector<char> chunk(64 * 1024);
  while (true) {
    const ssize_t got = read(fd.get(), chunk.data(), chunk.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot read", path);
    }
    if (got == 0) break;
    contents.append(chunk.data(), static_cast<size_t>(got));
  }
  return contents;
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  const std::filesystem::path target(path);
  const std::filesystem::path dir =
      target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string temp = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  FileDescriptor fd(mkstemp(temp.data()));
  if (fd.get() < 0) return ErrnoError("cannot create a temporary file for", path);
  absl::Status status = WriteAll(fd.get(), contents, path);
  // mkstemp creates 0600; configuration files are meant to be readable by Slurm.
  if (status.ok() && fchmod(fd.get(), 0644) != 0) status = ErrnoError("cannot chmod", temp);
  if (status.ok() && fsync(fd.get()) != 0) status = ErrnoError("cannot flush", path);
  if (status.ok() && fd.Close() != 0) status = ErrnoError("cannot write", path);
  if (status.ok() && rename(temp.c_str(), path.c_str()) != 0) {
    status = ErrnoError("cannot replace", path);
  }
  if (!status.ok()) unlink(temp.c_str());
  return status;
}

}  // namespace accelpack::probe
