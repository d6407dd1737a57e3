// SPDX-License-Identifier: GPL-2.0-or-later
// Peak memory of a process the tests started, for bounds on what a request may cost.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace accelpack::testing {

// AddressSanitizer keeps freed memory in quarantine and slows every instruction a few
// times, so a daemon built with it says nothing about peak memory or CPU after
// cancellation: those bounds are asserted in the normal build only.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kUnderAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kUnderAddressSanitizer = true;
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif
#else
inline constexpr bool kUnderAddressSanitizer = false;
#endif

// Peak resident memory of a process (VmHWM), in KiB; -1 when it cannot be read.
inline int64_t PeakRssKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

}  // namespace accelpack::testing
