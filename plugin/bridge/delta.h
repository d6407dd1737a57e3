// delta.h: delta snapshots on the plugin's side. Every record of a cycle's whole
// snapshot gets a fingerprint (a hash of its wire form); a request carries only
// the records whose fingerprint differs from the snapshot the core last
// acknowledged, and the keys of those that vanished. Runs in the bridge, after
// slurmctld's locks are released: the copy under the locks stays a plain copy.
// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <accelpack/v1/placement.pb.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace accelpack::bridge {

// A snapshot's records by key (node name, job id, reservation name), each with
// the hash of its serialized message: any field, old or added later, counts.
struct Fingerprints {
  std::unordered_map<std::string, uint64_t> nodes;
  std::unordered_map<uint32_t, uint64_t> pending;
  std::unordered_map<uint32_t, uint64_t> running;
  std::unordered_map<std::string, uint64_t> reservations;
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
    Fingerprints prints;     // of the whole snapshot, the base once acknowledged
  };

  // Fingerprints `whole` and sets `identity` to this cycle's. With an
  // acknowledged base, fills `delta` (snapshot with now_unix and the changed
  // records, removed keys, base_sequence, identity); a key seen twice in `whole`
  // makes no delta (the core refuses such a snapshot whole, naming it).
  Cycle Prepare(const v1::ClusterSnapshot& whole, v1::SnapshotIdentity* identity,
                v1::ScheduleRequest* delta);
  // The core kept `cycle`'s snapshot: the next delta is on it.
  void Acknowledged(Cycle&& cycle);
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
  Fingerprints base_;
  std::string buffer_;  // serialization scratch, reused
};

}  // namespace accelpack::bridge
