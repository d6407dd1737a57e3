// Who may talk to the core. A connection's role is fixed once, from what the
// kernel or TLS says about the peer, before any call on it is read:
//   scheduler  Schedule and every call that changes state: root, accelpackd's own
//              user, SlurmUser (--slurm-user);
//   reader     read-only calls (GetStatus): members of the operators' group;
//   denied     anyone else: every call answers PERMISSION_DENIED.
// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace accelpack::service {

enum class Role { kDenied = 0, kReader = 1, kScheduler = 2 };

std::string_view RoleName(Role role);

// What SO_PEERCRED and SO_PEERGROUPS say about the process at the other end.
struct PeerIdentity {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups

  std::string ToString() const;  // "uid 1001 gid 1001 pid 4242"
};

// The peer of a connected Unix socket, from the kernel (cannot be forged).
absl::StatusOr<PeerIdentity> PeerOf(int fd);

struct AccessRules {
  std::vector<uid_t> schedulers;   // besides root
  std::optional<gid_t> operators;  // none: only schedulers may read

  Role RoleOf(const PeerIdentity& peer) const;
  std::string ToString() const;  // for the start-up log line
};

// `slurm_user`: empty means "slurm" when such a user exists (Debian's packages
// create it), else only root and accelpackd's own user schedule. `operator_group`:
// empty means `socket_group`; both empty: nobody else reads.
absl::StatusOr<AccessRules> MakeAccessRules(const std::string& slurm_user,
                                            const std::string& operator_group,
                                            const std::string& socket_group);

// The group id of `name`, or INVALID_ARGUMENT naming `option`.
absl::StatusOr<gid_t> GroupId(const std::string& name, std::string_view option);

}  // namespace accelpack::service
