// plan_data.cc: shape checks and the C copy of a plan.
// SPDX-License-Identifier: GPL-2.0-or-later
#include "plan_data.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "accelpack/v1/wire_text.h"

namespace accelpack::bridge {

namespace {

// What the checks know of one pending job of the snapshot.
struct PendingMark {
  uint32_t num_nodes = 0;
  const char* gres_name = nullptr;  // the accelerator GRES it asks for; NULL: none
  bool started = false;
  bool explained = false;
};

// The first node `nodes` names a second time; nullptr: none. Plans name a few nodes
// per job: a scan, a set only for large gangs.
const std::string* RepeatedNode(const std::vector<std::string>& nodes) {
  constexpr size_t kScanUpTo = 16;
  if (nodes.size() <= kScanUpTo) {
    for (size_t i = 1; i < nodes.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (nodes[i] == nodes[j]) return &nodes[i];
      }
    }
    return nullptr;
  }
  absl::flat_hash_set<absl::string_view> seen;
  seen.reserve(nodes.size());
  for (const std::string& node : nodes) {
    if (!seen.insert(node).second) return &node;
  }
  return nullptr;
}

// The devices a start names on one node: distinct, in the node's pool of the job's GRES
// `name` and `type` (a node may have typeless gpu and npu pools side by side).
absl::Status CheckPlannedDevices(const ap_node_t& node, const char* name, const std::string& type,
                                 const std::vector<uint32_t>& devices) {
  const ap_pool_t* pool = nullptr;
  for (uint32_t p = 0; name != nullptr && node.pools != nullptr && p < node.pool_cnt; ++p) {
    const char* pool_name = node.pools[p].gres_name != nullptr ? node.pools[p].gres_name : "";
    const char* pool_type = node.pools[p].gres_type != nullptr ? node.pools[p].gres_type : "";
    if (std::strcmp(name, pool_name) == 0 && type == pool_type) {
      pool = &node.pools[p];
      break;
    }
  }
  if (pool == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("devices of a pool it does not have ('",
                                                   wire::OneLine(name ? name : "", 64), ":",
                                                   wire::OneLine(type, 64), "')"));
  }
  if (devices.size() > pool->count) {
    return absl::InvalidArgumentError(
        absl::StrCat(devices.size(), " devices of a pool of ", pool->count));
  }
  std::vector<uint32_t> sorted = devices;
  std::sort(sorted.begin(), sorted.end());
  if (sorted.back() >= pool->count) {
    return absl::InvalidArgumentError(
        absl::StrCat("device ", sorted.back(), " of a pool of ", pool->count));
  }
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
    return absl::InvalidArgumentError("a device twice");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckPlanShape(const PlanData& plan, const ap_snapshot_t& snap) {
  absl::flat_hash_map<uint32_t, PendingMark> pending;
  pending.reserve(snap.pending != nullptr ? snap.pending_cnt : 0);
  for (uint32_t i = 0; snap.pending != nullptr && i < snap.pending_cnt; ++i) {
    PendingMark mark;
    mark.num_nodes = snap.pending[i].num_nodes;
    mark.gres_name = snap.pending[i].gres_name;
    pending.try_emplace(snap.pending[i].job_id, mark);
  }
  absl::flat_hash_map<absl::string_view, const ap_node_t*> known_nodes;
  known_nodes.reserve(snap.nodes != nullptr ? snap.node_cnt : 0);
  for (uint32_t i = 0; snap.nodes != nullptr && i < snap.node_cnt; ++i) {
    if (snap.nodes[i].name != nullptr) known_nodes.try_emplace(snap.nodes[i].name, &snap.nodes[i]);
  }
  const auto unknown_node = [&](const std::vector<std::string>& nodes) -> const std::string* {
    for (const std::string& node : nodes) {
      if (!known_nodes.contains(node)) return &node;
    }
    return nullptr;
  };
  // A job that stays pending after this plan: none of its starts.
  const auto left_pending = [&](uint32_t job_id) {
    auto job = pending.find(job_id);
    return job != pending.end() && !job->second.started;
  };
  for (size_t s = 0; s < plan.starts.size(); ++s) {
    const PlannedStart& start = plan.starts[s];
    auto where = [&] { return absl::StrCat("starts[", s, "] (job ", start.job_id, "): "); };
    auto job = pending.find(start.job_id);
    if (job == pending.end()) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "not a pending job"));
    }
    if (std::exchange(job->second.started, true)) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "started twice"));
    }
    if (start.nodes.size() != job->second.num_nodes) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), start.nodes.size(), " nodes, job needs ", job->second.num_nodes));
    }
    if (start.gres_types.size() != start.nodes.size()) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "types do not match nodes"));
    }
    if (const std::string* node = unknown_node(start.nodes); node != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "unknown node '", *node, "'"));
    }
    if (const std::string* node = RepeatedNode(start.nodes); node != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "node '", *node, "' twice"));
    }
    if (!start.devices.empty() && start.devices.size() != start.nodes.size()) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "device lists do not match nodes"));
    }
    for (size_t n = 0; n < start.devices.size(); ++n) {
      if (start.devices[n].empty()) continue;
      if (absl::Status status =
              CheckPlannedDevices(*known_nodes.at(start.nodes[n]), job->second.gres_name,
                                  start.gres_types[n], start.devices[n]);
          !status.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(), "node '", start.nodes[n], "': ", status.message()));
      }
    }
  }
  // One planned start per job: apply shows each under the locks, so a reply that
  // repeats one job's would hold them for nothing.
  absl::flat_hash_set<uint32_t> reserved;
  reserved.reserve(plan.reservations.size());
  for (size_t r = 0; r < plan.reservations.size(); ++r) {
    const PlannedReservation& reservation = plan.reservations[r];
    auto where = [&] {
      return absl::StrCat("reservations[", r, "] (job ", reservation.job_id, "): ");
    };
    if (!left_pending(reservation.job_id) || !reserved.insert(reservation.job_id).second) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "not a job left pending, once"));
    }
    if (const std::string* node = unknown_node(reservation.nodes); node != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "unknown node '", *node, "'"));
    }
  }
  absl::flat_hash_set<uint32_t> running;
  running.reserve(snap.running != nullptr ? snap.running_cnt : 0);
  for (uint32_t i = 0; snap.running != nullptr && i < snap.running_cnt; ++i) {
    running.insert(snap.running[i].job_id);
  }
  absl::flat_hash_set<uint32_t> preempting, named_victims;
  for (size_t p = 0; p < plan.preemptions.size(); ++p) {
    const PlannedPreemption& preemption = plan.preemptions[p];
    auto where = [&] {
      return absl::StrCat("preemptions[", p, "] (job ", preemption.job_id, "): ");
    };
    if (!left_pending(preemption.job_id) || !preempting.insert(preemption.job_id).second) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "not a job left pending, once"));
    }
    if (const std::string* node = unknown_node(preemption.nodes); node != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "unknown node '", *node, "'"));
    }
    for (const std::vector<uint32_t>* ids : {&preemption.victims, &preemption.awaiting}) {
      for (uint32_t id : *ids) {
        if (!running.contains(id) || !named_victims.insert(id).second) {
          return absl::InvalidArgumentError(
              absl::StrCat(where(), "victim ", id, " is not a running job, once"));
        }
      }
    }
  }
  // Every job left pending gets a reason (the contract): a plan that silently drops
  // jobs is a core that went wrong, not a cluster where nothing fits. An empty plan
  // with every job explained is healthy and must not trigger the fallback.
  // A reason for a job the snapshot does not hold is kept by the reason deltas
  // (bridge and core merge them) and would grow that list with every answer.
  for (size_t r = 0; r < plan.reasons.size(); ++r) {
    auto job = pending.find(plan.reasons[r].job_id);
    if (job == pending.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "reasons[", r, "]: job ", plan.reasons[r].job_id, " is not pending in the snapshot"));
    }
    job->second.explained = true;
  }
  for (uint32_t i = 0; snap.pending != nullptr && i < snap.pending_cnt; ++i) {
    const PendingMark& mark = pending.at(snap.pending[i].job_id);
    if (!mark.started && !mark.explained) {
      return absl::InvalidArgumentError(absl::StrCat("pending job ", snap.pending[i].job_id,
                                                     " has neither a start nor a reason"));
    }
  }
  return absl::OkStatus();
}

