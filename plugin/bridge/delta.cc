// delta.cc: fingerprints per C record and the delta against the acknowledged base.
// SPDX-License-Identifier: GPL-2.0-or-later
#include "delta.h"

#include <cstring>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "accelpack/v1/snapshot_records.h"
#include "convert.h"
#include "record_fields.h"

namespace accelpack::bridge {
namespace {

// Makes a fingerprint from the fields record_fields.h lists, streamed through one
// 64-bit state: numbers as one word, strings and lists with their length first.
// Each step is a bijection of the state for a given word, so two records that
// differ in one field always differ in their fingerprint.
class FieldHasher {
 public:
  template <typename C, typename T, typename X>
  void Scalar(void (C::*)(T), X x) {
    Mix(static_cast<uint64_t>(x));
  }
  template <typename C>
  void Text(std::string* (C::*)(), const char* s) {
    MixText(s);
  }
  template <typename C, typename R>
  void Texts(R* (C::*)(), const char* const* items, uint32_t count) {
    if (items == nullptr) count = 0;
    Mix(count);
    for (uint32_t i = 0; i < count; ++i) MixText(items[i]);
  }
  template <typename C, typename R>
  void Split(R* (C::*)(), const char* s, char) {
    MixText(s);
  }
  template <typename Body>
  void Each(uint32_t count, Body&& body) {
    Mix(count);
    for (uint32_t i = 0; i < count; ++i) body(i);
  }
  template <typename C, typename Sub, typename Body>
  void Child(Sub* (C::*)(), Body&& body) {
    body(*this);
  }
  uint64_t Hash() const { return state_; }

 private:
  void Mix(uint64_t word) {
    state_ = (state_ ^ word) * 0x9e3779b97f4a7c15ULL;  // odd: a bijection
    state_ ^= state_ >> 29;                            // a bijection too
  }
  void MixText(const char* s) {
    const size_t length = s != nullptr ? std::strlen(s) : 0;
    Mix(length);
    size_t at = 0;
    for (; at + 8 <= length; at += 8) {
      uint64_t word;
      std::memcpy(&word, s + at, 8);
      Mix(word);
    }
    if (at < length) {
      uint64_t word = 0;
      std::memcpy(&word, s + at, length - at);
      Mix(word);
    }
  }

