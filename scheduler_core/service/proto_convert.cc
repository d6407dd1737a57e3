#include "service/proto_convert.h"

#include <algorithm>
#include <limits>

#include "accelpack/v1/wire_text.h"
#include "common/field_path.h"
#include "common/strings.h"

namespace accelpack::service {

namespace {

constexpr uint64_t kMaxCount = 1u << 24;  // far above any real node or job

// Narrows a wire count, or names the field that is out of range.
absl::Status Narrow(uint64_t value, const FieldPath& field, int* out) {
  if (value > kMaxCount)
    return absl::InvalidArgumentError(Cat(field.ToString(), ": ", value, " is out of range"));
  *out = static_cast<int>(value);
  return absl::OkStatus();
}

absl::Status NarrowMemory(uint64_t value, const FieldPath& field, int64_t* out) {
  if (value > (uint64_t{1} << 40))
    return absl::InvalidArgumentError(Cat(field.ToString(), ": ", value, " MiB is out of range"));
  *out = static_cast<int64_t>(value);
  return absl::OkStatus();
}

#define ACCELPACK_RETURN_IF_ERROR(expr) \
  do {                                  \
    absl::Status status_ = (expr);      \
    if (!status_.ok()) return status_;  \
  } while (false)

// A repeated count field, each entry narrowed to int.
template <typename Repeated>
absl::Status NarrowList(const Repeated& values, const FieldPath& parent, const char* name,
                        std::vector<int>* out) {
  out->reserve(static_cast<size_t>(values.size()));
  for (int i = 0; i < values.size(); ++i) {
    int value = 0;
    ACCELPACK_RETURN_IF_ERROR(Narrow(values.Get(i), parent.Child(name, i), &value));
    out->push_back(value);
  }
  return absl::OkStatus();
}

template <typename Repeated>
void AddCounts(Repeated* out, const std::vector<int>& values) {
  for (int value : values) out->Add(static_cast<uint32_t>(std::max(value, 0)));
}

model::NodeState StateFromProto(v1::NodeState state) {
  switch (state) {
    case v1::NODE_STATE_IDLE:
      return model::NodeState::kIdle;
    case v1::NODE_STATE_MIXED:
      return model::NodeState::kMixed;
    case v1::NODE_STATE_ALLOCATED:
      return model::NodeState::kAllocated;
    case v1::NODE_STATE_DRAINED:
      return model::NodeState::kDrained;
    case v1::NODE_STATE_RESERVED:
      return model::NodeState::kReserved;
    default:
      // Unknown or unspecified: never place work on a node we cannot read.
      return model::NodeState::kDown;
  }
}

v1::NodeState StateToProto(model::NodeState state) {
  switch (state) {
    case model::NodeState::kIdle:
      return v1::NODE_STATE_IDLE;
    case model::NodeState::kMixed:
      return v1::NODE_STATE_MIXED;
    case model::NodeState::kAllocated:
      return v1::NODE_STATE_ALLOCATED;
    case model::NodeState::kDown:
      return v1::NODE_STATE_DOWN;
    case model::NodeState::kDrained:
      return v1::NODE_STATE_DRAINED;
    case model::NodeState::kReserved:
      return v1::NODE_STATE_RESERVED;
  }
  return v1::NODE_STATE_DOWN;
}

model::JobClass ClassFromProto(v1::JobClass job_class) {
  switch (job_class) {
    case v1::JOB_CLASS_INFERENCE:
      return model::JobClass::kInference;
    case v1::JOB_CLASS_TRAINING:
      return model::JobClass::kTraining;
    case v1::JOB_CLASS_OTHER:
      return model::JobClass::kOther;
    default:
      return model::JobClass::kUnspecified;
  }
}

v1::JobClass ClassToProto(model::JobClass job_class) {
  switch (job_class) {
    case model::JobClass::kInference:
      return v1::JOB_CLASS_INFERENCE;
    case model::JobClass::kTraining:
      return v1::JOB_CLASS_TRAINING;
    case model::JobClass::kOther:
      return v1::JOB_CLASS_OTHER;
    case model::JobClass::kUnspecified:
      break;
  }
  return v1::JOB_CLASS_UNSPECIFIED;
}

// Names are opaque bytes (Slurm's, in any encoding); only their length is bounded
// here, so that no later log, message or look-up handles megabytes of one name.
absl::Status Name(const std::string& wire, const FieldPath& field, std::string* out) {
  if (wire.size() > wire::kMaxNameBytes) {
    return absl::InvalidArgumentError(Cat(field.ToString(), ": ", wire.size(),
                                          " bytes, longer than the ", wire::kMaxNameBytes,
                                          " allowed for a name"));
  }
  *out = wire;
  return absl::OkStatus();
}

template <typename Repeated>
absl::Status Names(const Repeated& repeated, const FieldPath& parent, std::string_view name,
                   std::vector<std::string>* out) {
  out->resize(static_cast<size_t>(repeated.size()));
  for (int i = 0; i < repeated.size(); ++i) {
    if (repeated[i].size() > wire::kMaxNameBytes) {
      return Name(repeated[i], parent.Child(name, i), &(*out)[static_cast<size_t>(i)]);
    }
    (*out)[static_cast<size_t>(i)] = repeated[i];
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RecordFromProto(const v1::Node& wire, const FieldPath& field, model::Node* node) {
  ACCELPACK_RETURN_IF_ERROR(Name(wire.name(), field.Child("name"), &node->name));
  node->state = StateFromProto(wire.state());
  ACCELPACK_RETURN_IF_ERROR(Names(wire.partitions(), field, "partitions", &node->partitions));
  ACCELPACK_RETURN_IF_ERROR(Names(wire.features(), field, "features", &node->features));
  ACCELPACK_RETURN_IF_ERROR(
      Narrow(wire.cpus_total(), field.Child("cpus_total"), &node->cpus_total));
  ACCELPACK_RETURN_IF_ERROR(
      Narrow(wire.cpus_allocated(), field.Child("cpus_allocated"), &node->cpus_allocated));
  ACCELPACK_RETURN_IF_ERROR(NarrowMemory(wire.memory_total_mib(), field.Child("memory_total_mib"),
                                         &node->memory_total_mib));
  ACCELPACK_RETURN_IF_ERROR(NarrowMemory(wire.memory_allocated_mib(),
                                         field.Child("memory_allocated_mib"),
                                         &node->memory_allocated_mib));
  for (int a = 0; a < wire.accelerators_size(); ++a) {
    const v1::AcceleratorPool& pool_wire = wire.accelerators(a);
    const FieldPath at = field.Child("accelerators", a);
    model::AcceleratorPool pool;
    ACCELPACK_RETURN_IF_ERROR(Name(pool_wire.gres_name(), at.Child("gres_name"), &pool.gres_name));
    ACCELPACK_RETURN_IF_ERROR(Name(pool_wire.gres_type(), at.Child("gres_type"), &pool.gres_type));
    ACCELPACK_RETURN_IF_ERROR(Name(pool_wire.kind(), at.Child("kind"), &pool.kind));
    ACCELPACK_RETURN_IF_ERROR(Narrow(pool_wire.count(), at.Child("count"), &pool.count));
    ACCELPACK_RETURN_IF_ERROR(
        Narrow(pool_wire.allocated(), at.Child("allocated"), &pool.allocated));
    pool.used_milli.reserve(static_cast<size_t>(pool_wire.device_used_milli_size()));
    for (int d = 0; d < pool_wire.device_used_milli_size(); ++d) {
      int milli = 0;
      ACCELPACK_RETURN_IF_ERROR(
          Narrow(pool_wire.device_used_milli(d), at.Child("device_used_milli", d), &milli));
      pool.used_milli.push_back(milli);
    }
    for (int g = 0; g < pool_wire.device_groups_size(); ++g) {
      std::vector<int> group;
      for (int d = 0; d < pool_wire.device_groups(g).devices_size(); ++d) {
        int device = 0;
        const FieldPath group_at = at.Child("device_groups", g);
        ACCELPACK_RETURN_IF_ERROR(
            Narrow(pool_wire.device_groups(g).devices(d), group_at.Child("devices", d), &device));
        group.push_back(device);
      }
      pool.device_groups.push_back(std::move(group));
    }
    ACCELPACK_RETURN_IF_ERROR(
        NarrowList(pool_wire.device_shards_total(), at, "device_shards_total", &pool.shards_total));
    ACCELPACK_RETURN_IF_ERROR(
        NarrowList(pool_wire.device_shards_used(), at, "device_shards_used", &pool.shards_used));
    pool.shards_one_sharing = pool_wire.shards_one_sharing();
    pool.slurm_picks_devices = pool_wire.slurm_picks_devices();
    pool.holds_planned_devices = pool_wire.holds_planned_devices();
    pool.holds_planned_shards = pool_wire.holds_planned_shards();
    node->accelerators.push_back(std::move(pool));
  }
  const FieldPath topology = field.Child("topology");
  ACCELPACK_RETURN_IF_ERROR(Name(wire.topology().network_switch(), topology.Child("network_switch"),
                                 &node->network_switch));
  ACCELPACK_RETURN_IF_ERROR(
      Name(wire.topology().superpod(), topology.Child("superpod"), &node->superpod));
  return absl::OkStatus();
}

absl::Status RecordFromProto(const v1::PendingJob& wire, const FieldPath& field,
                             model::PendingJob* job) {
  job->id = wire.job_id();
  ACCELPACK_RETURN_IF_ERROR(Name(wire.user(), field.Child("user"), &job->user));
  ACCELPACK_RETURN_IF_ERROR(Name(wire.account(), field.Child("account"), &job->account));
  ACCELPACK_RETURN_IF_ERROR(Names(wire.partitions(), field, "partitions", &job->partitions));
  job->priority = wire.priority();
  job->submit_time = wire.submit_time_unix();
  job->time_limit_s = wire.time_limit_s();
  ACCELPACK_RETURN_IF_ERROR(Narrow(wire.num_nodes(), field.Child("num_nodes"), &job->num_nodes));
  const v1::AcceleratorRequest& acc = wire.accelerators();
  const FieldPath acc_field = field.Child("accelerators");
  ACCELPACK_RETURN_IF_ERROR(
      Name(acc.gres_name(), acc_field.Child("gres_name"), &job->accelerators.gres_name));
  ACCELPACK_RETURN_IF_ERROR(
      Names(acc.allowed_types(), acc_field, "allowed_types", &job->accelerators.allowed_types));
  ACCELPACK_RETURN_IF_ERROR(Narrow(acc.count_per_node(),
                                   field.Child("accelerators").Child("count_per_node"),
                                   &job->accelerators.count_per_node));
  ACCELPACK_RETURN_IF_ERROR(Narrow(acc.fraction_milli(),
                                   field.Child("accelerators").Child("fraction_milli"),
                                   &job->accelerators.fraction_milli));
  ACCELPACK_RETURN_IF_ERROR(Narrow(acc.shards_per_node(), acc_field.Child("shards_per_node"),
                                   &job->accelerators.shards_per_node));
  job->accelerators.exact_per_node = acc.exact_per_node();
  ACCELPACK_RETURN_IF_ERROR(
      Narrow(wire.cpus_per_node(), field.Child("cpus_per_node"), &job->cpus_per_node));
  ACCELPACK_RETURN_IF_ERROR(NarrowMemory(
      wire.memory_per_node_mib(), field.Child("memory_per_node_mib"), &job->memory_per_node_mib));
  ACCELPACK_RETURN_IF_ERROR(Names(wire.features(), field, "features", &job->features));
  job->job_class = ClassFromProto(wire.job_class());
  ACCELPACK_RETURN_IF_ERROR(
      Names(wire.required_nodes(), field, "required_nodes", &job->required_nodes));
  ACCELPACK_RETURN_IF_ERROR(
      Names(wire.excluded_nodes(), field, "excluded_nodes", &job->excluded_nodes));
  ACCELPACK_RETURN_IF_ERROR(Name(wire.qos(), field.Child("qos"), &job->qos));
  job->exclusive = wire.exclusive();
  ACCELPACK_RETURN_IF_ERROR(
      Names(wire.refused_nodes(), field, "refused_nodes", &job->refused_nodes));
  job->refused_starts = static_cast<int>(std::min<uint32_t>(
      wire.refused_starts(), static_cast<uint32_t>(std::numeric_limits<int>::max())));
  job->refused_reason = wire::OneLine(wire.refused_reason(), wire::kMaxReasonBytes);
  ACCELPACK_RETURN_IF_ERROR(Names(wire.reservations(), field, "reservations", &job->reservations));
  job->reservation_only = wire.reservation_only();
  job->feature_any.resize(static_cast<size_t>(wire.feature_any_size()));
  for (int c = 0; c < wire.feature_any_size(); ++c) {
    ACCELPACK_RETURN_IF_ERROR(Names(wire.feature_any(c).all(), field.Child("feature_any", c), "all",
                                    &job->feature_any[static_cast<size_t>(c)]));
  }
  job->feature_any_matching = wire.feature_any_matching();
  job->exclusive_user = wire.exclusive_user();
  job->user_id = wire.user_id();
  return absl::OkStatus();
}

absl::Status RecordFromProto(const v1::RunningJob& wire, const FieldPath& field,
                             model::RunningJob* job) {
  job->id = wire.job_id();
  job->start_time = wire.start_time_unix();
  job->time_limit_s = wire.time_limit_s();
  job->job_class = ClassFromProto(wire.job_class());
  ACCELPACK_RETURN_IF_ERROR(Name(wire.partition(), field.Child("partition"), &job->partition));
  ACCELPACK_RETURN_IF_ERROR(Name(wire.qos(), field.Child("qos"), &job->qos));
  job->requeueable = wire.requeueable();
  job->draining = wire.draining();
  job->preempt_exempt_until = wire.preempt_exempt_until_unix();
  job->exclusive_user = wire.exclusive_user();
  job->user_id = wire.user_id();
  ACCELPACK_RETURN_IF_ERROR(
      Name(wire.reservation(), field.Child("reservation"), &job->reservation));
  for (int a = 0; a < wire.allocations_size(); ++a) {
    const v1::NodeAllocation& alloc_wire = wire.allocations(a);
    const FieldPath at = field.Child("allocations", a);
    model::NodeAllocation alloc;
    ACCELPACK_RETURN_IF_ERROR(Name(alloc_wire.node(), at.Child("node"), &alloc.node));
    ACCELPACK_RETURN_IF_ERROR(
        Name(alloc_wire.gres_name(), at.Child("gres_name"), &alloc.gres_name));
    ACCELPACK_RETURN_IF_ERROR(
        Name(alloc_wire.gres_type(), at.Child("gres_type"), &alloc.gres_type));
    ACCELPACK_RETURN_IF_ERROR(
        Narrow(alloc_wire.device_count(), at.Child("device_count"), &alloc.device_count));
    for (int d = 0; d < alloc_wire.device_indices_size(); ++d) {
      int index = 0;
      ACCELPACK_RETURN_IF_ERROR(
          Narrow(alloc_wire.device_indices(d), at.Child("device_indices", d), &index));
      alloc.device_indices.push_back(index);
    }
    ACCELPACK_RETURN_IF_ERROR(
        Narrow(alloc_wire.fraction_milli(), at.Child("fraction_milli"), &alloc.fraction_milli));
    ACCELPACK_RETURN_IF_ERROR(
        NarrowList(alloc_wire.device_shards(), at, "device_shards", &alloc.device_shards));
    ACCELPACK_RETURN_IF_ERROR(Narrow(alloc_wire.cpus(), at.Child("cpus"), &alloc.cpus));
    ACCELPACK_RETURN_IF_ERROR(
        NarrowMemory(alloc_wire.memory_mib(), at.Child("memory_mib"), &alloc.memory_mib));
    job->allocations.push_back(std::move(alloc));
  }
  return absl::OkStatus();
}

absl::Status RecordFromProto(const v1::AdvancedReservation& wire, const FieldPath& field,
                             model::AdvancedReservation* out) {
  ACCELPACK_RETURN_IF_ERROR(Name(wire.name(), field.Child("name"), &out->name));
  ACCELPACK_RETURN_IF_ERROR(Names(wire.nodes(), field, "nodes", &out->nodes));
  out->start = wire.start_unix();
  out->end = wire.end_unix();
  out->partial = wire.partial();
  ACCELPACK_RETURN_IF_ERROR(
      NarrowList(wire.reserved_cpus(), field, "reserved_cpus", &out->reserved_cpus));
  ACCELPACK_RETURN_IF_ERROR(
      NarrowList(wire.reserved_devices(), field, "reserved_devices", &out->reserved_devices));
  const size_t node_count = out->nodes.size();
  if ((!out->reserved_cpus.empty() || !out->reserved_devices.empty()) &&
      (!out->partial || out->reserved_cpus.size() != node_count ||
       out->reserved_devices.size() != node_count)) {
    return absl::InvalidArgumentError(
        Cat(field.ToString(), ": reserved_cpus (", out->reserved_cpus.size(),
            ") and reserved_devices (", out->reserved_devices.size(),
            ") need partial and one entry per node (", node_count, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<model::Snapshot> SnapshotFromProto(const v1::ClusterSnapshot& wire) {
  model::Snapshot snapshot;
  snapshot.now = wire.now_unix();
  snapshot.shard_rules.least_loaded = wire.shard_rules().least_loaded();
  snapshot.shard_rules.multiple_per_job = wire.shard_rules().multiple_per_job();
  snapshot.shard_rules.whole_and_shards_unguarded = wire.shard_rules().whole_and_shards_unguarded();
  snapshot.nodes.resize(static_cast<size_t>(wire.nodes_size()));
  for (int n = 0; n < wire.nodes_size(); ++n) {
    ACCELPACK_RETURN_IF_ERROR(RecordFromProto(wire.nodes(n), FieldPath("nodes", n),
                                              &snapshot.nodes[static_cast<size_t>(n)]));
  }
  snapshot.pending.resize(static_cast<size_t>(wire.pending_jobs_size()));
  for (int j = 0; j < wire.pending_jobs_size(); ++j) {
    ACCELPACK_RETURN_IF_ERROR(RecordFromProto(wire.pending_jobs(j), FieldPath("pending_jobs", j),
                                              &snapshot.pending[static_cast<size_t>(j)]));
  }
  snapshot.running.resize(static_cast<size_t>(wire.running_jobs_size()));
  for (int j = 0; j < wire.running_jobs_size(); ++j) {
    ACCELPACK_RETURN_IF_ERROR(RecordFromProto(wire.running_jobs(j), FieldPath("running_jobs", j),
                                              &snapshot.running[static_cast<size_t>(j)]));
  }
  snapshot.reservations.resize(static_cast<size_t>(wire.reservations_size()));
  for (int r = 0; r < wire.reservations_size(); ++r) {
    ACCELPACK_RETURN_IF_ERROR(RecordFromProto(wire.reservations(r), FieldPath("reservations", r),
                                              &snapshot.reservations[static_cast<size_t>(r)]));
  }
  return snapshot;
}

v1::ClusterSnapshot SnapshotToProto(const model::Snapshot& snapshot) {
  v1::ClusterSnapshot wire;
  wire.set_now_unix(snapshot.now);
  if (snapshot.shard_rules.least_loaded || snapshot.shard_rules.multiple_per_job ||
      snapshot.shard_rules.whole_and_shards_unguarded) {
    v1::ShardRules* rules = wire.mutable_shard_rules();
    rules->set_least_loaded(snapshot.shard_rules.least_loaded);
    rules->set_multiple_per_job(snapshot.shard_rules.multiple_per_job);
    rules->set_whole_and_shards_unguarded(snapshot.shard_rules.whole_and_shards_unguarded);
  }
  for (const model::Node& node : snapshot.nodes) {
    v1::Node* out = wire.add_nodes();
    out->set_name(node.name);
    out->set_state(StateToProto(node.state));
    for (const auto& p : node.partitions) out->add_partitions(p);
    for (const auto& f : node.features) out->add_features(f);
    out->set_cpus_total(static_cast<uint32_t>(node.cpus_total));
    out->set_cpus_allocated(static_cast<uint32_t>(node.cpus_allocated));
    out->set_memory_total_mib(static_cast<uint64_t>(node.memory_total_mib));
    out->set_memory_allocated_mib(static_cast<uint64_t>(node.memory_allocated_mib));
    for (const auto& pool : node.accelerators) {
      v1::AcceleratorPool* p = out->add_accelerators();
      p->set_gres_name(pool.gres_name);
      p->set_gres_type(pool.gres_type);
      p->set_count(static_cast<uint32_t>(pool.count));
      p->set_allocated(static_cast<uint32_t>(pool.allocated));
      for (int milli : pool.used_milli) p->add_device_used_milli(static_cast<uint32_t>(milli));
      p->set_kind(pool.kind);
      for (const auto& group : pool.device_groups) {
        v1::DeviceGroup* out_group = p->add_device_groups();
        for (int d : group) out_group->add_devices(static_cast<uint32_t>(d));
      }
      AddCounts(p->mutable_device_shards_total(), pool.shards_total);
      AddCounts(p->mutable_device_shards_used(), pool.shards_used);
      p->set_shards_one_sharing(pool.shards_one_sharing);
      p->set_slurm_picks_devices(pool.slurm_picks_devices);
      p->set_holds_planned_devices(pool.holds_planned_devices);
      p->set_holds_planned_shards(pool.holds_planned_shards);
    }
    out->mutable_topology()->set_network_switch(node.network_switch);
    out->mutable_topology()->set_superpod(node.superpod);
  }
  for (const model::PendingJob& job : snapshot.pending) {
    v1::PendingJob* out = wire.add_pending_jobs();
    out->set_job_id(job.id);
    out->set_user(job.user);
    out->set_account(job.account);
    for (const auto& p : job.partitions) out->add_partitions(p);
    out->set_priority(job.priority);
    out->set_submit_time_unix(job.submit_time);
    out->set_time_limit_s(job.time_limit_s);
    out->set_num_nodes(static_cast<uint32_t>(job.num_nodes));
    v1::AcceleratorRequest* acc = out->mutable_accelerators();
    acc->set_gres_name(job.accelerators.gres_name);
    for (const auto& t : job.accelerators.allowed_types) acc->add_allowed_types(t);
    acc->set_count_per_node(static_cast<uint32_t>(job.accelerators.count_per_node));
    acc->set_fraction_milli(static_cast<uint32_t>(job.accelerators.fraction_milli));
    acc->set_shards_per_node(static_cast<uint32_t>(job.accelerators.shards_per_node));
    acc->set_exact_per_node(job.accelerators.exact_per_node);
    out->set_cpus_per_node(static_cast<uint32_t>(job.cpus_per_node));
    out->set_memory_per_node_mib(static_cast<uint64_t>(job.memory_per_node_mib));
    for (const auto& f : job.features) out->add_features(f);
    out->set_job_class(ClassToProto(job.job_class));
    for (const auto& n : job.required_nodes) out->add_required_nodes(n);
    for (const auto& n : job.excluded_nodes) out->add_excluded_nodes(n);
    out->set_qos(job.qos);
    out->set_exclusive(job.exclusive);
    for (const auto& n : job.refused_nodes) out->add_refused_nodes(n);
    out->set_refused_starts(static_cast<uint32_t>(std::max(job.refused_starts, 0)));
    out->set_refused_reason(job.refused_reason);
    for (const auto& r : job.reservations) out->add_reservations(r);
    out->set_reservation_only(job.reservation_only);
    for (const auto& clause : job.feature_any) {
      v1::FeatureClause* c = out->add_feature_any();
      for (const auto& f : clause) c->add_all(f);
    }
    out->set_feature_any_matching(job.feature_any_matching);
    out->set_exclusive_user(job.exclusive_user);
    out->set_user_id(job.user_id);
  }
  for (const model::RunningJob& job : snapshot.running) {
    v1::RunningJob* out = wire.add_running_jobs();
    out->set_job_id(job.id);
    out->set_start_time_unix(job.start_time);
    out->set_time_limit_s(job.time_limit_s);
    out->set_job_class(ClassToProto(job.job_class));
    out->set_partition(job.partition);
    out->set_qos(job.qos);
    out->set_requeueable(job.requeueable);
    out->set_draining(job.draining);
    out->set_preempt_exempt_until_unix(job.preempt_exempt_until);
    out->set_exclusive_user(job.exclusive_user);
    out->set_user_id(job.user_id);
    out->set_reservation(job.reservation);
    for (const auto& alloc : job.allocations) {
      v1::NodeAllocation* a = out->add_allocations();
      a->set_node(alloc.node);
      a->set_gres_name(alloc.gres_name);
      a->set_gres_type(alloc.gres_type);
      a->set_device_count(static_cast<uint32_t>(alloc.device_count));
      for (int d : alloc.device_indices) a->add_device_indices(static_cast<uint32_t>(d));
      a->set_fraction_milli(static_cast<uint32_t>(alloc.fraction_milli));
      AddCounts(a->mutable_device_shards(), alloc.device_shards);
      a->set_cpus(static_cast<uint32_t>(alloc.cpus));
      a->set_memory_mib(static_cast<uint64_t>(alloc.memory_mib));
    }
  }
  for (const model::AdvancedReservation& r : snapshot.reservations) {
    v1::AdvancedReservation* out = wire.add_reservations();
    out->set_name(r.name);
    out->set_start_unix(r.start);
    out->set_end_unix(r.end);
    for (const auto& n : r.nodes) out->add_nodes(n);
    out->set_partial(r.partial);
    AddCounts(out->mutable_reserved_cpus(), r.reserved_cpus);
    AddCounts(out->mutable_reserved_devices(), r.reserved_devices);
  }
  return wire;
}

std::string ReasonText(const engine::PendingReason& reason) {
  return wire::OneLine(reason.message, wire::kMaxReasonBytes);
}

v1::Plan PlanToProto(const engine::Plan& plan, const model::Snapshot& snapshot,
                     const model::Catalog& catalog, PlanReasons reasons) {
  v1::Plan wire;
  wire.mutable_starts()->Reserve(static_cast<int>(plan.starts.size()));
  for (const engine::JobStart& start : plan.starts) {
    v1::JobStart* out = wire.add_starts();
    out->set_job_id(start.job_id);
    if (start.kind >= 0) out->set_kind(catalog.kind(start.kind).name);
    for (const engine::NodePlacement& placement : start.placements) {
      const model::Node& node = snapshot.nodes[static_cast<size_t>(placement.node)];
      v1::NodePlacement* p = out->add_placements();
      p->set_node(node.name);
      if (placement.pool >= 0)
        p->set_gres_type(node.accelerators[static_cast<size_t>(placement.pool)].gres_type);
      p->set_device_count(static_cast<uint32_t>(placement.devices.size()));
      for (int d : placement.devices) p->add_device_indices(static_cast<uint32_t>(d));
      p->set_fraction_milli(static_cast<uint32_t>(placement.fraction_milli));
      AddCounts(p->mutable_device_shards(), placement.device_shards);
    }
  }
  for (const engine::Reservation& reservation : plan.reservations) {
    v1::Reservation* out = wire.add_reservations();
    out->set_job_id(reservation.job_id);
    out->set_planned_start_unix(reservation.planned_start);
    for (int n : reservation.nodes) out->add_nodes(snapshot.nodes[static_cast<size_t>(n)].name);
  }
  for (const engine::Preemption& preemption : plan.preemptions) {
    v1::Preemption* out = wire.add_preemptions();
    out->set_job_id(preemption.job_id);
    for (uint32_t id : preemption.victims) out->add_victims(id);
    for (uint32_t id : preemption.awaiting) out->add_awaiting(id);
    for (int n : preemption.nodes) out->add_nodes(snapshot.nodes[static_cast<size_t>(n)].name);
    out->set_lost_device_s(preemption.lost_device_s);
  }
  if (reasons == PlanReasons::kLeaveOut) return wire;
  wire.mutable_pending()->Reserve(static_cast<int>(plan.pending.size()));
  for (const engine::PendingReason& reason : plan.pending) {
    v1::PendingReason* out = wire.add_pending();
    out->set_job_id(reason.job_id);
    out->set_code(PendingCodeToProto(reason.code));
    out->set_message(ReasonText(reason));
  }
  return wire;
}

v1::PendingReasonCode PendingCodeToProto(engine::PendingCode code) {
  switch (code) {
    case engine::PendingCode::kResources:
      return v1::PENDING_REASON_RESOURCES;
    case engine::PendingCode::kPriority:
      return v1::PENDING_REASON_PRIORITY;
    case engine::PendingCode::kNeverFits:
      return v1::PENDING_REASON_NEVER_FITS;
    case engine::PendingCode::kTopology:
      return v1::PENDING_REASON_TOPOLOGY;
    case engine::PendingCode::kCycleLimit:
      return v1::PENDING_REASON_CYCLE_LIMIT;
  }
  return v1::PENDING_REASON_UNSPECIFIED;
}

void UsageToProto(const std::vector<engine::KindUsage>& usage, const model::Catalog& catalog,
                  google::protobuf::RepeatedPtrField<v1::KindUsage>* out) {
  out->Clear();
  for (const engine::KindUsage& entry : usage) {
    v1::KindUsage* k = out->Add();
    k->set_kind(catalog.kind(entry.kind).name);
    k->set_devices_total(static_cast<uint32_t>(entry.devices_total));
    k->set_devices_allocated(static_cast<uint32_t>(entry.devices_allocated));
    k->set_devices_idle(static_cast<uint32_t>(entry.devices_idle));
    k->set_devices_unusable(static_cast<uint32_t>(entry.devices_unusable));
    k->set_devices_idle_while_demanded(static_cast<uint32_t>(entry.devices_idle_while_demanded));
  }
}

}  // namespace accelpack::service
