// SPDX-License-Identifier: GPL-2.0-or-later
// Where the CLI finds accelpackd, and policy-file checks that report every
// problem at once.
#pragma once

#include <string>
#include <vector>

namespace accelpack::cli {

// The accelpack.conf the plugin reads: $ACCELPACK_CONF, else beside
// $SLURM_CONF, else /etc/slurm/accelpack.conf.
std::string AcceleratorConfPath();

// CoreAddress from that file ("unix:/run/accelpack/accelpack.sock"), or empty
// when the file or the key is missing. `error` is set for an unreadable file.
std::string CoreAddressFromConf(const std::string& path, std::string* error);

// What `accelpack policy check` found in one policy file.
struct PolicyFileCheck {
  // Every problem, each "file:line:column: key: problem", in file order; empty when
  // the file is valid.
  std::vector<std::string> problems;
  std::string text;  // what was checked; empty when the file could not be read
  std::string name;  // the policy's name, when it is valid
};

// Checks a policy file, reporting every problem at once: each top-level section is
// checked on its own (other sections blanked, so line numbers stay), then the whole.
// An empty file (nothing but comments) is a problem: it would silently mean the
// built-in default. The file is read once, as the daemon reads it
// (policy::ReadPolicyFile: a regular file of at most 1 MiB, never waited on).
PolicyFileCheck CheckPolicyFile(const std::string& path);

}  // namespace accelpack::cli
