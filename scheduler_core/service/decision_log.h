// SPDX-License-Identifier: GPL-2.0-or-later
// What the core decided, for people: a bounded in-memory history and an
// append-only JSON-lines audit file that rotates. Output only: nothing here is
// ever read back into planning.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "engine/plan.h"
#include "model/catalog.h"
#include "model/cluster.h"

namespace accelpack::service {

struct DecisionEntry {
  int64_t cycle_unix = 0;
  uint64_t cycle = 0;
  uint32_t job_id = 0;
  std::string what;  // start, reason, reserve, unreserve
  std::string detail;
};

struct DecisionLogOptions {
  size_t history = 10000;               // entries kept in memory
  std::string audit_path;               // empty: no file
  uint64_t audit_max_bytes = 64 << 20;  // rotate beyond this
  int audit_files = 4;                  // rotated files kept: path.1 .. path.N
};

class DecisionLog {
 public:
  explicit DecisionLog(DecisionLogOptions options);
  ~DecisionLog();
  DecisionLog(const DecisionLog&) = delete;
  DecisionLog& operator=(const DecisionLog&) = delete;
  // Opens the audit file (append; only a regular file, never waited on); fails
  // naming the path.
  absl::Status Open();

  // Compares one cycle's plan with the previous one and records what changed:
  // every start, each job whose reason line changed, reservations made, moved
  // or given up. Not called for rejected snapshots.
  void Record(uint64_t cycle, const model::Snapshot& snapshot, const model::Catalog& catalog,
              const engine::Plan& plan);

  // Oldest first; since_unix 0 and job_id 0 mean all.
  std::vector<DecisionEntry> Query(int64_t since_unix, uint32_t job_id) const;
  size_t capacity() const { return options_.history; }
  const std::string& audit_path() const { return options_.audit_path; }

 private:
  void Append(DecisionEntry entry);  // mu_ held
  void Rotate();                     // mu_ held
  // Opens the audit file again (after a rotation, or a failed open some time ago).
  void Reopen(bool truncate);  // mu_ held
  void WritePending();         // mu_ held

  DecisionLogOptions options_;
  mutable std::mutex mu_;
  std::deque<DecisionEntry> history_;
  int audit_fd_ = -1;          // the checked audit file; -1: none
  std::string audit_pending_;  // lines of this cycle, written at its end
  uint64_t audit_bytes_ = 0;
  static constexpr std::chrono::seconds kReopenEvery{10};
  std::chrono::steady_clock::time_point last_reopen_{};
  // Last cycle's line per pending job and planned start per reserved job.
  std::unordered_map<uint32_t, std::string> reasons_;
  std::unordered_map<uint32_t, std::pair<int64_t, std::string>> reservations_;
};

}  // namespace accelpack::service