  uint64_t state_ = 0x243f6a8885a308d3ULL;
};

auto& PrintsOf(Fingerprints& f, fields::CNodes) { return f.nodes; }
auto& PrintsOf(Fingerprints& f, fields::CPending) { return f.pending; }
auto& PrintsOf(Fingerprints& f, fields::CRunning) { return f.running; }
auto& PrintsOf(Fingerprints& f, fields::CReservations) { return f.reservations; }

template <typename Key, typename Wanted>
bool SameKey(const Key& key, const Wanted& wanted) {
  if constexpr (std::is_same_v<Key, std::string>) {
    return absl::string_view(key) == wanted;
  } else {
    return key == wanted;
  }
}

template <typename Key, typename Wanted>
uint32_t NewSlot(RecordPrints<Key>& prints, const Wanted& key) {
  uint32_t slot;
  if (!prints.free_slots.empty()) {
    slot = prints.free_slots.back();
    prints.free_slots.pop_back();
  } else {
    slot = static_cast<uint32_t>(prints.slots.size());
    prints.slots.emplace_back();
  }
  prints.slots[slot].key = Key(key);
  prints.slot_of.emplace(Key(key), slot);
  return slot;
}

// One kind of record: fingerprints of `snap`'s records into `prints` (updated in
// place, marked `generation`); with a base, the records that differ converted into
// `changes` and the keys that went into `removed`. RET false when a key comes twice.
template <typename K>
bool DiffRecords(const ap_snapshot_t& snap, Fingerprints& all, uint64_t generation, bool with_base,
                 v1::ClusterSnapshot* changes, v1::SnapshotRemovals* removed,
                 DeltaSender::Cycle& cycle) {
  auto& prints = PrintsOf(all, K{});
  const auto* records = K::Items(snap);
  const uint32_t count = records != nullptr ? K::Count(snap) : 0;
  std::vector<uint32_t>& next = prints.next_order;
  next.clear();
  next.reserve(count);
  size_t cursor = 0;  // where the previous cycle's list should go on
  for (uint32_t i = 0; i < count; ++i) {
    const auto& record = records[i];
    FieldHasher hasher;
    K::Visit(record, hasher);
    const uint64_t hash = hasher.Hash();
    const auto key = K::KeyOf(record);
    uint32_t slot;
    bool known = true;
    if (cursor < prints.order.size() && SameKey(prints.slots[prints.order[cursor]].key, key)) {
      slot = prints.order[cursor++];
    } else if (auto it = prints.slot_of.find(key); it != prints.slot_of.end()) {
      slot = it->second;
      // The list goes on from there (a record before it went, or it moved).
      cursor = prints.slots[slot].position + size_t{1};
    } else {
      known = false;
      slot = NewSlot(prints, key);
    }
    auto& print = prints.slots[slot];
    if (print.seen == generation) return false;
    const bool same = known && print.hash == hash;
    print.hash = hash;
    print.seen = generation;
    print.position = i;
    next.push_back(slot);
    if (!with_base || same) continue;
    fields::AddRecord<K>(record, changes);
    ++cycle.changed;
  }
  for (uint32_t slot : prints.order) {
    auto& print = prints.slots[slot];
    if (print.seen == generation) continue;
    if (with_base) {
      K::Wire::Removed(*removed)->Add(typename K::Wire::Key(print.key));
      ++cycle.removed;
    }
    prints.slot_of.erase(print.key);
    print = {};
    prints.free_slots.push_back(slot);
  }
  std::swap(prints.order, next);
  return true;
}

}  // namespace

DeltaSender::Cycle DeltaSender::Prepare(const ap_snapshot_t& snap, v1::SnapshotIdentity* identity,
                                        v1::ScheduleRequest* delta) {
  Cycle cycle;
  cycle.sequence = next_sequence_++;
  identity->set_controller(controller_);
  identity->set_epoch(epoch_);
  identity->set_sequence(cycle.sequence);
  FieldHasher rules;
  fields::VisitRules(snap, rules);
  const uint64_t rules_hash = rules.Hash();
  // Shard rules travel only in a whole snapshot: when they moved, this one is whole.
  const bool with_base = has_base() && rules_hash == rules_hash_;
  rules_hash_ = rules_hash;
  v1::ClusterSnapshot* changes = delta->mutable_snapshot();
  v1::SnapshotRemovals* removed = delta->mutable_removed();
  cycle.distinct = fields::ForEachCKind([&](auto kind) {
    return DiffRecords<decltype(kind)>(snap, prints_, cycle.sequence, with_base, changes, removed,
                                       cycle);
  });
  if (!with_base || !cycle.distinct) return cycle;
  changes->set_now_unix(snap.now);
  *delta->mutable_identity() = *identity;
  delta->set_base_sequence(base_sequence_);
  delta->set_accepts_reason_deltas(has_reasons_);
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

absl::StatusOr<std::vector<PlannedReason>> DeltaSender::TakeReasons(
    const v1::ScheduleResponse& response) {
  const v1::Plan& plan = response.plan();
  const uint64_t on = response.reasons_base_sequence();
  if (on == 0) {
    // Every reason: the index is made again when they are kept.
    reasons_indexed_ = false;
    has_reasons_ = false;
    reasons_.clear();
    return ReasonsFromProto(plan);
  }
  if (!has_reasons_ || on != base_sequence_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the answer's reasons are a delta on snapshot ", on,
                     has_reasons_ ? absl::StrCat(", this side holds those of ", base_sequence_)
                                  : std::string(", this side holds none")));
  }
  for (uint32_t job_id : response.reasons_cleared()) {
    auto gone = reason_at_.find(job_id);
    if (gone == reason_at_.end()) continue;
    const size_t at = gone->second;
    reason_at_.erase(gone);
    if (at + 1 != reasons_.size()) {
      reasons_[at] = std::move(reasons_.back());
      reason_at_[reasons_[at].job_id] = at;
    }
    reasons_.pop_back();
  }
  for (const v1::PendingReason& reason : plan.pending()) {
    auto [it, added] = reason_at_.try_emplace(reason.job_id(), reasons_.size());
    if (added) {
      reasons_.push_back(ReasonFromProto(reason));
    } else {
      reasons_[it->second] = ReasonFromProto(reason);
    }
  }
  has_reasons_ = false;  // until they come back
  reasons_indexed_ = true;
  return std::move(reasons_);
}

void DeltaSender::KeepReasons(std::vector<PlannedReason> reasons) {
  if (!has_base()) return;
  reasons_ = std::move(reasons);
  if (!reasons_indexed_) {
    // A whole answer's reasons: a job named twice keeps its last reason.
    reason_at_.clear();
    reason_at_.reserve(reasons_.size());
    size_t kept = 0;
    for (size_t i = 0; i < reasons_.size(); ++i) {
      auto [it, added] = reason_at_.try_emplace(reasons_[i].job_id, kept);
      if (!added) {
        reasons_[it->second] = std::move(reasons_[i]);
        continue;
      }
      if (kept != i) reasons_[kept] = std::move(reasons_[i]);
      ++kept;
    }
    reasons_.resize(kept);
    reasons_indexed_ = true;
  }
  has_reasons_ = true;
}

void DeltaSender::Reset() {
  prints_ = Fingerprints{};
  base_sequence_ = 0;
  has_reasons_ = false;
  reasons_indexed_ = false;
  reasons_.clear();
  reason_at_.clear();
}

}  // namespace accelpack::bridge
