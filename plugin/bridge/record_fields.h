// record_fields.h: every field of the C snapshot's records, listed once per record
// kind. The same list fills the wire message (ProtoFiller, convert.cc) and makes the
// record's fingerprint (delta.cc's hasher), so no field can reach the core without
// counting in the fingerprint, and none can count without being sent.
//
// A visitor V has these operations (`f` names the message's setter, mutable
// accessor or adder; the hasher ignores it):
//   v.Scalar(f, x)           a number, bool or enum: (msg->*f)(x)
//   v.Text(f, s)             a C string (NULL as ""): *(msg->*f)() = s
//   v.Texts(f, items, n)     n C strings into a repeated field
//   v.Each(n, body)          body(i) for i < n; the count is part of the fingerprint
//   v.Child(f, body)         body(sub) on the message (msg->*f)() returns
//   v.Split(f, s, sep)       the pieces of s between `sep` into a repeated field
// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <accelpack/v1/placement.pb.h>

#include <cstdint>
#include <type_traits>

#include "absl/strings/string_view.h"
#include "accelpack/v1/snapshot_records.h"
#include "accelpack_bridge.h"

namespace accelpack::bridge::fields {

namespace pb = ::accelpack::v1;

inline pb::NodeState ToProto(ap_node_state_t state) {
  switch (state) {
    case AP_NODE_IDLE:
      return pb::NODE_STATE_IDLE;
    case AP_NODE_MIXED:
      return pb::NODE_STATE_MIXED;
    case AP_NODE_ALLOCATED:
      return pb::NODE_STATE_ALLOCATED;
    case AP_NODE_DOWN:
      return pb::NODE_STATE_DOWN;
    case AP_NODE_DRAINED:
      return pb::NODE_STATE_DRAINED;
    case AP_NODE_RESERVED:
      return pb::NODE_STATE_RESERVED;
    case AP_NODE_UNSPECIFIED:
      break;
  }
  return pb::NODE_STATE_UNSPECIFIED;
}

template <typename V>
void VisitPool(const ap_pool_t& pool, V& v) {
  using M = pb::AcceleratorPool;
  v.Text(&M::mutable_gres_name, pool.gres_name);
  v.Text(&M::mutable_gres_type, pool.gres_type);
  v.Scalar(&M::set_count, pool.count);
  v.Scalar(&M::set_allocated, pool.allocated);
  v.Each(pool.device_used_milli != nullptr ? pool.device_cnt : 0,
         [&](uint32_t d) { v.Scalar(&M::add_device_used_milli, pool.device_used_milli[d]); });
  v.Each(pool.shards_total != nullptr ? pool.shard_dev_cnt : 0, [&](uint32_t d) {
    v.Scalar(&M::add_device_shards_total, pool.shards_total[d]);
    v.Scalar(&M::add_device_shards_used,
             pool.shards_used != nullptr ? pool.shards_used[d] : uint32_t{0});
  });
  v.Scalar(&M::set_shards_one_sharing, pool.shards_one_sharing);
  // Where Slurm tracks the devices (File=), cons_tres picks them for a start; a
  // count-only GRES has no devices for it to pick.
  v.Scalar(&M::set_slurm_picks_devices, pool.device_used_milli != nullptr);
  v.Scalar(&M::set_holds_planned_devices, pool.holds_planned_devices);
  v.Scalar(&M::set_holds_planned_shards, pool.holds_planned_shards);
}

template <typename V>
void VisitNode(const ap_node_t& in, V& v) {
  using M = pb::Node;
  v.Text(&M::mutable_name, in.name);
  v.Scalar(&M::set_state, ToProto(in.state));
  v.Texts(&M::mutable_partitions, in.partitions, in.partition_cnt);
  v.Texts(&M::mutable_features, in.features, in.feature_cnt);
  v.Scalar(&M::set_cpus_total, in.cpus_total);
  v.Scalar(&M::set_cpus_allocated, in.cpus_alloc);
  v.Scalar(&M::set_memory_total_mib, in.mem_total_mib);
  v.Scalar(&M::set_memory_allocated_mib, in.mem_alloc_mib);
  v.Each(in.pools != nullptr ? in.pool_cnt : 0, [&](uint32_t p) {
    v.Child(&M::add_accelerators, [&](auto& pool) { VisitPool(in.pools[p], pool); });
  });
  v.Each(in.network_switch != nullptr || in.superpod != nullptr ? 1 : 0, [&](uint32_t) {
    v.Child(&M::mutable_topology, [&](auto& topology) {
      topology.Text(&pb::Topology::mutable_network_switch, in.network_switch);
      topology.Text(&pb::Topology::mutable_superpod, in.superpod);
    });
  });
}

template <typename V>
void VisitPending(const ap_pending_job_t& in, V& v) {
  using M = pb::PendingJob;
  v.Scalar(&M::set_job_id, in.job_id);
  v.Text(&M::mutable_user, in.user);
  v.Text(&M::mutable_account, in.account);
  v.Text(&M::mutable_qos, in.qos);
  v.Texts(&M::mutable_partitions, in.partitions, in.partition_cnt);
  v.Scalar(&M::set_priority, in.priority);
  v.Scalar(&M::set_submit_time_unix, in.submit_time);
  v.Scalar(&M::set_time_limit_s, in.time_limit_s);
  v.Scalar(&M::set_num_nodes, in.num_nodes);
  const bool accelerators =
      in.gres_name != nullptr && in.gres_name[0] != '\0' && in.gres_per_node > 0;
  v.Each(accelerators ? 1 : 0, [&](uint32_t) {
    v.Child(&M::mutable_accelerators, [&](auto& acc) {
      using A = pb::AcceleratorRequest;
      acc.Text(&A::mutable_gres_name, in.gres_name);
      acc.Texts(&A::mutable_allowed_types, in.gres_types, in.gres_type_cnt);
      acc.Scalar(&A::set_count_per_node, in.gres_per_node);
      acc.Scalar(&A::set_shards_per_node, in.shards_per_node);
      acc.Scalar(&A::set_exact_per_node, in.exact_per_node);
    });
  });
  v.Scalar(&M::set_cpus_per_node, in.cpus_per_node);
  v.Scalar(&M::set_memory_per_node_mib, in.mem_per_node_mib);
  v.Texts(&M::mutable_features, in.features, in.feature_cnt);
  v.Texts(&M::mutable_required_nodes, in.req_nodes, in.req_node_cnt);
  v.Texts(&M::mutable_excluded_nodes, in.exc_nodes, in.exc_node_cnt);
  v.Scalar(&M::set_exclusive, in.exclusive);
  v.Texts(&M::mutable_refused_nodes, in.refused_nodes, in.refused_node_cnt);
  v.Scalar(&M::set_refused_starts, in.refused_starts);
  v.Text(&M::mutable_refused_reason, in.refused_reason);
  v.Texts(&M::mutable_reservations, in.reservations, in.reservation_cnt);
  v.Scalar(&M::set_reservation_only, in.reservation_only);
  v.Each(in.feature_any != nullptr ? in.feature_any_cnt : 0, [&](uint32_t c) {
    v.Child(&M::add_feature_any, [&](auto& clause) {
      clause.Split(&pb::FeatureClause::mutable_all, in.feature_any[c], '&');
    });
  });
  v.Scalar(&M::set_feature_any_matching, in.feature_any_matching);
  v.Scalar(&M::set_exclusive_user, in.exclusive_user);
  v.Scalar(&M::set_user_id, in.user_id);
}

template <typename V>
void VisitRunning(const ap_running_job_t& in, V& v) {
  using M = pb::RunningJob;
  v.Scalar(&M::set_job_id, in.job_id);
  v.Scalar(&M::set_start_time_unix, in.start_time);
  v.Scalar(&M::set_time_limit_s, in.time_limit_s);
  v.Text(&M::mutable_partition, in.partition);
  v.Text(&M::mutable_qos, in.qos);
  v.Scalar(&M::set_requeueable, in.requeueable);
  v.Scalar(&M::set_draining, in.draining);
  v.Scalar(&M::set_preempt_exempt_until_unix, in.preempt_exempt_until);
  v.Scalar(&M::set_user_id, in.user_id);
  v.Scalar(&M::set_exclusive_user, in.exclusive_user);
  v.Text(&M::mutable_reservation, in.reservation);
  v.Each(in.allocs != nullptr ? in.alloc_cnt : 0, [&](uint32_t a) {
    const ap_alloc_t& alloc = in.allocs[a];
    v.Child(&M::add_allocations, [&](auto& na) {
      using A = pb::NodeAllocation;
      na.Text(&A::mutable_node, alloc.node);
      na.Text(&A::mutable_gres_name, alloc.gres_name);
      na.Text(&A::mutable_gres_type, alloc.gres_type);
      na.Scalar(&A::set_device_count, alloc.device_count);
      na.Each(alloc.device_indices != nullptr ? alloc.device_index_cnt : 0,
              [&](uint32_t d) { na.Scalar(&A::add_device_indices, alloc.device_indices[d]); });
      na.Each(alloc.device_shards != nullptr ? alloc.device_index_cnt : 0,
              [&](uint32_t d) { na.Scalar(&A::add_device_shards, alloc.device_shards[d]); });
      na.Scalar(&A::set_cpus, alloc.cpus);
      na.Scalar(&A::set_memory_mib, alloc.mem_mib);
    });
  });
}

template <typename V>
void VisitReservation(const ap_adv_resv_t& in, V& v) {
  using M = pb::AdvancedReservation;
  v.Text(&M::mutable_name, in.name);
  v.Scalar(&M::set_start_unix, in.start_time);
  v.Scalar(&M::set_end_unix, in.end_time);
  v.Texts(&M::mutable_nodes, in.nodes, in.node_cnt);
  v.Scalar(&M::set_partial, in.partial);
  const bool counted = in.partial && in.reserved_cpus != nullptr && in.reserved_devices != nullptr;
  v.Each(counted ? in.node_cnt : 0, [&](uint32_t n) {
    v.Scalar(&M::add_reserved_cpus, in.reserved_cpus[n]);
    v.Scalar(&M::add_reserved_devices, in.reserved_devices[n]);
  });
}

// What the snapshot says besides its records (sent whole, never in a delta: a
// change here makes the next request whole).
template <typename V>
void VisitRules(const ap_snapshot_t& snap, V& v) {
  const bool any =
      snap.shards_least_loaded || snap.shards_multiple_per_job || snap.shards_unguarded;
  v.Each(any ? 1 : 0, [&](uint32_t) {
    v.Child(&pb::ClusterSnapshot::mutable_shard_rules, [&](auto& rules) {
      using M = pb::ShardRules;
      rules.Scalar(&M::set_least_loaded, snap.shards_least_loaded);
      rules.Scalar(&M::set_multiple_per_job, snap.shards_multiple_per_job);
      rules.Scalar(&M::set_whole_and_shards_unguarded, snap.shards_unguarded);
    });
  });
}

// Fills a message of type M.
template <typename M>
class ProtoFiller {
 public:
  explicit ProtoFiller(M* msg) : msg_(msg) {}

