// SPDX-License-Identifier: GPL-2.0-or-later
#include "service/decision_log.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "common/strings.h"
#include "engine/explain.h"

namespace accelpack::service {

namespace {

// The audit file at `path`, opened for appending (or emptied): only a regular file,
// never waited on (a FIFO nobody reads is refused at once, ENXIO), and written
// through the descriptor that was checked, not reopened by name.
absl::StatusOr<int> OpenAuditFile(const std::string& path, bool truncate) {
  const int fd = ::open(
      path.c_str(),
      O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (truncate ? O_TRUNC : 0),
      0644);
  if (fd < 0) {
    return absl::FailedPreconditionError(
        Cat(path, ": ", errno == ENXIO ? "not a regular file (a FIFO)" : std::strerror(errno)));
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    return absl::FailedPreconditionError(Cat(path, ": not a regular file"));
  }
  return fd;
}

std::string NodesOf(const std::vector<int>& nodes, const model::Snapshot& snapshot) {
  std::vector<std::string> names;
  for (int n : nodes) names.push_back(snapshot.nodes[static_cast<size_t>(n)].name);
  return Join(names, ",");
}

}  // namespace

DecisionLog::DecisionLog(DecisionLogOptions options) : options_(std::move(options)) {}

DecisionLog::~DecisionLog() {
  std::lock_guard lock(mu_);
  WritePending();
  if (audit_fd_ >= 0) ::close(audit_fd_);
}

absl::Status DecisionLog::Open() {
  if (options_.audit_path.empty()) return absl::OkStatus();
  std::lock_guard lock(mu_);
  auto fd = OpenAuditFile(options_.audit_path, /*truncate=*/false);
  if (!fd.ok())
    return absl::FailedPreconditionError(Cat("--decision-log ", MessageOf(fd.status())));
  struct stat info {};
  audit_bytes_ = ::fstat(*fd, &info) == 0 ? static_cast<uint64_t>(info.st_size) : 0;
  audit_fd_ = *fd;
  return absl::OkStatus();
}

void DecisionLog::Rotate() {
  WritePending();
  if (audit_fd_ >= 0) ::close(audit_fd_);
  audit_fd_ = -1;
  const std::string& path = options_.audit_path;
  // The file is begun again only once its lines are elsewhere (or none are kept): a
  // rename that fails (a directory accelpackd may not write, PATH.1 a directory)
  // leaves it growing, with a warning at each rotation, rather than emptied.
  // A shift that fails stops the rotation there: going on would rename a file over
  // the one that could not move.
  bool moved = options_.audit_files < 1;
  std::error_code error;
  for (int i = options_.audit_files - 1; i >= 1 && !error; --i) {
    const std::string from = Cat(path, ".", i);
    if (std::filesystem::exists(from, error))
      std::filesystem::rename(from, Cat(path, ".", i + 1), error);
  }
  if (options_.audit_files >= 1 && !error) {
    std::filesystem::rename(path, Cat(path, ".1"), error);
    moved = !error;
  }
  if (error) {
    spdlog::warn("decision log {}: rotation: {}; the file goes on growing", path, error.message());
  }
  Reopen(/*truncate=*/moved);
  audit_bytes_ = 0;
}

void DecisionLog::Reopen(bool truncate) {
  last_reopen_ = std::chrono::steady_clock::now();
  if (auto fd = OpenAuditFile(options_.audit_path, truncate); fd.ok()) {
    audit_fd_ = *fd;
  } else {
    spdlog::error("decision log: cannot reopen (tried again every {} s): {}", kReopenEvery.count(),
                  MessageOf(fd.status()));
  }
}

void DecisionLog::WritePending() {
  std::string_view rest = audit_pending_;
  while (audit_fd_ >= 0 && !rest.empty()) {
    const ssize_t written = ::write(audit_fd_, rest.data(), rest.size());
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) {
      spdlog::error("decision log {}: {}", options_.audit_path, std::strerror(errno));
      break;
    }
    rest.remove_prefix(static_cast<size_t>(written));
  }
  audit_pending_.clear();
}

