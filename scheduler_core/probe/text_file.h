// Reading inputs and writing outputs without ever leaving a half-written file.
//
// Inputs come from other machines and admins' shells, so a read is bounded
// (common/bounded_file.h: only a regular file, never waited on, never more than a
// size limit).
//
// Thread-safety: reentrant; concurrent writers of the same path each leave a complete
// file (the last rename wins).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/bounded_file.h"

namespace accelpack::probe {

// Largest configuration file or hwloc export read (a 2-socket, 8-GPU node's export
// with every I/O object is about 100 KiB; a 1000-PU one under 2 MiB).
inline constexpr size_t kMaxInputBytes = size_t{32} << 20;

// The whole regular file at `path`, at most `max_bytes` long; errors name the path
// and the reason (missing, a directory, not a regular file, too large, ...).
inline absl::StatusOr<std::string> ReadTextFile(const std::string& path,
                                                size_t max_bytes = kMaxInputBytes) {
  return ReadBoundedFile(path, max_bytes);
}

// The names in directory `path` ("." and ".." left out), sorted; nullopt when it
// cannot be opened (a driver that is not loaded has no /proc/driver directory).
std::optional<std::vector<std::string>> ListDirectory(const std::string& path);

// Writes `contents` to a temporary file beside `path`, flushes it to disk and renames
// it over `path`, so readers see the old file or the new one, never a partial one.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// Several files as one set: every file is first written completely to a temporary
// beside its target; only when all of them succeeded are they renamed into place. On
// any failure before the renames no target is touched and no temporary is left.
// (A rename itself failing part-way, which takes a vanished directory, is reported.)
absl::Status WriteFilesAtomically(
    const std::vector<std::pair<std::string, std::string>>& path_and_contents);

}  // namespace accelpack::probe
