// SPDX-License-Identifier: GPL-2.0-or-later
#include "service/access.h"

#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/strings.h"

namespace accelpack::service {

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kScheduler:
      return "scheduler";
    case Role::kReader:
      return "reader";
    case Role::kDenied:
      break;
  }
  return "denied";
}

std::string PeerIdentity::ToString() const { return Cat("uid ", uid, " gid ", gid, " pid ", pid); }

absl::StatusOr<PeerIdentity> PeerOf(int fd) {
  ucred credentials{};
  socklen_t length = sizeof(credentials);
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
    return absl::UnavailableError(Cat("SO_PEERCRED: ", std::strerror(errno)));
  }
  PeerIdentity peer;
  peer.pid = credentials.pid;
  peer.uid = credentials.uid;
  peer.gid = credentials.gid;
  // Supplementary groups as they were when the peer connected (Linux >= 4.13).
  peer.groups.resize(64);
  for (int attempt = 0; attempt < 2; ++attempt) {
    socklen_t bytes = static_cast<socklen_t>(peer.groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, peer.groups.data(), &bytes) == 0) {
      peer.groups.resize(bytes / sizeof(gid_t));
      return peer;
    }
    if (errno != ERANGE) break;
    peer.groups.resize(bytes / sizeof(gid_t) + 1);
  }
  peer.groups.clear();  // primary group only: membership is then judged by gid alone
  return peer;
}

Role AccessRules::RoleOf(const PeerIdentity& peer) const {
  if (peer.uid == 0 ||
      std::find(schedulers.begin(), schedulers.end(), peer.uid) != schedulers.end())
    return Role::kScheduler;
  if (operators.has_value() &&
      (peer.gid == *operators ||
       std::find(peer.groups.begin(), peer.groups.end(), *operators) != peer.groups.end()))
    return Role::kReader;
  return Role::kDenied;
}

std::string AccessRules::ToString() const {
  std::string text = Cat("Schedule from uid 0");
  for (uid_t uid : schedulers) text += Cat(", ", uid);
  text += operators.has_value() ? Cat("; status also from gid ", *operators)
                                : std::string("; status from those only");
  return text;
}

absl::StatusOr<gid_t> GroupId(const std::string& name, std::string_view option) {
  const group* entry = ::getgrnam(name.c_str());
  if (entry == nullptr)
    return absl::InvalidArgumentError(Cat(option, " ", name, ": no such group"));
  return entry->gr_gid;
}

absl::StatusOr<AccessRules> MakeAccessRules(const std::string& slurm_user,
                                            const std::string& operator_group,
                                            const std::string& socket_group) {
  AccessRules rules;
  const uid_t self = ::geteuid();
  if (self != 0) rules.schedulers.push_back(self);
  const std::string user = slurm_user.empty() ? "slurm" : slurm_user;
  if (const passwd* entry = ::getpwnam(user.c_str()); entry != nullptr) {
    if (entry->pw_uid != 0 && entry->pw_uid != self) rules.schedulers.push_back(entry->pw_uid);
  } else if (!slurm_user.empty()) {
    return absl::InvalidArgumentError(Cat("--slurm-user ", slurm_user, ": no such user"));
  }
  const std::string& group_name = operator_group.empty() ? socket_group : operator_group;
  if (!group_name.empty()) {
    auto gid = GroupId(group_name, operator_group.empty() ? "--socket-group" : "--operator-group");
    if (!gid.ok()) return gid.status();
    rules.operators = *gid;
  }
  return rules;
}

}  // namespace accelpack::service
