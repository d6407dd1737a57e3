// fallback.cc: see fallback.h. SPDX-License-Identifier: GPL-2.0-or-later
#include "fallback.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace accelpack::fallback {
namespace {

std::string_view View(const char* s) { return s != nullptr ? std::string_view(s) : ""; }

bool Contains(const char* const* items, uint32_t count, std::string_view want) {
  for (uint32_t i = 0; items != nullptr && i < count; ++i) {
    if (View(items[i]) == want) return true;
  }
  return false;
}

// What is still free on one node while the plan is being built.
struct FreeNode {
  const ap_node_t* node = nullptr;
  bool usable = false;
  uint32_t cpus_free = 0;
  uint64_t mem_free = 0;
  std::vector<uint32_t> pool_free;  // per ap_node_t::pools entry
};

// Why nodes were rejected for one job, for its pending reason.
struct Rejections {
  uint32_t unusable = 0, partition = 0, excluded = 0, features = 0, devices = 0, cpus = 0,
           memory = 0;

  std::string Summary(uint32_t total, std::string_view gres) const {
    std::vector<std::string> parts;
    auto add = [&](uint32_t n, std::string_view what) {
      if (n > 0) parts.push_back(absl::StrCat(n, " ", std::string(what)));
    };
    add(devices, absl::StrCat("too few free ", gres.empty() ? "devices" : std::string(gres)));
    add(cpus, "too few free CPUs");
    add(memory, "too little free memory");
    add(features, "lack features");
    add(partition, "not in partition");
    add(excluded, "excluded");
    add(unusable, "down/drained/reserved");
    return absl::StrCat(
        "built-in policy: no room now (", total,
        " nodes: ", parts.empty() ? "enough fit, but not all at once" : absl::StrJoin(parts, ", "),
        ")");
  }
};

struct Fit {
  size_t node = 0;
  int pool = -1;  // index into pools, -1: no accelerators requested
  uint64_t devices_left = 0;
  uint64_t cpus_left = 0;
};

bool InAnyPartition(const ap_pending_job_t& job, const ap_node_t& node) {
  if (job.partition_cnt == 0) return true;
  for (uint32_t p = 0; p < job.partition_cnt; ++p) {
    if (Contains(node.partitions, node.partition_cnt, View(job.partitions[p]))) return true;
  }
  return false;
}

// Best pool on `free` for `job` (fewest devices left after placing), or nullopt-like -1
// when none holds the request. A request fits in one pool: Slurm may mix types of a
// typeless request on one node, but keeping to one type is what sites expect.
int BestPool(const ap_pending_job_t& job, const FreeNode& free) {
  int best = -1;
  uint32_t best_left = std::numeric_limits<uint32_t>::max();
  for (uint32_t p = 0; p < free.node->pool_cnt; ++p) {
    const ap_pool_t& pool = free.node->pools[p];
    if (View(pool.gres_name) != View(job.gres_name)) continue;
    if (job.gres_type_cnt > 0 &&
        !Contains(job.gres_types, job.gres_type_cnt, View(pool.gres_type))) {
      continue;
    }
    if (free.pool_free[p] < job.gres_per_node) continue;
    uint32_t left = free.pool_free[p] - job.gres_per_node;
    if (left < best_left) {
      best_left = left;
      best = static_cast<int>(p);
    }
  }
  return best;
}

}  // namespace

