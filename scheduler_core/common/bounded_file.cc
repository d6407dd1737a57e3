// SPDX-License-Identifier: GPL-2.0-or-later
#include "common/bounded_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/strings.h"

namespace accelpack {
namespace {

class Refusal {
 public:
  Refusal(const std::string& path, std::string_view what)
      : prefix_(Cat("cannot read ", what, what.empty() ? "" : " ", path, ": ")) {}

  absl::Status Because(std::string_view why) const {
    return absl::InvalidArgumentError(Cat(prefix_, why));
  }
  absl::Status FromErrno(int error) const {
    const std::string why = std::strerror(error);
    return error == ENOENT ? absl::NotFoundError(Cat(prefix_, why)) : Because(why);
  }
  absl::Status TooLarge(size_t max_bytes) const {
    return Because(max_bytes % kMiB == 0 ? Cat("larger than ", max_bytes / kMiB, " MiB")
                                         : Cat("larger than ", max_bytes, " bytes"));
  }

 private:
  std::string prefix_;
};

}  // namespace

absl::StatusOr<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes,
                                            std::string_view what) {
  const Refusal refusal(path, what);
  // Non-blocking: opening a FIFO with no writer must not wait for one. The checks
  // below are on what was opened, so nothing can be swapped in after them.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return refusal.FromErrno(errno);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info {};
  if (::fstat(fd, &info) != 0) return refusal.FromErrno(errno);
  if (S_ISDIR(info.st_mode)) return refusal.Because("a directory, not a regular file");
  if (!S_ISREG(info.st_mode))
    return refusal.Because("not a regular file (a device, FIFO or socket)");
  if (static_cast<uint64_t>(info.st_size) > max_bytes) return refusal.TooLarge(max_bytes);
  std::string contents;
  contents.reserve(static_cast<size_t>(info.st_size));
  char chunk[64 * 1024];
  while (true) {
    const ssize_t got = ::read(fd, chunk, sizeof(chunk));
    if (got < 0) {
      if (errno == EINTR) continue;
      return refusal.FromErrno(errno);
    }
    if (got == 0) break;
    // The file may grow while it is read: the bound holds for what is read.
    if (contents.size() + static_cast<size_t>(got) > max_bytes) return refusal.TooLarge(max_bytes);
    contents.append(chunk, static_cast<size_t>(got));
  }
  return contents;
}

}  // namespace accelpack
