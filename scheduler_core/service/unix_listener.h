// accelpackd's Unix socket, created and accepted on by accelpackd itself (not by
// gRPC), so that every connection is authorised by its peer's credentials before
// gRPC reads a byte of it, and so that only a socket this daemon made is ever
// replaced or removed.
//
// Thread-safety: Start and the destructor from one thread; the hand-over callback
// runs on the listener's own thread.
// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "service/access.h"

namespace accelpack::service {

// "0660" or "660": octal digits only, at most 0777. Anything else is an error
// naming the text (no "0669" read as 066, no "-1", no "0o660").
absl::StatusOr<unsigned> ParseSocketMode(std::string_view text);

struct UnixSocketOptions {
  std::string path;
  unsigned mode = 0660;
  std::string group;  // owner group of the socket; empty: accelpackd's
};

class UnixListener {
 public:
  // Checks the directory (created 0755 if missing, its parent must exist; must be
  // owned by root or accelpackd's user and not writable by others unless
  // sticky), refuses anything at `path` that is not a dead socket of accelpackd's
  // user, and binds with the final owner and mode before it listens: nobody can
  // connect before the mode is right.
  static absl::StatusOr<std::unique_ptr<UnixListener>> Open(const UnixSocketOptions& options);

  UnixListener(const UnixListener&) = delete;
  UnixListener& operator=(const UnixListener&) = delete;
  // Stops accepting and removes the socket if it is still the one Open made.
  ~UnixListener();

  using HandOver = std::function<void(int fd, const PeerIdentity& peer)>;
  // Accepts on a thread of its own; `hand_over` owns each connected fd.
  void Start(HandOver hand_over);

 private:
  UnixListener(std::string path, int fd, dev_t device, ino_t inode, int wake_fd);
  void AcceptLoop(const HandOver& hand_over);
  void ShedOneConnection();

  std::string path_;
  int fd_;
  dev_t device_;    // the socket file Open created: removed at the end only if
  ino_t inode_;     // the path still names it
  int wake_fd_;     // eventfd: wakes the accept loop to stop
  int reserve_fd_;  // kept open to be given back when descriptors run out
  std::chrono::steady_clock::time_point last_shed_line_{};
  std::thread thread_;
};

}  // namespace accelpack::service