bridge::PlanData Schedule(const ap_snapshot_t& snap) {
  bridge::PlanData plan;
  plan.policy_name = kPolicyName;

  std::vector<FreeNode> nodes(snap.node_cnt);
  std::unordered_map<std::string_view, size_t> by_name;
  for (uint32_t i = 0; i < snap.node_cnt; ++i) {
    const ap_node_t& n = snap.nodes[i];
    FreeNode& f = nodes[i];
    f.node = &n;
    f.usable = n.state == AP_NODE_IDLE || n.state == AP_NODE_MIXED || n.state == AP_NODE_ALLOCATED;
    f.cpus_free = n.cpus_total > n.cpus_alloc ? n.cpus_total - n.cpus_alloc : 0;
    f.mem_free = n.mem_total_mib > n.mem_alloc_mib ? n.mem_total_mib - n.mem_alloc_mib : 0;
    f.pool_free.resize(n.pool_cnt);
    for (uint32_t p = 0; p < n.pool_cnt; ++p) {
      f.pool_free[p] =
          n.pools[p].count > n.pools[p].allocated ? n.pools[p].count - n.pools[p].allocated : 0;
    }
    if (n.name != nullptr) by_name.emplace(n.name, i);
  }

  std::vector<uint32_t> order(snap.pending_cnt);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const ap_pending_job_t& x = snap.pending[a];
    const ap_pending_job_t& y = snap.pending[b];
    if (x.priority != y.priority) return x.priority > y.priority;
    if (x.submit_time != y.submit_time) return x.submit_time < y.submit_time;
    return x.job_id < y.job_id;
  });

  for (uint32_t idx : order) {
    const ap_pending_job_t& job = snap.pending[idx];
    const bool wants_devices =
        job.gres_name != nullptr && job.gres_name[0] != '\0' && job.gres_per_node > 0;
    const uint32_t need_nodes = std::max(job.num_nodes, 1u);
    Rejections why;
    std::vector<Fit> fits;
    for (size_t i = 0; i < nodes.size(); ++i) {
      const FreeNode& f = nodes[i];
      const ap_node_t& n = *f.node;
      if (!f.usable) {
        ++why.unusable;
        continue;
      }
      if (!InAnyPartition(job, n)) {
        ++why.partition;
        continue;
      }
      if (Contains(job.exc_nodes, job.exc_node_cnt, View(n.name))) {
        ++why.excluded;
        continue;
      }
      bool has_features = true;
      for (uint32_t k = 0; k < job.feature_cnt; ++k) {
        has_features = has_features && Contains(n.features, n.feature_cnt, View(job.features[k]));
      }
      if (!has_features) {
        ++why.features;
        continue;
      }
      Fit fit{.node = i};
      if (wants_devices) {
        fit.pool = BestPool(job, f);
        if (fit.pool < 0) {
          ++why.devices;
          continue;
        }
        fit.devices_left = f.pool_free[static_cast<size_t>(fit.pool)] - job.gres_per_node;
      }
      if (f.cpus_free < std::max(job.cpus_per_node, 1u)) {
        ++why.cpus;
        continue;
      }
      if (f.mem_free < job.mem_per_node_mib) {
        ++why.memory;
        continue;
      }
      fit.cpus_left = f.cpus_free - std::max(job.cpus_per_node, 1u);
      fits.push_back(fit);
    }

    // Required nodes (-w) first, then best fit: fewest devices left, fewest CPUs left,
    // then name (stable across cycles, never node-table order).
    auto required = [&](const Fit& f) {
      return Contains(job.req_nodes, job.req_node_cnt, View(nodes[f.node].node->name));
    };
    std::sort(fits.begin(), fits.end(), [&](const Fit& a, const Fit& b) {
      bool ra = required(a), rb = required(b);
      if (ra != rb) return ra;
      if (a.devices_left != b.devices_left) return a.devices_left < b.devices_left;
      if (a.cpus_left != b.cpus_left) return a.cpus_left < b.cpus_left;
      return View(nodes[a.node].node->name) < View(nodes[b.node].node->name);
    });
    uint32_t required_fitting = 0;
    for (const Fit& f : fits) required_fitting += required(f) ? 1u : 0u;

    if (fits.size() < need_nodes || required_fitting < job.req_node_cnt ||
        job.req_node_cnt > need_nodes) {
      plan.reasons.push_back(
          {job.job_id, AP_REASON_RESOURCES, why.Summary(snap.node_cnt, View(job.gres_name))});
      continue;
    }
    // All or nothing: commit only now that every node of the gang is found.
    bridge::PlannedStart start;
    start.job_id = job.job_id;
    for (uint32_t k = 0; k < need_nodes; ++k) {
      const Fit& f = fits[k];
      FreeNode& free = nodes[f.node];
      start.nodes.emplace_back(View(free.node->name));
      if (f.pool >= 0) {
        free.pool_free[static_cast<size_t>(f.pool)] -= job.gres_per_node;
        start.gres_types.emplace_back(View(free.node->pools[f.pool].gres_type));
      } else {
        start.gres_types.emplace_back();
      }
      free.cpus_free -= std::min(free.cpus_free, std::max(job.cpus_per_node, 1u));
      free.mem_free -= std::min(free.mem_free, job.mem_per_node_mib);
    }
    plan.starts.push_back(std::move(start));
  }
  return plan;
}

}  // namespace accelpack::fallback
