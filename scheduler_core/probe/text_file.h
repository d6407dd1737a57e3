// Reading inputs and writing outputs without ever leaving a half-written file.
//
// Thread-safety: reentrant; concurrent writers of the same path each leave a complete
// file (the last rename wins).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace accelpack::probe {

// The whole file; errors name the path and the reason (missing, a directory, ...).
absl::StatusOr<std::string> ReadTextFile(const std::string& path);

// Writes `contents` to a temporary file beside `path`, flushes it to disk and renames
// it over `path`, so readers see the old file or the new one, never a partial one.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

}  // namespace accelpack::probe
