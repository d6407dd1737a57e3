// plan_data.cc: shape checks and the C copy of a plan.
// SPDX-License-Identifier: GPL-2.0-or-later
#include "plan_data.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "accelpack/v1/wire_text.h"

namespace accelpack::bridge {

absl::Status CheckPlanShape(const PlanData& plan, const ap_snapshot_t& snap) {
  std::unordered_map<uint32_t, uint32_t> num_nodes;  // job id -> nodes it needs
  for (uint32_t i = 0; snap.pending != nullptr && i < snap.pending_cnt; ++i) {
    num_nodes.emplace(snap.pending[i].job_id, snap.pending[i].num_nodes);
  }
  std::unordered_set<std::string_view> known_nodes;
  for (uint32_t i = 0; snap.nodes != nullptr && i < snap.node_cnt; ++i) {
    if (snap.nodes[i].name != nullptr) known_nodes.insert(snap.nodes[i].name);
  }
  std::unordered_set<uint32_t> seen_jobs;
  for (size_t s = 0; s < plan.starts.size(); ++s) {
    const PlannedStart& start = plan.starts[s];
    auto where = [&] { return absl::StrCat("starts[", s, "] (job ", start.job_id, "): "); };
    auto job = num_nodes.find(start.job_id);
    if (job == num_nodes.end()) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "not a pending job"));
    }
    if (!seen_jobs.insert(start.job_id).second) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "started twice"));
    }
    if (start.nodes.size() != job->second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), start.nodes.size(), " nodes, job needs ", job->second));
    }
    if (start.gres_types.size() != start.nodes.size()) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "types do not match nodes"));
    }
    std::unordered_set<std::string_view> distinct;
    for (const std::string& node : start.nodes) {
      if (!known_nodes.contains(node)) {
        return absl::InvalidArgumentError(absl::StrCat(where(), "unknown node '", node, "'"));
      }
      if (!distinct.insert(node).second) {
        return absl::InvalidArgumentError(absl::StrCat(where(), "node '", node, "' twice"));
      }
    }
  }
  for (size_t r = 0; r < plan.reservations.size(); ++r) {
    const PlannedReservation& reservation = plan.reservations[r];
    auto where = [&] {
      return absl::StrCat("reservations[", r, "] (job ", reservation.job_id, "): ");
    };
    if (!num_nodes.contains(reservation.job_id) || seen_jobs.contains(reservation.job_id)) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "not a job left pending"));
    }
    for (const std::string& node : reservation.nodes) {
      if (!known_nodes.contains(node)) {
        return absl::InvalidArgumentError(absl::StrCat(where(), "unknown node '", node, "'"));
      }
    }
  }
  std::unordered_set<uint32_t> running;
  for (uint32_t i = 0; snap.running != nullptr && i < snap.running_cnt; ++i) {
    running.insert(snap.running[i].job_id);
  }
  std::unordered_set<uint32_t> preempting, named_victims;
  for (size_t p = 0; p < plan.preemptions.size(); ++p) {
    const PlannedPreemption& preemption = plan.preemptions[p];
    auto where = [&] {
      return absl::StrCat("preemptions[", p, "] (job ", preemption.job_id, "): ");
    };
    if (!num_nodes.contains(preemption.job_id) || seen_jobs.contains(preemption.job_id) ||
        !preempting.insert(preemption.job_id).second) {
      return absl::InvalidArgumentError(absl::StrCat(where(), "not a job left pending, once"));
    }
    for (const std::string& node : preemption.nodes) {
      if (!known_nodes.contains(node)) {
        return absl::InvalidArgumentError(absl::StrCat(where(), "unknown node '", node, "'"));
      }
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
  std::unordered_set<uint32_t> explained(seen_jobs);
  for (const PlannedReason& reason : plan.reasons) explained.insert(reason.job_id);
  for (uint32_t i = 0; snap.pending != nullptr && i < snap.pending_cnt; ++i) {
    if (!explained.contains(snap.pending[i].job_id)) {
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
    if (!in.nodes.empty() && (st.nodes == nullptr || st.gres_types == nullptr)) {
      ok = false;
      break;
    }
    st.node_cnt = static_cast<uint32_t>(in.nodes.size());
    for (size_t n = 0; ok && n < in.nodes.size(); ++n) {
      st.nodes[n] = Dup(in.nodes[n]);
      st.gres_types[n] = Dup(n < in.gres_types.size() ? in.gres_types[n] : std::string());
      ok = st.nodes[n] != nullptr && st.gres_types[n] != nullptr;
    }
  }
  out->reasons = ok ? CallocArray<ap_reason_t>(plan.reasons.size()) : nullptr;
  ok = ok && (plan.reasons.empty() || out->reasons != nullptr);
  for (size_t r = 0; ok && r < plan.reasons.size(); ++r) {
    out->reason_cnt = static_cast<uint32_t>(r + 1);
    out->reasons[r].job_id = plan.reasons[r].job_id;
    out->reasons[r].code = plan.reasons[r].code;
    out->reasons[r].message = Dup(plan.reasons[r].message);
    ok = out->reasons[r].message != nullptr;
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
