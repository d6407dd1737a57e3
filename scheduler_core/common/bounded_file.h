// SPDX-License-Identifier: GPL-2.0-or-later
// Reading a file that comes from outside: a policy, accelpack.conf, a TLS key, a
// probe's report, an hwloc export, a trace.
//
// Any of them may be the wrong thing: a FIFO that nobody writes (an open or read
// would wait forever, on a daemon's signal thread or an operator's shell), /dev/zero
// (a read would never end), a directory, or a file far larger than such a file ever
// is. So only a regular file is read, the open never waits, and no more than a
// bound is read, whatever the file does while it is read.
//
// Thread-safety: reentrant.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace accelpack {

inline constexpr size_t kMiB = size_t{1} << 20;

// A TLS certificate chain or key (a few KiB), for the CLI and accelpackd alike.
inline constexpr size_t kMaxPemFileBytes = kMiB;

// The whole regular file at `path`, at most `max_bytes` long. Errors read "cannot read
// <what> <path>: <why>" ("cannot read policy file /etc/p.yaml: not a regular file (a
// device, FIFO or socket)"); `what` may be empty. The code is NotFound when
// nothing is at `path`, InvalidArgument for everything else.
absl::StatusOr<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes,
                                            std::string_view what = {});

}  // namespace accelpack
