// SPDX-License-Identifier: GPL-2.0-or-later
#include "service/unix_listener.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/strings.h"

namespace accelpack::service {

namespace {

absl::Status Errno(std::string_view what, std::string_view path) {
  return absl::FailedPreconditionError(Cat(path, ": ", what, ": ", std::strerror(errno)));
}

std::string_view KindOf(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a socket";
}

sockaddr_un AddressOf(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());  // length checked by Open
  return address;
}

// True when something already accepts connections on the socket.
bool SocketAnswers(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_un address = AddressOf(path);
  const bool answers =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return answers;
}

// The socket's directory: a socket in a directory others may write to could be
// swapped for theirs, and the plugin would hand them every snapshot.
absl::Status CheckDirectory(const std::filesystem::path& directory) {
  const std::string dir = directory.empty() ? "." : directory.string();
  struct stat info {};
  if (::stat(dir.c_str(), &info) != 0) {
    if (errno != ENOENT) return Errno("stat", dir);
    // Only the last level: a missing parent is more likely a typo than a plan.
    if (::mkdir(dir.c_str(), 0755) != 0) return Errno("mkdir (mode 0755)", dir);
    spdlog::info("created {} (mode 0755)", dir);
    if (::stat(dir.c_str(), &info) != 0) return Errno("stat", dir);
  }
  if (!S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(Cat(dir, ": not a directory"));
  }
  if (info.st_uid != 0 && info.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(
        Cat(dir, ": owned by uid ", info.st_uid, ", neither root nor accelpackd's user; ",
            "put the socket in a directory of accelpackd's (e.g. /run/accelpack)"));
  }
  if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (info.st_mode & S_ISVTX) == 0) {
    return absl::FailedPreconditionError(Cat(
        dir, ": writable by group or others (mode ", fmt::format("{:04o}", info.st_mode & 07777),
        "): someone else could replace the socket; use a directory of mode 0755 or 0750"));
  }
  return absl::OkStatus();
}

// What is at `path` may only be replaced when it is a socket of accelpackd's user
// that nobody serves any more (left by a daemon that died).
absl::Status ClearStaleSocket(const std::string& path) {
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return Errno("lstat", path);
  }
  if (!S_ISSOCK(info.st_mode)) {
    return absl::FailedPreconditionError(
        Cat("--socket ", path, ": ", KindOf(info.st_mode),
            " is there, not a socket; refusing to replace it (is the path mistyped?)"));
  }
  if (SocketAnswers(path)) {
    return absl::AlreadyExistsError(Cat(path, ": another accelpackd is serving this socket"));
  }
  if (info.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(Cat("--socket ", path, ": a socket of uid ", info.st_uid,
                                             ", not accelpackd's; refusing to remove it"));
  }
  if (::unlink(path.c_str()) != 0) return Errno("unlink stale socket", path);
  spdlog::info("removed stale socket {}", path);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<unsigned> ParseSocketMode(std::string_view text) {
  unsigned mode = 0;
  bool valid = !text.empty() && text.size() <= 4;
  for (char c : text) {
    if (c < '0' || c > '7') valid = false;
    mode = mode * 8 + static_cast<unsigned>(c - '0');
  }
  if (!valid || mode > 0777) {
    return absl::InvalidArgumentError(
        Cat("--socket-mode ", text, ": expected octal permissions up to 0777, like 0660"));
  }
  return mode;
}

UnixListener::UnixListener(std::string path, int fd, dev_t device, ino_t inode, int wake_fd)
    : path_(std::move(path)),
      fd_(fd),
      device_(device),
      inode_(inode),
      wake_fd_(wake_fd),
      reserve_fd_(::open("/dev/null", O_RDONLY | O_CLOEXEC)) {}

