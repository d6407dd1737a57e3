// The record types of a ClusterSnapshot as delta snapshots see them: where each
// kind lives, its key, and where its removals go. Shared by both ends of the
// wire (the plugin's bridge makes deltas, the core applies them), and generic:
// a field added to a record travels in deltas with no change here; a new kind
// of record is one more entry and one more SnapshotRemovals field.
// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "accelpack/v1/placement.pb.h"

namespace accelpack::wire {

namespace pb = ::accelpack::v1;

struct NodeRecords {
  using Key = std::string;
  static auto* Of(pb::ClusterSnapshot& s) { return s.mutable_nodes(); }
  static const auto& Of(const pb::ClusterSnapshot& s) { return s.nodes(); }
  static auto* Removed(pb::SnapshotRemovals& r) { return r.mutable_nodes(); }
  static const auto& Removed(const pb::SnapshotRemovals& r) { return r.nodes(); }
  static const std::string& KeyOf(const pb::Node& n) { return n.name(); }
  static constexpr std::string_view kName = "nodes";
};

struct PendingRecords {
  using Key = uint32_t;
  static auto* Of(pb::ClusterSnapshot& s) { return s.mutable_pending_jobs(); }
  static const auto& Of(const pb::ClusterSnapshot& s) { return s.pending_jobs(); }
  static auto* Removed(pb::SnapshotRemovals& r) { return r.mutable_pending_jobs(); }
  static const auto& Removed(const pb::SnapshotRemovals& r) { return r.pending_jobs(); }
  static uint32_t KeyOf(const pb::PendingJob& j) { return j.job_id(); }
  static constexpr std::string_view kName = "pending_jobs";
};

struct RunningRecords {
  using Key = uint32_t;
  static auto* Of(pb::ClusterSnapshot& s) { return s.mutable_running_jobs(); }
  static const auto& Of(const pb::ClusterSnapshot& s) { return s.running_jobs(); }
  static auto* Removed(pb::SnapshotRemovals& r) { return r.mutable_running_jobs(); }
  static const auto& Removed(const pb::SnapshotRemovals& r) { return r.running_jobs(); }
  static uint32_t KeyOf(const pb::RunningJob& j) { return j.job_id(); }
  static constexpr std::string_view kName = "running_jobs";
};

struct ReservationRecords {
  using Key = std::string;
  static auto* Of(pb::ClusterSnapshot& s) { return s.mutable_reservations(); }
  static const auto& Of(const pb::ClusterSnapshot& s) { return s.reservations(); }
  static auto* Removed(pb::SnapshotRemovals& r) { return r.mutable_reservations(); }
  static const auto& Removed(const pb::SnapshotRemovals& r) { return r.reservations(); }
  static const std::string& KeyOf(const pb::AdvancedReservation& r) { return r.name(); }
  static constexpr std::string_view kName = "reservations";
};

// Calls f(NodeRecords{}), f(PendingRecords{}), ... until one returns false.
template <typename F>
bool ForEachRecordKind(F&& f) {
  return f(NodeRecords{}) && f(PendingRecords{}) && f(RunningRecords{}) && f(ReservationRecords{});
}

}  // namespace accelpack::wire