  template <typename C, typename T, typename X>
  void Scalar(void (C::*set)(T), X x) {
    (msg_->*set)(static_cast<T>(x));
  }
  template <typename C>
  void Text(std::string* (C::*field)(), const char* s) {
    if (s != nullptr) (msg_->*field)()->assign(s);
  }
  template <typename C, typename R>
  void Texts(R* (C::*field)(), const char* const* items, uint32_t count) {
    if (items == nullptr || count == 0) return;
    R* out = (msg_->*field)();
    out->Reserve(static_cast<int>(count));
    for (uint32_t i = 0; i < count; ++i) out->Add()->assign(items[i] != nullptr ? items[i] : "");
  }
  template <typename C, typename R>
  void Split(R* (C::*field)(), const char* s, char sep) {
    if (s == nullptr) return;
    R* out = (msg_->*field)();
    for (const char* piece = s; *piece != '\0';) {
      const char* end = piece;
      while (*end != '\0' && *end != sep) ++end;
      if (end != piece) out->Add()->assign(piece, static_cast<size_t>(end - piece));
      piece = *end == sep ? end + 1 : end;
    }
  }
  template <typename Body>
  void Each(uint32_t count, Body&& body) {
    for (uint32_t i = 0; i < count; ++i) body(i);
  }
  template <typename C, typename Sub, typename Body>
  void Child(Sub* (C::*field)(), Body&& body) {
    ProtoFiller<Sub> sub((msg_->*field)());
    body(sub);
  }