void DecisionLog::Append(DecisionEntry entry) {
  if (audit_fd_ < 0 && !options_.audit_path.empty() &&
      std::chrono::steady_clock::now() - last_reopen_ >= kReopenEvery) {
    Reopen(/*truncate=*/false);
  }
  if (audit_fd_ >= 0) {
    const std::string line = nlohmann::json{{"time", entry.cycle_unix},
                                            {"cycle", entry.cycle},
                                            {"job", entry.job_id},
                                            {"what", entry.what},
                                            {"detail", entry.detail}}
                                 // Names are bytes from Slurm (Latin-1 is legal there):
                                 // invalid UTF-8 becomes U+FFFD, it does not throw.
                                 .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                             "\n";
    if (audit_bytes_ + line.size() > options_.audit_max_bytes && audit_bytes_ > 0) Rotate();
    audit_pending_ += line;
    audit_bytes_ += line.size();
  }
  history_.push_back(std::move(entry));
  while (history_.size() > options_.history) history_.pop_front();
}

void DecisionLog::Record(uint64_t cycle, const model::Snapshot& snapshot,
                         const model::Catalog& catalog, const engine::Plan& plan) {
  std::lock_guard lock(mu_);
  auto entry = [&](uint32_t job, std::string what, std::string detail) {
    Append({snapshot.now, cycle, job, std::move(what), std::move(detail)});
  };
  std::unordered_map<uint32_t, std::pair<int64_t, std::string>> reservations;
  for (const engine::Reservation& r : plan.reservations) {
    reservations[r.job_id] = {r.planned_start, NodesOf(r.nodes, snapshot)};
  }
  for (const engine::JobStart& start : plan.starts) {
    std::vector<std::string> placed;
    for (const auto& p : start.placements) {
      std::string text = snapshot.nodes[static_cast<size_t>(p.node)].name;
      if (!p.devices.empty()) text += Cat(" devices ", Join(p.devices, ","));
      if (!p.device_shards.empty()) {
        text += Cat(" shards ", Join(p.device_shards, ","));
      } else if (p.fraction_milli > 0) {
        text += Cat(" (", p.fraction_milli, "/1000)");
      }
      placed.push_back(std::move(text));
    }
    std::string detail = Join(placed, "; ");
    if (start.kind >= 0) detail += Cat(" [", catalog.kind(start.kind).name, "]");
    if (auto it = reservations_.find(start.job_id); it != reservations_.end()) {
      detail += Cat(" (reservation on ", it->second.second, " kept)");
      reservations_.erase(it);
    }
    entry(start.job_id, "start", std::move(detail));
    reasons_.erase(start.job_id);
  }
  for (const auto& [job, planned] : reservations) {
    auto it = reservations_.find(job);
    if (it == reservations_.end() || it->second != planned) {
      entry(job, "reserve", Cat(planned.second, " by ", engine::UtcTime(planned.first)));
    }
  }
  for (const auto& [job, planned] : reservations_) {
    if (!reservations.contains(job)) entry(job, "unreserve", planned.second);
  }
  reservations_ = std::move(reservations);
  std::unordered_map<uint32_t, std::string> reasons;
  reasons.reserve(plan.pending.size());
  for (const engine::PendingReason& reason : plan.pending) {
    auto it = reasons_.find(reason.job_id);
    if (it == reasons_.end() || it->second != reason.message) {
      entry(reason.job_id, "reason", reason.message);
    }
    reasons.emplace(reason.job_id, reason.message);
  }
  reasons_ = std::move(reasons);
  WritePending();
}

std::vector<DecisionEntry> DecisionLog::Query(int64_t since_unix, uint32_t job_id) const {
  std::lock_guard lock(mu_);
  std::vector<DecisionEntry> out;
  for (const DecisionEntry& entry : history_) {
    if (entry.cycle_unix < since_unix) continue;
    if (job_id != 0 && entry.job_id != job_id) continue;
    out.push_back(entry);
  }
  return out;
}

}  // namespace accelpack::service
