// delta.cc: fingerprints per record and the delta against the acknowledged base.
// SPDX-License-Identifier: GPL-2.0-or-later
#include "delta.h"

#include <functional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "accelpack/v1/snapshot_records.h"

namespace accelpack::bridge {
namespace {

using wire::NodeRecords;
using wire::PendingRecords;
using wire::ReservationRecords;
using wire::RunningRecords;

auto& PrintsOf(Fingerprints& f, NodeRecords) { return f.nodes; }
auto& PrintsOf(Fingerprints& f, PendingRecords) { return f.pending; }
auto& PrintsOf(Fingerprints& f, RunningRecords) { return f.running; }
auto& PrintsOf(Fingerprints& f, ReservationRecords) { return f.reservations; }

// One kind of record: fingerprints of `whole` into `prints` (updated in place,
// marked `generation`); with a base, the records that differ into `changes` and
// the keys that went into `removed`. RET false when a key comes twice.
template <typename R>
bool DiffRecords(const v1::ClusterSnapshot& whole, Fingerprints& all, uint64_t generation,
                 bool with_base, v1::ClusterSnapshot* changes, v1::SnapshotRemovals* removed,
                 std::string& buffer, DeltaSender::Cycle& cycle) {
  auto& prints = PrintsOf(all, R{});
  const auto& records = R::Of(whole);
  prints.reserve(static_cast<size_t>(records.size()));
  for (const auto& record : records) {
    buffer.clear();
    record.AppendToString(&buffer);
    const uint64_t hash = std::hash<std::string_view>{}(buffer);
    auto [it, added] = prints.try_emplace(R::KeyOf(record));
    Fingerprint& print = it->second;
    if (!added && print.seen == generation) return false;
    const bool same = !added && print.hash == hash;
    print = {hash, generation};
    if (!with_base || same) continue;
    *R::Of(*changes)->Add() = record;
    ++cycle.changed;
  }
  for (auto it = prints.begin(); it != prints.end();) {
    if (it->second.seen == generation) {
      ++it;
      continue;
    }
    if (with_base) {
      R::Removed(*removed)->Add(typename R::Key(it->first));
      ++cycle.removed;
    }
    prints.erase(it++);
  }
  return true;
}

}  // namespace

DeltaSender::Cycle DeltaSender::Prepare(const v1::ClusterSnapshot& whole,
                                        v1::SnapshotIdentity* identity,
                                        v1::ScheduleRequest* delta) {
  Cycle cycle;
  cycle.sequence = next_sequence_++;
  identity->set_controller(controller_);
  identity->set_epoch(epoch_);
  identity->set_sequence(cycle.sequence);
  const bool with_base = has_base();
  v1::ClusterSnapshot* changes = delta->mutable_snapshot();
  v1::SnapshotRemovals* removed = delta->mutable_removed();
  cycle.distinct = wire::ForEachRecordKind([&](auto kind) {
    return DiffRecords<decltype(kind)>(whole, prints_, cycle.sequence, with_base, changes, removed,
                                       buffer_, cycle);
  });
  if (!with_base || !cycle.distinct) return cycle;
  changes->set_now_unix(whole.now_unix());
  *delta->mutable_identity() = *identity;
  delta->set_base_sequence(base_sequence_);
  delta->set_accepts_reason_deltas(true);
  cycle.has_delta = true;
  return cycle;
}

void DeltaSender::Acknowledged(const Cycle& cycle) {
  if (!cycle.distinct) {
    Reset();
    return;
  }
  if (base_sequence_ != cycle.sequence) has_reasons_ = false;  // until KeepReasons
  base_sequence_ = cycle.sequence;
}

absl::Status DeltaSender::MergeReasons(v1::ScheduleResponse& response) {
  const uint64_t on = response.reasons_base_sequence();
  if (on == 0) return absl::OkStatus();
  if (!has_reasons_ || on != base_sequence_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the answer's reasons are a delta on snapshot ", on,
                     has_reasons_ ? absl::StrCat(", this side holds those of ", base_sequence_)
                                  : std::string(", this side holds none")));
  }
  // In place: from here reasons_ are this answer's, which the caller either
  // keeps (KeepReasons after Acknowledged) or drops (Reset).
  has_reasons_ = false;
  merged_in_place_ = true;
  for (uint32_t job_id : response.reasons_cleared()) reasons_.erase(job_id);
  auto* pending = response.mutable_plan()->mutable_pending();
  for (v1::PendingReason& reason : *pending) reasons_[reason.job_id()] = std::move(reason);
  pending->Clear();
  pending->Reserve(static_cast<int>(reasons_.size()));
  for (const auto& [job_id, reason] : reasons_) *pending->Add() = reason;
  response.set_reasons_base_sequence(0);
  response.clear_reasons_cleared();
  return absl::OkStatus();
}

void DeltaSender::KeepReasons(const v1::Plan& plan) {
  const bool merged = std::exchange(merged_in_place_, false);
  if (!has_base()) return;
  if (!merged) {
    reasons_.clear();
    reasons_.reserve(static_cast<size_t>(plan.pending_size()));
    for (const v1::PendingReason& reason : plan.pending()) reasons_[reason.job_id()] = reason;
  }
  has_reasons_ = true;
}

void DeltaSender::Reset() {
  prints_ = Fingerprints{};
  base_sequence_ = 0;
  has_reasons_ = false;
  merged_in_place_ = false;
  reasons_.clear();
}

}  // namespace accelpack::bridge
