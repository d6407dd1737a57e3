#include "service/snapshot_bases.h"

#include <algorithm>
#include <functional>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "accelpack/v1/snapshot_records.h"
#include "accelpack/v1/wire_text.h"
#include "common/field_path.h"
#include "common/strings.h"
#include "service/proto_convert.h"

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

auto& RecordsOf(model::Snapshot& s, NodeRecords) { return s.nodes; }
auto& RecordsOf(model::Snapshot& s, PendingRecords) { return s.pending; }
auto& RecordsOf(model::Snapshot& s, RunningRecords) { return s.running; }
auto& RecordsOf(model::Snapshot& s, ReservationRecords) { return s.reservations; }

auto& ChangedOf(SnapshotBase::Changed& c, NodeRecords) { return c.nodes; }
auto& ChangedOf(SnapshotBase::Changed& c, PendingRecords) { return c.pending; }
auto& ChangedOf(SnapshotBase::Changed& c, RunningRecords) { return c.running; }
auto& ChangedOf(SnapshotBase::Changed& c, ReservationRecords) { return c.reservations; }

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
  std::vector<int> drop;  // positions
  drop.reserve(static_cast<size_t>(R::Removed(removed).size()));
  // A key removed twice would drop one position twice: the second removal would
  // reach past the end or take the record that moved into the place.
  std::unordered_set<Key> removing;
  removing.reserve(static_cast<size_t>(R::Removed(removed).size()));
  for (const auto& key : R::Removed(removed)) {
    if (seen.count(key) != 0) {
      return absl::InvalidArgumentError(
          Cat("delta: removed.", R::kName, ": ", KeyText(key), " is also changed"));
    }
    if (!removing.insert(key).second) {
      return absl::InvalidArgumentError(
          Cat("delta: removed.", R::kName, ": ", KeyText(key), " given twice"));
    }
    auto it = index.find(key);
    if (it == index.end()) {
      return absl::FailedPreconditionError(
          Cat("delta removes ", R::kName, " ", KeyText(key), ", which the base does not hold"));
    }
    drop.push_back(it->second);
  }
  // The model follows record for record: same positions, converted here.
  auto* mirror = base.model != nullptr ? &RecordsOf(*base.model, R{}) : nullptr;
  for (const auto& record : changed) {
    auto [it, added] = index.emplace(R::KeyOf(record), records->size());
    if (added) {
      *records->Add() = record;
      if (mirror != nullptr) mirror->emplace_back();
    } else {
      *records->Mutable(it->second) = record;
    }
    if (mirror == nullptr) continue;
    auto& converted = (*mirror)[static_cast<size_t>(it->second)];
    converted = {};
    if (absl::Status status = RecordFromProto(record, FieldPath(R::kName, it->second), &converted);
        !status.ok()) {
      return status;
    }
    if constexpr (std::is_same_v<R, NodeRecords>) base.changed.node_names |= added;
  }
  // A removed record's place goes to the last record, so a removal costs what it
  // removes, not the snapshot's size. From the back: the last record is never
  // one still to be removed.
  std::sort(drop.begin(), drop.end(), std::greater<>());
  for (int at : drop) {
    index.erase(R::KeyOf(records->Get(at)));
    const int last = records->size() - 1;
    if (at != last) {
      records->SwapElements(at, last);
      index[R::KeyOf(records->Get(at))] = at;
      if (mirror != nullptr) {
        (*mirror)[static_cast<size_t>(at)] = std::move((*mirror)[static_cast<size_t>(last)]);
      }
    }
    records->RemoveLast();
    if (mirror != nullptr) mirror->pop_back();
  }
  if constexpr (std::is_same_v<R, NodeRecords>) base.changed.node_names |= !drop.empty();
  // Positions once removals have closed the gaps (a changed record is never removed).
  auto& positions = ChangedOf(base.changed, R{});
  positions.reserve(static_cast<size_t>(changed.size()));
  for (const auto& record : changed) positions.push_back(index.at(R::KeyOf(record)));
  return absl::OkStatus();
}

}  // namespace