namespace {

char* Dup(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out != nullptr) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

template <typename T>
T* CallocArray(size_t n) {
  return n == 0 ? nullptr : static_cast<T*>(std::calloc(n, sizeof(T)));
}

}  // namespace

absl::Status ExportPlan(const PlanData& plan, ap_plan_t* out) {
  *out = ap_plan_t{};
  bool ok = true;
  out->starts = CallocArray<ap_start_t>(plan.starts.size());
  ok = ok && (plan.starts.empty() || out->starts != nullptr);
  for (size_t s = 0; ok && s < plan.starts.size(); ++s) {
    const PlannedStart& in = plan.starts[s];
    ap_start_t& st = out->starts[s];
    out->start_cnt = static_cast<uint32_t>(s + 1);  // what ap_plan_free must release
    st.job_id = in.job_id;
    st.nodes = CallocArray<char*>(in.nodes.size());
    st.gres_types = CallocArray<char*>(in.nodes.size());
    st.devices = CallocArray<uint32_t*>(in.nodes.size());
    st.device_cnt = CallocArray<uint32_t>(in.nodes.size());
    if (!in.nodes.empty() && (st.nodes == nullptr || st.gres_types == nullptr ||
                              st.devices == nullptr || st.device_cnt == nullptr)) {
      ok = false;
      break;
    }
    st.node_cnt = static_cast<uint32_t>(in.nodes.size());
    for (size_t n = 0; ok && n < in.nodes.size(); ++n) {
      st.nodes[n] = Dup(in.nodes[n]);
      st.gres_types[n] = Dup(n < in.gres_types.size() ? in.gres_types[n] : std::string());
      ok = st.nodes[n] != nullptr && st.gres_types[n] != nullptr;
      const std::vector<uint32_t>* devices = n < in.devices.size() ? &in.devices[n] : nullptr;
      if (ok && devices != nullptr && !devices->empty()) {
        st.devices[n] = CallocArray<uint32_t>(devices->size());
        ok = st.devices[n] != nullptr;
        if (ok) {
          std::copy(devices->begin(), devices->end(), st.devices[n]);
          st.device_cnt[n] = static_cast<uint32_t>(devices->size());
        }
      }
    }
  }
  // Every reason's text in one block: a plan explains ~10^4 jobs each cycle.
  size_t text_bytes = 0;
  for (const PlannedReason& reason : plan.reasons) text_bytes += reason.message.size() + 1;
  out->reasons = ok ? CallocArray<ap_reason_t>(plan.reasons.size()) : nullptr;
  out->reason_text = ok ? static_cast<char*>(std::malloc(text_bytes)) : nullptr;
  ok = ok && (plan.reasons.empty() || (out->reasons != nullptr && out->reason_text != nullptr));
  char* text = out->reason_text;
  for (size_t r = 0; ok && r < plan.reasons.size(); ++r) {
    const PlannedReason& in = plan.reasons[r];
    out->reason_cnt = static_cast<uint32_t>(r + 1);
    out->reasons[r].job_id = in.job_id;
    out->reasons[r].code = in.code;
    out->reasons[r].message = text;
    std::memcpy(text, in.message.c_str(), in.message.size() + 1);
    text += in.message.size() + 1;
  }
  out->reservations = ok ? CallocArray<ap_reservation_t>(plan.reservations.size()) : nullptr;
  ok = ok && (plan.reservations.empty() || out->reservations != nullptr);
  for (size_t r = 0; ok && r < plan.reservations.size(); ++r) {
    out->reservation_cnt = static_cast<uint32_t>(r + 1);
    out->reservations[r].job_id = plan.reservations[r].job_id;
    out->reservations[r].start_time = plan.reservations[r].start_time;
    out->reservations[r].nodes = Dup(absl::StrJoin(plan.reservations[r].nodes, ","));
    ok = out->reservations[r].nodes != nullptr;
  }
  out->preemptions = ok ? CallocArray<ap_preemption_t>(plan.preemptions.size()) : nullptr;
  ok = ok && (plan.preemptions.empty() || out->preemptions != nullptr);
  for (size_t p = 0; ok && p < plan.preemptions.size(); ++p) {
    const PlannedPreemption& in = plan.preemptions[p];
    ap_preemption_t& pr = out->preemptions[p];
    out->preemption_cnt = static_cast<uint32_t>(p + 1);
    pr.job_id = in.job_id;
    pr.victims = CallocArray<uint32_t>(in.victims.size());
    pr.awaiting = CallocArray<uint32_t>(in.awaiting.size());
    pr.nodes = CallocArray<char*>(in.nodes.size());
    ok = (in.victims.empty() || pr.victims != nullptr) &&
         (in.awaiting.empty() || pr.awaiting != nullptr) &&
         (in.nodes.empty() || pr.nodes != nullptr);
    if (!ok) break;
    std::copy(in.victims.begin(), in.victims.end(), pr.victims);
    pr.victim_cnt = static_cast<uint32_t>(in.victims.size());
    std::copy(in.awaiting.begin(), in.awaiting.end(), pr.awaiting);
    pr.awaiting_cnt = static_cast<uint32_t>(in.awaiting.size());
    pr.node_cnt = static_cast<uint32_t>(in.nodes.size());
    for (size_t n = 0; ok && n < in.nodes.size(); ++n) {
      pr.nodes[n] = Dup(in.nodes[n]);
      ok = pr.nodes[n] != nullptr;
    }
  }
  out->policy_name = ok ? Dup(plan.policy_name) : nullptr;
  ok = ok && out->policy_name != nullptr;
  out->engine_latency_us = plan.engine_latency_us;
  if (!ok) {
    ap_plan_free(out);
    return absl::ResourceExhaustedError("out of memory copying the plan");
  }
  return absl::OkStatus();
}

void CopyError(absl::string_view message, char* err, size_t errlen) noexcept {
  if (err == nullptr || errlen == 0) return;
  // The plugin logs this: texts from the core or gRPC are escaped and bounded here.
  std::string text;
  try {
    text = wire::Printable(std::string_view(message.data(), message.size()), errlen - 1);
  } catch (...) {  // out of memory: no message rather than an unchecked one
    text.clear();
  }
  std::memcpy(err, text.data(), text.size());
  err[text.size()] = '\0';
}

}  // namespace accelpack::bridge