 private:
  M* msg_;
};

// Each kind of C record: where it lives in the snapshot, its key, its fields, and
// its wire kind (where it goes in a delta, where its removals go).
struct CNodes {
  using Wire = wire::NodeRecords;
  static const ap_node_t* Items(const ap_snapshot_t& s) { return s.nodes; }
  static uint32_t Count(const ap_snapshot_t& s) { return s.node_cnt; }
  static absl::string_view KeyOf(const ap_node_t& r) { return r.name != nullptr ? r.name : ""; }
  template <typename V>
  static void Visit(const ap_node_t& r, V& v) {
    VisitNode(r, v);
  }
};
struct CPending {
  using Wire = wire::PendingRecords;
  static const ap_pending_job_t* Items(const ap_snapshot_t& s) { return s.pending; }
  static uint32_t Count(const ap_snapshot_t& s) { return s.pending_cnt; }
  static uint32_t KeyOf(const ap_pending_job_t& r) { return r.job_id; }
  template <typename V>
  static void Visit(const ap_pending_job_t& r, V& v) {
    VisitPending(r, v);
  }
};
struct CRunning {
  using Wire = wire::RunningRecords;
  static const ap_running_job_t* Items(const ap_snapshot_t& s) { return s.running; }
  static uint32_t Count(const ap_snapshot_t& s) { return s.running_cnt; }
  static uint32_t KeyOf(const ap_running_job_t& r) { return r.job_id; }
  template <typename V>
  static void Visit(const ap_running_job_t& r, V& v) {
    VisitRunning(r, v);
  }
};
struct CReservations {
  using Wire = wire::ReservationRecords;
  static const ap_adv_resv_t* Items(const ap_snapshot_t& s) { return s.adv_resv; }
  static uint32_t Count(const ap_snapshot_t& s) { return s.adv_resv_cnt; }
  static absl::string_view KeyOf(const ap_adv_resv_t& r) { return r.name != nullptr ? r.name : ""; }
  template <typename V>
  static void Visit(const ap_adv_resv_t& r, V& v) {
    VisitReservation(r, v);
  }
};

// Calls f(CNodes{}), f(CPending{}), ... until one returns false.
template <typename F>
bool ForEachCKind(F&& f) {
  return f(CNodes{}) && f(CPending{}) && f(CRunning{}) && f(CReservations{});
}

// Converts one record of kind K into the next message of its kind in `into`.
template <typename K, typename Record>
void AddRecord(const Record& record, pb::ClusterSnapshot* into) {
  auto* message = K::Wire::Of(*into)->Add();
  ProtoFiller<std::remove_pointer_t<decltype(message)>> filler(message);
  K::Visit(record, filler);
}

}  // namespace accelpack::bridge::fields
