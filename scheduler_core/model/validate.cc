// Snapshot validation: every input from the controller can be wrong.
#include <algorithm>
#include <unordered_set>

#include "common/field_path.h"
#include "common/strings.h"
#include "model/cluster.h"
#include "model/shards.h"

namespace accelpack::model {

std::string_view JobClassName(JobClass job_class) {
  switch (job_class) {
    case JobClass::kInference:
      return "inference";
    case JobClass::kTraining:
      return "training";
    case JobClass::kOther:
      return "other";
    case JobClass::kUnspecified:
      break;
  }
  return "unspecified";
}

bool AcceleratorRequest::Allows(const AcceleratorPool& pool) const {
  if (pool.gres_name != gres_name) return false;
  return allowed_types.empty() || std::find(allowed_types.begin(), allowed_types.end(),
                                            pool.gres_type) != allowed_types.end();
}

bool AcceleratorRequest::GetsPlannedDevices(const AcceleratorPool& pool) const {
  return exact_per_node && (WantsShards() ? pool.holds_planned_shards : pool.holds_planned_devices);
}

namespace {

absl::Status Invalid(const FieldPath& field, std::string_view problem) {
  return absl::InvalidArgumentError(Cat(field.ToString(), ": ", problem));
}

// When the controller reports only a count, the first `allocated` devices are in use.
void FillUsedMilli(AcceleratorPool& pool) {
  if (!pool.used_milli.empty()) return;
  pool.used_milli.assign(static_cast<size_t>(pool.count), 0);
  for (int i = 0; i < pool.allocated; ++i)
    pool.used_milli[static_cast<size_t>(i)] = kMilliPerDevice;
}

absl::Status ValidatePool(AcceleratorPool& pool, const FieldPath& field, const Catalog& catalog) {
  if (pool.gres_name.empty()) return Invalid(field.Child("gres_name"), "empty");
  std::optional<int> kind = pool.kind.empty() ? catalog.KindForGres(pool.gres_name, pool.gres_type)
                                              : catalog.FindKind(pool.kind);
  if (!kind) {
    return Invalid(field.Child("kind"),
                   pool.kind.empty()
                       ? Cat("no kind is mapped to gres ", pool.gres_name, ":", pool.gres_type,
                             " (map it in the policy's kinds section)")
                       : Cat("unknown kind \"", pool.kind, "\""));
  }
  pool.kind_index = *kind;
  const int per_node = catalog.kind(*kind).rule.devices_per_node;
  if (pool.count < 1 || pool.count > 4 * per_node) {
    return Invalid(field.Child("count"), Cat(pool.count, " outside 1..", 4 * per_node));
  }
  if (pool.allocated < 0 || pool.allocated > pool.count) {
    return Invalid(field.Child("allocated"), Cat(pool.allocated, " exceeds count ", pool.count));
  }
  if (!pool.used_milli.empty()) {
    if (pool.used_milli.size() != static_cast<size_t>(pool.count)) {
      return Invalid(field.Child("device_used_milli"),
                     Cat(pool.used_milli.size(), " entries for ", pool.count, " devices"));
    }
    for (size_t d = 0; d < pool.used_milli.size(); ++d) {
      if (pool.used_milli[d] < 0 || pool.used_milli[d] > kMilliPerDevice) {
        return Invalid(field.Child("device_used_milli", d),
                       Cat(pool.used_milli[d], " outside 0..1000"));
      }
    }
  }
  std::vector<bool> grouped(static_cast<size_t>(pool.count), false);
  for (size_t g = 0; g < pool.device_groups.size(); ++g) {
    const FieldPath at = field.Child("device_groups", g);
    if (pool.device_groups[g].empty()) return Invalid(at, "empty group");
    for (int device : pool.device_groups[g]) {
      if (device < 0 || device >= pool.count) {
        return Invalid(at, Cat("device ", device, " outside 0..", pool.count - 1));
      }
      if (grouped[static_cast<size_t>(device)])
        return Invalid(at, Cat("device ", device, " in two groups"));
      grouped[static_cast<size_t>(device)] = true;
    }
  }
  if (absl::Status status = ValidatePoolShards(pool, field); !status.ok()) return status;
  if (pool.HasShards() && pool.shards_used.empty()) {
    pool.shards_used.assign(pool.shards_total.size(), 0);
  }
  FillUsedMilli(pool);
  return absl::OkStatus();
}

// `now` and time limits are never negative; a submit or start time may be (a
// controller's clock, a test's epoch), within the same bound.
absl::Status CheckTime(int64_t value, const FieldPath& field, int64_t low = 0) {
  if (value < low || value > kMaxTimeS) {
    return Invalid(field, Cat(value, " outside ", low, "..", kMaxTimeS));
  }
  return absl::OkStatus();
}

absl::Status CheckListLength(size_t length, const FieldPath& field, size_t limit) {
  if (length > limit) return Invalid(field, Cat(length, " entries, more than ", limit));
  return absl::OkStatus();
}

// Drops repeated names, keeping the first of each: membership is all a node's
// lists mean, and the engine's filters count on distinct names.
void DropRepeatedNames(std::vector<std::string>& names) {
  std::unordered_set<std::string_view> seen;
  std::vector<bool> first(names.size());
  bool repeated = false;
  for (size_t i = 0; i < names.size(); ++i) {
    first[i] = seen.insert(names[i]).second;
    repeated = repeated || !first[i];
  }
  if (!repeated) return;
  std::vector<std::string> distinct;
  for (size_t i = 0; i < names.size(); ++i) {
    if (first[i]) distinct.push_back(std::move(names[i]));
  }
  names = std::move(distinct);
}

constexpr size_t kMaxDeviceIndex = 1024;

absl::Status CheckNodeNames(const std::vector<std::string>& names, const FieldPath& parent,
                            std::string_view name, IsNodeName is_node) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (!is_node(names[i])) {
      return Invalid(parent.Child(name, i), Cat("unknown node \"", names[i], "\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateNodeRecord(Node& node, const FieldPath& field, const Catalog& catalog) {
  if (node.name.empty()) return Invalid(field.Child("name"), "empty");
  for (auto status :
       {CheckListLength(node.partitions.size(), field.Child("partitions"), kMaxNamesPerList),
        CheckListLength(node.features.size(), field.Child("features"), kMaxNamesPerList),
        CheckListLength(node.accelerators.size(), field.Child("accelerators"), kMaxPoolsPerNode)}) {
    if (!status.ok()) return status;
  }
  DropRepeatedNames(node.partitions);
  DropRepeatedNames(node.features);
  std::sort(node.features.begin(), node.features.end());
  node.features_sorted = true;
  if (node.cpus_total < 0) return Invalid(field.Child("cpus_total"), "negative");
  if (node.cpus_allocated < 0 || node.cpus_allocated > node.cpus_total) {
    return Invalid(field.Child("cpus_allocated"),
                   Cat(node.cpus_allocated, " outside 0..", node.cpus_total));
  }
  if (node.memory_total_mib < 0) return Invalid(field.Child("memory_total_mib"), "negative");
  if (node.memory_allocated_mib < 0 || node.memory_allocated_mib > node.memory_total_mib) {
    return Invalid(field.Child("memory_allocated_mib"),
                   Cat(node.memory_allocated_mib, " outside 0..", node.memory_total_mib));
  }
  for (size_t a = 0; a < node.accelerators.size(); ++a) {
    absl::Status status =
        ValidatePool(node.accelerators[a], field.Child("accelerators", a), catalog);
    if (!status.ok()) return status;
    for (size_t b = 0; b < a; ++b) {
      if (node.accelerators[b].gres_name == node.accelerators[a].gres_name &&
          node.accelerators[b].gres_type == node.accelerators[a].gres_type) {
        return Invalid(field.Child("accelerators", a),
                       Cat("duplicate gres ", node.accelerators[a].gres_name, ":",
                           node.accelerators[a].gres_type));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidatePendingRecord(const PendingJob& job, const FieldPath& field, size_t node_count,
                                   IsNodeName nodes) {
  const FieldPath accelerators = field.Child("accelerators");
  if (job.id == 0) return Invalid(field.Child("job_id"), "0 is not a job id");
  if (job.num_nodes < 1 || job.num_nodes > static_cast<int>(node_count) + 100000) {
    return Invalid(field.Child("num_nodes"), Cat(job.num_nodes, " is not a node count"));
  }
  if (job.cpus_per_node < 0) return Invalid(field.Child("cpus_per_node"), "negative");
  if (job.memory_per_node_mib < 0) return Invalid(field.Child("memory_per_node_mib"), "negative");
  for (auto status :
       {CheckTime(job.submit_time, field.Child("submit_time_unix"), -kMaxTimeS),
        CheckTime(job.time_limit_s, field.Child("time_limit_s")),
        CheckListLength(job.partitions.size(), field.Child("partitions"), kMaxNamesPerList),
        CheckListLength(job.features.size(), field.Child("features"), kMaxNamesPerList),
        CheckListLength(job.accelerators.allowed_types.size(), accelerators.Child("types"),
                        kMaxNamesPerList),
        CheckListLength(job.excluded_nodes.size(), field.Child("excluded_nodes"), node_count),
        CheckListLength(job.refused_nodes.size(), field.Child("refused_nodes"), node_count),
        CheckListLength(job.reservations.size(), field.Child("reservations"), kMaxNamesPerList),
        CheckListLength(job.feature_any.size(), field.Child("feature_any"), kMaxNamesPerList)}) {
    if (!status.ok()) return status;
  }
  // The feature filter reads every name of every clause on every node: the names
  // are bounded in all, not only per clause.
  size_t feature_any_names = 0;
  for (const std::vector<std::string>& clause : job.feature_any) feature_any_names += clause.size();
  if (feature_any_names > kMaxNamesPerList) {
    return Invalid(field.Child("feature_any"),
                   Cat(feature_any_names, " names in all, more than ", kMaxNamesPerList));
  }
  const AcceleratorRequest& acc = job.accelerators;
  if (acc.count_per_node < 0 || acc.count_per_node > 64) {
    return Invalid(accelerators.Child("count_per_node"), Cat(acc.count_per_node, " outside 0..64"));
  }
  if (acc.count_per_node > 0 && acc.gres_name.empty()) {
    return Invalid(accelerators.Child("gres_name"), "empty while count_per_node > 0");
  }
  if (acc.fraction_milli < 0 || acc.fraction_milli >= kMilliPerDevice) {
    return Invalid(accelerators.Child("fraction_milli"),
                   Cat(acc.fraction_milli, " outside 0..999"));
  }
  if (acc.fraction_milli > 0 && acc.count_per_node != 1) {
    return Invalid(accelerators.Child("fraction_milli"), "a device share needs count_per_node = 1");
  }
  if (acc.shards_per_node < 0 || acc.shards_per_node > (1 << 20)) {
    return Invalid(accelerators.Child("shards_per_node"),
                   Cat(acc.shards_per_node, " outside 0..", 1 << 20));
  }
  if (acc.shards_per_node > 0 && (acc.count_per_node != 1 || acc.fraction_milli != 0)) {
    return Invalid(accelerators.Child("shards_per_node"),
                   "shards need count_per_node = 1 and no fraction_milli");
  }
  if (static_cast<int>(job.required_nodes.size()) > job.num_nodes) {
    return Invalid(field.Child("required_nodes"),
                   Cat(job.required_nodes.size(), " nodes for a ", job.num_nodes, "-node job"));
  }
  absl::Status status = CheckNodeNames(job.required_nodes, field, "required_nodes", nodes);
  if (!status.ok()) return status;
  if (job.refused_starts < 0) {
    return Invalid(field.Child("refused_starts"), Cat(job.refused_starts, " is negative"));
  }
  // Refused nodes may have left the cluster since Slurm refused them: not an error,
  // they simply match no node.
  return CheckNodeNames(job.excluded_nodes, field, "excluded_nodes", nodes);
}

absl::Status ValidateRunningRecord(const RunningJob& job, const FieldPath& field,
                                   IsNodeName nodes) {
  if (job.id == 0) return Invalid(field.Child("job_id"), "0 is not a job id");
  for (auto status :
       {CheckTime(job.start_time, field.Child("start_time_unix"), -kMaxTimeS),
        CheckTime(job.time_limit_s, field.Child("time_limit_s")),
        CheckTime(job.preempt_exempt_until, field.Child("preempt_exempt_until_unix"))}) {
    if (!status.ok()) return status;
  }
  for (size_t a = 0; a < job.allocations.size(); ++a) {
    const NodeAllocation& alloc = job.allocations[a];
    const FieldPath at = field.Child("allocations", a);
    if (!nodes(alloc.node)) {
      return Invalid(at.Child("node"), Cat("unknown node \"", alloc.node, "\""));
    }
    if (alloc.device_count < 0 || alloc.cpus < 0 || alloc.memory_mib < 0 ||
        alloc.fraction_milli < 0 || alloc.fraction_milli >= kMilliPerDevice) {
      return Invalid(at, "negative or out-of-range amount");
    }
    // An allocation is on one pool, of at most 4 x a kind's devices per node
    // (ValidatePool): an index far beyond names no device.
    if (alloc.device_indices.size() > kMaxDeviceIndex) {
      return Invalid(at.Child("device_indices"),
                     Cat(alloc.device_indices.size(), " devices, more than ", kMaxDeviceIndex));
    }
    for (int device : alloc.device_indices) {
      if (device < 0 || device >= static_cast<int>(kMaxDeviceIndex)) {
        return Invalid(at.Child("device_indices"),
                       Cat(device, " outside 0..", kMaxDeviceIndex - 1));
      }
    }
    if (!alloc.device_shards.empty()) {
      if (alloc.device_shards.size() != alloc.device_indices.size()) {
        return Invalid(at.Child("device_shards"), Cat(alloc.device_shards.size(), " entries for ",
                                                      alloc.device_indices.size(), " devices"));
      }
      for (int shards : alloc.device_shards) {
        if (shards < 0) return Invalid(at.Child("device_shards"), "negative");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateReservationRecord(const AdvancedReservation& reservation,
                                       const FieldPath& field, IsNodeName nodes) {
  if (reservation.name.empty()) return Invalid(field.Child("name"), "empty");
  if (reservation.start < 0 || reservation.end <= reservation.start) {
    return Invalid(
        field, Cat("window ", reservation.start, "..", reservation.end, " is empty or negative"));
  }
  if (absl::Status status = CheckNodeNames(reservation.nodes, field, "nodes", nodes);
      !status.ok()) {
    return status;
  }
  // Counted once per node: the holds sum what each entry reserves.
  std::unordered_set<std::string_view> seen;
  seen.reserve(reservation.nodes.size());
  for (size_t i = 0; i < reservation.nodes.size(); ++i) {
    if (!seen.insert(reservation.nodes[i]).second) {
      return Invalid(field.Child("nodes", i), Cat("node \"", reservation.nodes[i], "\" twice"));
    }
  }
  for (const std::vector<int>* counts :
       {&reservation.reserved_cpus, &reservation.reserved_devices}) {
    for (size_t i = 0; i < counts->size(); ++i) {
      if ((*counts)[i] < 0) {
        return Invalid(
            field.Child(counts == &reservation.reserved_cpus ? "reserved_cpus" : "reserved_devices",
                        i),
            "negative");
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateSnapshotTime(int64_t now) { return CheckTime(now, FieldPath("now_unix")); }

absl::Status ValidateReservationCount(size_t count) {
  return CheckListLength(count, FieldPath("reservations"), kMaxReservations);
}

absl::Status ValidateSnapshot(Snapshot& snapshot, const Catalog& catalog) {
  if (absl::Status status = ValidateSnapshotTime(snapshot.now); !status.ok()) return status;
  std::unordered_set<std::string_view> node_names;
  node_names.reserve(snapshot.nodes.size());
  for (size_t n = 0; n < snapshot.nodes.size(); ++n) {
    const FieldPath field("nodes", n);
    absl::Status status = ValidateNodeRecord(snapshot.nodes[n], field, catalog);
    if (!status.ok()) return status;
    if (!node_names.insert(snapshot.nodes[n].name).second) {
      return Invalid(field.Child("name"), Cat("duplicate node \"", snapshot.nodes[n].name, "\""));
    }
  }
  auto is_node = [&node_names](std::string_view name) { return node_names.contains(name); };
  std::unordered_set<uint32_t> job_ids;
  job_ids.reserve(snapshot.pending.size() + snapshot.running.size());
  for (size_t j = 0; j < snapshot.pending.size(); ++j) {
    const FieldPath field("pending_jobs", j);
    absl::Status status =
        ValidatePendingRecord(snapshot.pending[j], field, snapshot.nodes.size(), is_node);
    if (!status.ok()) return status;
    if (!job_ids.insert(snapshot.pending[j].id).second) {
      return Invalid(field.Child("job_id"), Cat("duplicate job id ", snapshot.pending[j].id));
    }
  }
  for (size_t j = 0; j < snapshot.running.size(); ++j) {
    const FieldPath field("running_jobs", j);
    absl::Status status = ValidateRunningRecord(snapshot.running[j], field, is_node);
    if (!status.ok()) return status;
    if (!job_ids.insert(snapshot.running[j].id).second) {
      return Invalid(field.Child("job_id"), Cat("duplicate job id ", snapshot.running[j].id));
    }
  }
  if (auto status = ValidateReservationCount(snapshot.reservations.size()); !status.ok()) {
    return status;
  }
  std::unordered_set<std::string_view> reservation_names;
  for (size_t r = 0; r < snapshot.reservations.size(); ++r) {
    const AdvancedReservation& reservation = snapshot.reservations[r];
    const FieldPath field("reservations", r);
    absl::Status status = ValidateReservationRecord(reservation, field, is_node);
    if (!status.ok()) return status;
    if (!reservation_names.insert(reservation.name).second) {
      return Invalid(field.Child("name"), Cat("duplicate reservation \"", reservation.name, "\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace accelpack::model