absl::StatusOr<std::unique_ptr<UnixListener>> UnixListener::Open(const UnixSocketOptions& options) {
  const std::string& path = options.path;
  if (path.empty() || path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(Cat("--socket ", path, ": path empty or longer than ",
                                          sizeof(sockaddr_un{}.sun_path) - 1, " bytes"));
  }
  if (absl::Status dir = CheckDirectory(std::filesystem::path(path).parent_path()); !dir.ok())
    return dir;
  if (absl::Status cleared = ClearStaleSocket(path); !cleared.ok()) return cleared;
  gid_t group = static_cast<gid_t>(-1);
  if (!options.group.empty()) {
    auto gid = GroupId(options.group, "--socket-group");
    if (!gid.ok()) return gid.status();
    group = *gid;
  }

  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket", path);
  auto fail = [&](std::string_view what) {
    absl::Status status = Errno(what, path);
    ::close(fd);
    return status;
  };
  // The file appears owner-only (umask 0177 around bind; nothing else runs yet),
  // gets its group and mode, and only then does listen() let anyone connect.
  const sockaddr_un address = AddressOf(path);
  const mode_t previous_umask = ::umask(0177);
  const int bound = ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  ::umask(previous_umask);
  if (bound != 0) return fail("bind");
  struct stat info {};
  if (::lstat(path.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) return fail("lstat");
  auto unlink_and_fail = [&](std::string_view what) {
    absl::Status status = Errno(what, path);
    ::unlink(path.c_str());
    ::close(fd);
    return status;
  };
  if (group != static_cast<gid_t>(-1) && ::lchown(path.c_str(), static_cast<uid_t>(-1), group) != 0)
    return unlink_and_fail("chown");
  if (::chmod(path.c_str(), options.mode) != 0) return unlink_and_fail("chmod");
  if (::listen(fd, 128) != 0) return unlink_and_fail("listen");
  const int wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) return unlink_and_fail("eventfd");
  return std::unique_ptr<UnixListener>(
      new UnixListener(path, fd, info.st_dev, info.st_ino, wake_fd));
}

void UnixListener::Start(HandOver hand_over) {
  thread_ = std::thread([this, hand_over = std::move(hand_over)] { AcceptLoop(hand_over); });
}

void UnixListener::AcceptLoop(const HandOver& hand_over) {
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      spdlog::error("{}: poll: {}", path_, std::strerror(errno));
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    // Non-blocking, as gRPC's transport expects of the fds it is given.
    const int connection = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (connection < 0) {
      if (errno == EMFILE || errno == ENFILE) ShedOneConnection();
      continue;
    }
    // The kept descriptor went to another thread when last given back: keep one again.
    if (reserve_fd_ < 0) reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    auto peer = PeerOf(connection);
    if (!peer.ok()) {
      spdlog::warn("{}: connection closed: {}", path_, MessageOf(peer.status()));
      ::close(connection);
      continue;
    }
    hand_over(connection, *peer);
  }
}

// Out of descriptors: the pending connection would wake poll() forever. Give back the
// descriptor kept for this, accept it and close it at once (its client sees the
// connection end and retries), then keep one again; a line at most every 10 s.
void UnixListener::ShedOneConnection() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_shed_line_ >= std::chrono::seconds(10)) {
    spdlog::warn("{}: out of file descriptors ({}); closing new connections until some end", path_,
                 std::strerror(errno));
    last_shed_line_ = now;
  }
  if (reserve_fd_ >= 0) ::close(reserve_fd_);
  const int connection = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (connection >= 0) ::close(connection);
  reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (connection < 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

UnixListener::~UnixListener() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    if (::write(wake_fd_, &one, sizeof(one)) < 0) spdlog::warn("{}: cannot wake listener", path_);
    thread_.join();
  }
  ::close(wake_fd_);
  if (reserve_fd_ >= 0) ::close(reserve_fd_);
  ::close(fd_);
  // Remove the path only while it still names the socket this daemon made: a
  // successor's socket, or a file someone put there since, stays.
  struct stat info {};
  if (::lstat(path_.c_str(), &info) == 0 && info.st_dev == device_ && info.st_ino == inode_) {
    ::unlink(path_.c_str());
  } else {
    spdlog::warn("{} is no longer the socket accelpackd created; leaving it", path_);
  }
}

}  // namespace accelpack::service