void AnswerReasons(const engine::Plan& plan, uint64_t base_sequence, ReasonsByJob& reasons,
                   v1::ScheduleResponse& response) {
  const bool delta = base_sequence != 0;
  if (!delta) reasons.clear();
  reasons.reserve(plan.pending.size());
  auto* out = response.mutable_plan()->mutable_pending();
  for (const engine::PendingReason& reason : plan.pending) {
    const int code = static_cast<int>(PendingCodeToProto(reason.code));
    auto [it, added] = reasons.try_emplace(reason.job_id);
    ReasonEntry& entry = it->second;
    const bool same = delta && !added && entry.code == code && entry.message == reason.message;
    entry.answered = true;
    if (same) continue;
    entry.code = code;
    entry.message = reason.message;
    v1::PendingReason* sent = out->Add();
    sent->set_job_id(reason.job_id);
    sent->set_code(static_cast<v1::PendingReasonCode>(code));
    sent->set_message(ReasonText(reason));
  }
  for (auto it = reasons.begin(); it != reasons.end();) {
    if (std::exchange(it->second.answered, false)) {
      ++it;
      continue;
    }
    response.add_reasons_cleared(it->first);
    reasons.erase(it++);
  }
  if (delta) response.set_reasons_base_sequence(base_sequence);
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
  base.changed = {};
  absl::Status status;
  wire::ForEachRecordKind([&](auto kind) {
    status = ApplyRecords<decltype(kind)>(changes, removed, base);
    return status.ok();
  });
  if (status.ok()) {
    base.snapshot.set_now_unix(changes.now_unix());
    if (base.model != nullptr) base.model->now = changes.now_unix();
  }
  return status;
}

absl::StatusOr<std::shared_ptr<model::Snapshot>> ModelOf(const v1::ClusterSnapshot& wire,
                                                         const policy::BuiltPolicy& policy,
                                                         const TopologyBook* topology) {
  absl::StatusOr<model::Snapshot> converted = SnapshotFromProto(wire);
  if (!converted.ok()) return converted.status();
  if (topology != nullptr) topology->Annotate(*converted);
  if (absl::Status valid = model::ValidateSnapshot(*converted, policy.catalog); !valid.ok())
    return valid;
  return std::make_shared<model::Snapshot>(std::move(*converted));
}

absl::Status PrepareModel(SnapshotBase& base,
                          const std::shared_ptr<const policy::BuiltPolicy>& policy,
                          const TopologyBook* topology) {
  if (base.model == nullptr || base.checked_with != policy) {
    base.model.reset();
    absl::StatusOr<std::shared_ptr<model::Snapshot>> whole =
        ModelOf(base.snapshot, *policy, topology);
    if (!whole.ok()) return whole.status();
    base.model = *std::move(whole);
    base.checked_with = policy;
    return absl::OkStatus();
  }
  model::Snapshot& snapshot = *base.model;
  const SnapshotBase::Changed& changed = base.changed;
  absl::Status status = model::ValidateSnapshotTime(snapshot.now);
  for (int n : changed.nodes) {
    if (!status.ok()) break;
    model::Node& node = snapshot.nodes[static_cast<size_t>(n)];
    if (topology != nullptr) topology->AnnotateNode(node);
    status = model::ValidateNodeRecord(node, FieldPath("nodes", n), policy->catalog);
  }
  if (status.ok() && changed.node_names) {
    // References anywhere may name a node that went: check every record again
    // (a no-op on the records that passed before, besides the checking).
    status = model::ValidateSnapshot(snapshot, policy->catalog);
  } else if (status.ok()) {
    const auto is_node = [&base](std::string_view name) {
      return base.nodes.find(std::string(name)) != base.nodes.end();
    };
    // Job ids are shared by pending and running jobs: a changed one may not be the other.
    for (int j : changed.pending) {
      if (!status.ok()) break;
      const model::PendingJob& job = snapshot.pending[static_cast<size_t>(j)];
      const FieldPath field("pending_jobs", j);
      status = model::ValidatePendingRecord(job, field, snapshot.nodes.size(), is_node);
      if (status.ok() && base.running.count(job.id) != 0) {
        status = absl::InvalidArgumentError(
            Cat(field.Child("job_id").ToString(), ": duplicate job id ", job.id));
      }
    }
    for (int j : changed.running) {
      if (!status.ok()) break;
      const model::RunningJob& job = snapshot.running[static_cast<size_t>(j)];
      const FieldPath field("running_jobs", j);
      status = model::ValidateRunningRecord(job, field, is_node);
      if (status.ok() && base.pending.count(job.id) != 0) {
        status = absl::InvalidArgumentError(
            Cat(field.Child("job_id").ToString(), ": duplicate job id ", job.id));
      }
    }
    if (status.ok()) status = model::ValidateReservationCount(snapshot.reservations.size());
    for (int r : changed.reservations) {
      if (!status.ok()) break;
      status = model::ValidateReservationRecord(snapshot.reservations[static_cast<size_t>(r)],
                                                FieldPath("reservations", r), is_node);
    }
  }
  if (!status.ok()) base.model.reset();
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
  // Readers of an earlier cycle may still hold the model: they keep theirs.
  if (out.base.model != nullptr && out.base.model.use_count() > 1) {
    out.base.model = std::make_shared<model::Snapshot>(*out.base.model);
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
