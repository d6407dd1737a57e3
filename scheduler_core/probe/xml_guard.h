// SPDX-License-Identifier: GPL-2.0-or-later
// Guards between an untrusted hwloc XML export and libhwloc.
//
// hwloc's XML parser recurses once per nesting level (about 20,000 nested bridges
// overflow the stack) and a few mutated exports crash inside libhwloc 2.9 itself.
// So before hwloc sees a buffer, ScanXml() checks its shape without recursion, and
// RunContained() runs hwloc's parse in a child process: a crash or a hang there
// becomes an error naming the file instead of killing or blocking the probe.
//
// Thread-safety: ScanXml is pure. RunContained forks; call it from a process that has
// no other threads running (the probe's command line, the tests).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace accelpack::probe {

// Deepest element nesting accepted. Real exports nest about 12 levels (Machine,
// Package, caches, Core, PU; a chain of PCIe bridges adds a few).
inline constexpr int kMaxXmlDepth = 128;

struct XmlShape {
  int max_depth = 0;
  // An hwloc 1.x export (<topology> without version="2.0").
  bool hwloc_v1 = false;
};

// Fails, naming `source`, on text that is not XML or nests deeper than kMaxXmlDepth.
absl::StatusOr<XmlShape> ScanXml(absl::string_view xml, absl::string_view source);

// Runs `work` in a child process and reports how it ended: OK when it returned OK,
// its status's message when it failed, and an error naming `source` when it was
// killed by a signal or ran past `limit` (then it is killed). `work`'s result is not
// carried back: callers redo the work in-process once it is known to end cleanly.
absl::Status RunContained(const std::function<absl::Status()>& work, absl::string_view source,
                          absl::string_view what, std::chrono::milliseconds limit);

}  // namespace accelpack::probe
