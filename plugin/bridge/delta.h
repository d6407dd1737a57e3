// delta.h: delta snapshots on the plugin's side. Every record of a cycle's C
// snapshot gets a fingerprint (a hash of the fields it sends, record_fields.h); a
// request carries only the records whose fingerprint differs from the snapshot the
// core last acknowledged, converted to the wire form, and the keys of those that
// vanished. Runs in the bridge, after slurmctld's locks are released: the copy
// under the locks stays a plain copy, and unchanged records are never converted.
// The answer's pending reasons come the same way (reasons that changed since the
// acknowledged answer), merged here back into the whole list, which moves between
// this side and the plan instead of being copied.
// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <accelpack/v1/placement.pb.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "accelpack_bridge.h"
#include "plan_data.h"

namespace accelpack::bridge {

// The records of one kind in the snapshot the core acknowledged. Each key keeps a
// slot (its fingerprint: the hash of every field it sends) while it stays; `order`
// lists the slots as the records came. Slurm's lists keep their order from cycle
// to cycle, so a record where the previous cycle had it costs one key comparison;
// only records that moved, came or went cost a lookup by key. Kept and updated in
// place: no allocation for records that stay.
template <typename Key>
struct RecordPrints {
  struct Slot {
    Key key{};
    uint64_t hash = 0;
    uint64_t seen = 0;      // the cycle that last had the record
    uint32_t position = 0;  // its place in that cycle's list
  };
  std::vector<Slot> slots;
  std::vector<uint32_t> free_slots;
  std::vector<uint32_t> order;
  std::vector<uint32_t> next_order;  // scratch, kept for its capacity
  absl::flat_hash_map<Key, uint32_t> slot_of;
};

struct Fingerprints {
  RecordPrints<std::string> nodes;
  RecordPrints<uint32_t> pending;
  RecordPrints<uint32_t> running;
  RecordPrints<std::string> reservations;
};

class DeltaSender {
 public:
  DeltaSender(std::string controller, uint64_t epoch)
      : controller_(std::move(controller)), epoch_(epoch) {}

  struct Cycle {
    uint64_t sequence = 0;   // this cycle's snapshot
    bool has_delta = false;  // a base is acknowledged: `delta` was filled
    uint32_t changed = 0;    // records in the delta
    uint32_t removed = 0;    // keys removed by it
    bool distinct = true;    // false: a key came twice; never a base
  };

  // Fingerprints `snap`, sets `identity` to this cycle's and makes the
  // fingerprints this cycle's (the caller must Acknowledge or Reset: the core
  // kept it or not). With an acknowledged base, fills `delta` (snapshot with
  // now_unix and the changed records, removed keys, base_sequence, identity);
  // a key seen twice in `snap` makes no delta (the core refuses such a snapshot
  // whole, naming it), nor do changed shard rules (sent only whole).
  Cycle Prepare(const ap_snapshot_t& snap, v1::SnapshotIdentity* identity,
                v1::ScheduleRequest* delta);
  // The core kept `cycle`'s snapshot: the next delta is on it.
  void Acknowledged(const Cycle& cycle);
  // The answer's pending reasons, whole, as a plan carries them: a whole answer's
  // as they are, a reason delta (reasons_base_sequence set) merged onto the reasons
  // kept from the acknowledged answer, which move out to the caller. Only the
  // reasons that changed are converted. FAILED_PRECONDITION when it is a delta on
  // an answer this side does not hold (then Reset).
  absl::StatusOr<std::vector<PlannedReason>> TakeReasons(const v1::ScheduleResponse& response);
  // After Acknowledged: `reasons` (from TakeReasons, in the same order) are what
  // the next reason delta is against. Without it the next request asks for every
  // reason.
  void KeepReasons(std::vector<PlannedReason> reasons);
  // The next cycle sends the whole snapshot (an error, a refusal, a core that
  // did not keep it, a reconfigure).
  void Reset();
  bool has_base() const { return base_sequence_ != 0; }
  uint64_t epoch() const { return epoch_; }

 private:
  std::string controller_;
  uint64_t epoch_;
  uint64_t next_sequence_ = 1;
  uint64_t base_sequence_ = 0;  // 0: none acknowledged
  Fingerprints prints_;
  uint64_t rules_hash_ = 0;   // the base's shard rules
  bool has_reasons_ = false;  // reasons_ are those answered to base_sequence_
  std::vector<PlannedReason> reasons_;
  absl::flat_hash_map<uint32_t, size_t> reason_at_;  // job id -> its place in reasons_
  bool reasons_indexed_ = false;  // reason_at_ is the index of the reasons taken last
};

}  // namespace accelpack::bridge
