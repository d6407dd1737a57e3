#include "service/snapshot_bases.h"

#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "accelpack/v1/snapshot_records.h"
#include "accelpack/v1/wire_text.h"
#include "common/strings.h"

namespace accelpack::service {

namespace {

std::string KeyText(const std::string& name) {
  return Cat("\"", wire::Printable(name, wire::kMaxLabelBytes), "\"");
}
std::string KeyText(uint32_t job_id) { return Cat("job ", job_id); }

using wire::NodeRecords;
using wire::PendingRecords;
using wire::ReservationRecords;
using wire::RunningRecords;

auto& IndexOf(SnapshotBase& b, NodeRecords) { return b.nodes; }
auto& IndexOf(SnapshotBase& b, PendingRecords) { return b.pending; }
auto& IndexOf(SnapshotBase& b, RunningRecords) { return b.running; }
auto& IndexOf(SnapshotBase& b, ReservationRecords) { return b.reservations; }

template <typename R>
absl::Status IndexRecords(SnapshotBase& base) {
  auto& index = IndexOf(base, R{});
  const auto& records = R::Of(std::as_const(base.snapshot));
  index.clear();
  index.reserve(static_cast<size_t>(records.size()));
  for (int i = 0; i < records.size(); ++i) {
    if (!index.emplace(R::KeyOf(records[i]), i).second) {
      return absl::InvalidArgumentError(
          Cat(R::kName, "[", i, "]: ", KeyText(R::KeyOf(records[i])), " given twice"));
    }
  }
  return absl::OkStatus();
}

template <typename R>
absl::Status ApplyRecords(const v1::ClusterSnapshot& changes, const v1::SnapshotRemovals& removed,
                          SnapshotBase& base) {
  auto& index = IndexOf(base, R{});
  auto* records = R::Of(base.snapshot);
  const auto& changed = R::Of(changes);
  using Key = typename R::Key;
  std::unordered_set<Key> seen;
  seen.reserve(static_cast<size_t>(changed.size()));
  for (int i = 0; i < changed.size(); ++i) {
    if (!seen.insert(R::KeyOf(changed[i])).second) {
      return absl::InvalidArgumentError(Cat("delta: snapshot.", R::kName, "[", i,
                                            "]: ", KeyText(R::KeyOf(changed[i])), " given twice"));
    }
  }
  std::vector<bool> drop;
  for (const auto& key : R::Removed(removed)) {
    if (seen.count(key) != 0) {
      return absl::InvalidArgumentError(
          Cat("delta: removed.", R::kName, ": ", KeyText(key), " is also changed"));
    }
    auto it = index.find(key);
    if (it == index.end()) {
      return absl::FailedPreconditionError(
          Cat("delta removes ", R::kName, " ", KeyText(key), ", which the base does not hold"));
    }
    drop.resize(static_cast<size_t>(records->size()));
    drop[static_cast<size_t>(it->second)] = true;
  }
  for (const auto& record : changed) {
    auto [it, added] = index.emplace(R::KeyOf(record), records->size());
    if (added) {
      *records->Add() = record;
    } else {
      *records->Mutable(it->second) = record;
    }
  }
  if (drop.empty()) return absl::OkStatus();
  drop.resize(static_cast<size_t>(records->size()));
  int kept = 0;
  for (int i = 0; i < records->size(); ++i) {
    if (drop[static_cast<size_t>(i)]) continue;
    if (kept != i) records->SwapElements(kept, i);
    ++kept;
  }
  records->DeleteSubrange(kept, records->size() - kept);
  return IndexRecords<R>(base);
}

}  // namespace

ReasonsByJob ReasonsOf(const v1::Plan& plan) {
  ReasonsByJob reasons;
  reasons.reserve(static_cast<size_t>(plan.pending_size()));
  for (const v1::PendingReason& reason : plan.pending())
    reasons[reason.job_id()] = ReasonEntry{static_cast<int>(reason.code()), reason.message()};
  return reasons;
}

void MakeReasonDelta(const ReasonsByJob& base, const ReasonsByJob& now, uint64_t base_sequence,
                     v1::ScheduleResponse& response) {
  auto* pending = response.mutable_plan()->mutable_pending();
  int kept = 0;
  for (int i = 0; i < pending->size(); ++i) {
    const v1::PendingReason& reason = pending->Get(i);
    auto before = base.find(reason.job_id());
    if (before != base.end() && before->second.code == static_cast<int>(reason.code()) &&
        before->second.message == reason.message())
      continue;
    if (kept != i) pending->SwapElements(kept, i);
    ++kept;
  }
  pending->DeleteSubrange(kept, pending->size() - kept);
  for (const auto& [job_id, reason] : base) {
    if (now.count(job_id) == 0) response.add_reasons_cleared(job_id);
  }
  response.set_reasons_base_sequence(base_sequence);
}

absl::Status IndexBase(SnapshotBase& base) {
  absl::Status status;
  wire::ForEachRecordKind([&](auto kind) {
    status = IndexRecords<decltype(kind)>(base);
    return status.ok();
  });
  return status;
}

absl::Status ApplyDelta(const v1::ClusterSnapshot& changes, const v1::SnapshotRemovals& removed,
                        SnapshotBase& base) {
  absl::Status status;
  wire::ForEachRecordKind([&](auto kind) {
    status = ApplyRecords<decltype(kind)>(changes, removed, base);
    return status.ok();
  });
  if (status.ok()) base.snapshot.set_now_unix(changes.now_unix());
  return status;
}

absl::Status SnapshotBases::Resolve(const v1::ScheduleRequest& request, Resolved& out) {
  out = Resolved{};
  if (request.base_sequence() == 0) return absl::OkStatus();
  const v1::SnapshotIdentity& id = request.identity();
  if (!request.has_identity() || id.sequence() <= request.base_sequence()) {
    return absl::InvalidArgumentError(Cat("delta: identity.sequence ", id.sequence(),
                                          " must be above base_sequence ",
                                          request.base_sequence()));
  }
  out.kind = Kind::kResync;
  {
    std::lock_guard lock(mu_);
    auto it = lru_.begin();
    while (it != lru_.end() && it->controller != id.controller()) ++it;
    if (it == lru_.end()) {
      out.reason = "no base for this controller (the core restarted or dropped it)";
      return absl::OkStatus();
    }
    out.base = std::move(*it);
    lru_.erase(it);
  }
  if (out.base.epoch != id.epoch()) {
    out.reason = Cat("the base is of epoch ", out.base.epoch, ", the delta of epoch ", id.epoch(),
                     " (the controller restarted)");
  } else if (out.base.sequence != request.base_sequence()) {
    out.reason = Cat("the base is snapshot ", out.base.sequence, ", the delta is on ",
                     request.base_sequence());
  }
  if (!out.reason.empty()) {
    out.base = SnapshotBase{};
    return absl::OkStatus();
  }
  absl::Status applied = ApplyDelta(request.snapshot(), request.removed(), out.base);
  if (absl::IsFailedPrecondition(applied)) {
    out.reason = std::string(applied.message());
    out.base = SnapshotBase{};
    return absl::OkStatus();
  }
  if (!applied.ok()) return applied;
  out.base.sequence = id.sequence();
  out.kind = Kind::kDelta;
  return absl::OkStatus();
}

void SnapshotBases::Keep(SnapshotBase base) {
  std::lock_guard lock(mu_);
  for (auto it = lru_.begin(); it != lru_.end(); ++it) {
    if (it->controller == base.controller) {
      lru_.erase(it);
      break;
    }
  }
  lru_.push_front(std::move(base));
  while (lru_.size() > max_controllers_) lru_.pop_back();
}

void SnapshotBases::KeepReasons(const std::string& controller, uint64_t sequence,
                                ReasonsByJob reasons) {
  std::lock_guard lock(mu_);
  for (SnapshotBase& base : lru_) {
    if (base.controller != controller) continue;
    if (base.sequence == sequence) {
      base.reasons = std::move(reasons);
      base.has_reasons = true;
    }
    return;
  }
}

void SnapshotBases::Forget(const std::string& controller) {
  std::lock_guard lock(mu_);
  for (auto it = lru_.begin(); it != lru_.end(); ++it) {
    if (it->controller == controller) {
      lru_.erase(it);
      return;
    }
  }
}

size_t SnapshotBases::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace accelpack::service
