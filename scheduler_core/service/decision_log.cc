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

#include "common/strings.h"
#include "engine/explain.h"

namespace accelpack::service {

namespace {

std::string NodesOf(const std::vector<int>& nodes, const model::Snapshot& snapshot) {
  std::vector<std::string> names;
  for (int n : nodes) names.push_back(snapshot.nodes[static_cast<size_t>(n)].name);
  return Join(names, ",");
}

}  // namespace

DecisionLog::DecisionLog(DecisionLogOptions options) : options_(std::move(options)) {}

absl::Status DecisionLog::Open() {
  if (options_.audit_path.empty()) return absl::OkStatus();
  std::lock_guard lock(mu_);
  std::error_code error;
  audit_bytes_ = std::filesystem::exists(options_.audit_path, error)
                     ? std::filesystem::file_size(options_.audit_path, error)
                     : 0;
  // A FIFO (or device) at the path would block the open, at start with the
  // signals blocked, or take the log somewhere unbounded: only a regular file.
  const int fd = ::open(options_.audit_path.c_str(),
                        O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
  if (fd < 0) {
    // ENXIO: a FIFO nobody reads (the non-blocking open refuses it rather than wait).
    return absl::FailedPreconditionError(
        Cat("--decision-log ", options_.audit_path, ": ",
            errno == ENXIO ? "not a regular file (a FIFO)" : std::strerror(errno)));
  }
  struct stat info {};
  const bool regular = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
  ::close(fd);
  if (!regular) {
    return absl::FailedPreconditionError(
        Cat("--decision-log ", options_.audit_path, ": not a regular file"));
  }
  audit_.open(options_.audit_path, std::ios::app);
  if (!audit_) {
    return absl::FailedPreconditionError(
        Cat("--decision-log ", options_.audit_path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

void DecisionLog::Rotate() {
  audit_.close();
  std::error_code error;
  const std::string& path = options_.audit_path;
  for (int i = options_.audit_files - 1; i >= 1; --i) {
    const std::string from = Cat(path, ".", i);
    if (std::filesystem::exists(from, error))
      std::filesystem::rename(from, Cat(path, ".", i + 1), error);
  }
  if (options_.audit_files >= 1) std::filesystem::rename(path, Cat(path, ".1"), error);
  if (error) spdlog::warn("decision log {}: rotation: {}", path, error.message());
  audit_.open(path, std::ios::trunc);
  if (!audit_)
    spdlog::error("decision log {}: cannot reopen after rotation: {}", path, std::strerror(errno));
  audit_bytes_ = 0;
}

void DecisionLog::Append(DecisionEntry entry) {
  if (audit_.is_open()) {
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
    audit_ << line;
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
  if (audit_.is_open()) audit_.flush();
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
