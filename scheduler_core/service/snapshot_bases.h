// Delta snapshots on the core's side: the last acknowledged snapshot of each
// controller, kept as a cache so that a request may carry only what changed.
//
// A cache, not state (DESIGN.md): bounded (a few controllers, least recently
// used evicted), lost on restart, dropped on any doubt. Whatever is missing, the
// answer is "send the whole snapshot" and the plugin does; planning never
// depends on what is or is not cached, only on the snapshot it resolves to.
//
// Thread-safety: Resolve and Keep may be called concurrently. Two requests of
// one controller in flight at once: the second finds no base and resyncs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "accelpack/v1/placement.pb.h"
#include "engine/engine.h"
#include "model/cluster.h"
#include "policy/policy.h"
#include "service/topology_book.h"

namespace accelpack::service {

namespace v1 = ::accelpack::v1;

// The pending reasons of one answer, by job id: what a reason delta is against.
struct ReasonEntry {
  int code = 0;
  std::string message;    // as the engine gave it (sent as ReasonText)
  bool answered = false;  // scratch of AnswerReasons: named by the answer being made
};
using ReasonsByJob = absl::flat_hash_map<uint32_t, ReasonEntry>;

// Puts `plan`'s pending reasons into `response`'s plan and makes `reasons` this
// answer's, updated in place. With `base_sequence` != 0, `reasons` holds the
// reasons answered to that base and the answer is a reason delta: only the reasons
// that differ, the jobs whose reason went in reasons_cleared, reasons_base_sequence
// set. Otherwise every reason. A job named twice keeps its last reason.
void AnswerReasons(const engine::Plan& plan, uint64_t base_sequence, ReasonsByJob& reasons,
                   v1::ScheduleResponse& response);

// A controller's snapshot plus indexes by record key, so a delta costs what it
// changes, not the snapshot's size.
struct SnapshotBase {
  std::string controller;
  uint64_t epoch = 0;
  uint64_t sequence = 0;
  v1::ClusterSnapshot snapshot;
  std::unordered_map<std::string, int> nodes;
  std::unordered_map<uint32_t, int> pending;
  std::unordered_map<uint32_t, int> running;
  std::unordered_map<std::string, int> reservations;
  // `snapshot` as the engine reads it (converted, annotated, checked against the
  // policy `checked_with`), record for record at the same positions. ApplyDelta
  // converts only the records a delta brings and lists them in `changed`;
  // PrepareModel checks only those. Shared with the cycle's readers (operators'
  // views): a base whose model is shared gets a copy before a delta changes it.
  std::shared_ptr<model::Snapshot> model;
  std::shared_ptr<const void> checked_with;
  struct Changed {
    std::vector<int> nodes, pending, running, reservations;  // positions
    bool node_names = false;  // nodes came or went: every reference is checked again
  } changed;
  // The reasons the core answered to this snapshot, once it has answered
  // (KeepReasons): a reason delta on this base is against them.
  bool has_reasons = false;
  ReasonsByJob reasons;
};

// Builds `base`'s indexes from its snapshot. INVALID_ARGUMENT names the first
// key given twice (the caller keeps no such base).
absl::Status IndexBase(SnapshotBase& base);

// Applies a delta (`changes`' records replace or join, `removed` go) to `base`
// in place and re-indexes what moved; now_unix comes from `changes`. Records keep
// the base's order but for removals (the last record takes a removed one's place)
// and new ones, which come last: the engine's orders do not depend on it.
// A base with a model gets the same changes there, converted (errors name the
// record) but not yet checked: see PrepareModel.
// INVALID_ARGUMENT: a key twice in the delta, or both changed and removed.
// FAILED_PRECONDITION: a removal of a key the base does not hold (the two sides
// disagree: resync). On error `base` is unusable.
absl::Status ApplyDelta(const v1::ClusterSnapshot& changes, const v1::SnapshotRemovals& removed,
                        SnapshotBase& base);

// The engine's snapshot of `base` for `policy`: after ApplyDelta on a model
// checked with the same policy, annotates and checks only the records it changed
// (as ValidateSnapshot would, against the rest); otherwise converts, annotates
// and checks the whole of `base.snapshot`. On error the model is dropped.
absl::Status PrepareModel(SnapshotBase& base,
                          const std::shared_ptr<const policy::BuiltPolicy>& policy,
                          const TopologyBook* topology);

// A whole snapshot as the engine reads it: converted, annotated (`topology` may
// be null), checked against `policy`'s catalog.
absl::StatusOr<std::shared_ptr<model::Snapshot>> ModelOf(const v1::ClusterSnapshot& wire,
                                                         const policy::BuiltPolicy& policy,
                                                         const TopologyBook* topology);

class SnapshotBases {
 public:
  explicit SnapshotBases(size_t max_controllers = 8) : max_controllers_(max_controllers) {}

  enum class Kind { kWhole, kDelta, kResync };
  struct Resolved {
    Kind kind = Kind::kWhole;
    // kDelta: the base with the delta applied (to be validated, then kept).
    SnapshotBase base;
    // kResync: why (for the log and the answer). kDelta/kWhole: empty.
    std::string reason;
  };

  // What `request` stands for. A whole snapshot (base_sequence 0) is returned as
  // kWhole and left in the request. A delta takes the controller's base out of
  // the cache and applies itself to it: kDelta; kResync when there is no such
  // base (other epoch or sequence, evicted, restarted core) or it does not fit.
  // INVALID_ARGUMENT for a malformed delta (named).
  absl::Status Resolve(const v1::ScheduleRequest& request, Resolved& out);

  // Keeps `base` as its controller's base (replacing an older one), evicting
  // the least recently used controller beyond the bound.
  void Keep(SnapshotBase base);
  // Attaches the reasons answered to `controller`'s snapshot `sequence`, if that
  // is still its base (another request may have taken it meanwhile: then none).
  void KeepReasons(const std::string& controller, uint64_t sequence, ReasonsByJob reasons);
  // Forgets a controller's base (its snapshot was refused).
  void Forget(const std::string& controller);

  size_t size() const;

 private:
  mutable std::mutex mu_;
  size_t max_controllers_;
  std::list<SnapshotBase> lru_;  // most recent first; guarded by mu_
};

}  // namespace accelpack::service
