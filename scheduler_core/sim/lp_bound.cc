// SPDX-License-Identifier: GPL-2.0-or-later
// A lower bound on the static protocol's unallocated GPU %: an LP relaxation solved
// with GLPK. See UnallocatedLowerBound in sim.h.
#include <glpk.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "model/cluster.h"
#include "policy/share_patterns.h"
#include "sim/sim.h"

namespace accelpack::sim {

namespace {

bool SameModel(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  });
}

struct NodeType {
  int cpu_milli = 0;
  int64_t memory_mib = 0;
  int gpus = 0;
  std::string model;
  int count = 0;
};

struct Shape {
  int cpu_milli = 0;
  int64_t memory_mib = 0;
  int num_gpu = 0;
  int gpu_milli = 0;
  std::vector<std::string> gpu_spec;
  int64_t count = 0;
  int64_t request_milli() const { return int64_t{num_gpu} * gpu_milli; }
};

// Most tasks of GPU shape `s` one empty node of type `t` holds; 0: none.
int64_t PerNode(const Shape& s, const NodeType& t) {
  if (s.num_gpu > t.gpus) return 0;
  if (!s.gpu_spec.empty() &&
      std::none_of(s.gpu_spec.begin(), s.gpu_spec.end(),
                   [&](const std::string& m) { return SameModel(m, t.model); })) {
    return 0;
  }
  int64_t most = s.gpu_milli < model::kMilliPerDevice
                     ? int64_t{t.gpus} * (model::kMilliPerDevice / s.gpu_milli)
                     : t.gpus / s.num_gpu;
  if (s.cpu_milli > 0) most = std::min<int64_t>(most, t.cpu_milli / s.cpu_milli);
  if (s.memory_mib > 0) most = std::min<int64_t>(most, t.memory_mib / s.memory_mib);
  return most;
}

}  // namespace

absl::StatusOr<LowerBound> UnallocatedLowerBound(const std::vector<OpenbNode>& nodes,
                                                 const std::vector<OpenbPod>& pods, uint64_t seed,
                                                 double load, double max_load) {
  std::map<std::tuple<int, int64_t, int, std::string>, NodeType> types;
  int64_t capacity = 0;
  for (const OpenbNode& n : nodes) {
    NodeType& t = types[{n.cpu_milli, n.memory_mib, n.gpus, n.model}];
    t = {n.cpu_milli, n.memory_mib, n.gpus, n.model, t.count + 1};
    capacity += int64_t{n.gpus} * model::kMilliPerDevice;
  }
  if (capacity == 0) return absl::InvalidArgumentError("the node list has no GPUs");
  const std::vector<size_t> arrived = ArrivedTasks(nodes, pods, seed, load, max_load);
  // CPU-only tasks add no GPU request: the LP would never place them, so leave them out.
  // (Forcing them all in, as every measured policy places them, changed no median.)
  std::map<std::tuple<int, int64_t, int, int, std::vector<std::string>>, Shape> shapes;
  for (size_t i : arrived) {
    const OpenbPod& p = pods[i];
    if (p.num_gpu == 0) continue;
    Shape& s = shapes[{p.cpu_milli, p.memory_mib, p.num_gpu, p.gpu_milli, p.gpu_spec}];
    s = {p.cpu_milli, p.memory_mib, p.num_gpu, p.gpu_milli, p.gpu_spec, s.count + 1};
  }
  LowerBound bound;
  bound.tasks = static_cast<int64_t>(arrived.size());
  bound.shapes = static_cast<int>(shapes.size());
  bound.node_types = static_cast<int>(types.size());
  glp_term_out(GLP_OFF);
  const std::unique_ptr<glp_prob, decltype(&glp_delete_prob)> owned(glp_create_prob(),
                                                                    &glp_delete_prob);
  glp_prob* lp = owned.get();
  glp_set_obj_dir(lp, GLP_MAX);
  // Rows: one per shape (tasks arrived), three per node type (GPU, CPU, memory).
  const int shape_rows = static_cast<int>(shapes.size());
  glp_add_rows(lp, shape_rows + 3 * static_cast<int>(types.size()));
  int row = 1;
  for (const auto& [key, s] : shapes) {
    glp_set_row_bnds(lp, row++, GLP_UP, 0, static_cast<double>(s.count));
  }
  std::vector<double> type_gpus;
  for (const auto& [key, t] : types) {
    type_gpus.push_back(static_cast<double>(t.count) * t.gpus);
    glp_set_row_bnds(lp, row++, GLP_UP, 0,
                     static_cast<double>(t.count) * t.gpus * model::kMilliPerDevice);
    glp_set_row_bnds(lp, row++, GLP_UP, 0, static_cast<double>(t.count) * t.cpu_milli);
    glp_set_row_bnds(lp, row++, GLP_UP, 0,
                     static_cast<double>(t.count) * static_cast<double>(t.memory_mib));
  }
  // The first of node type t's three rows (GPU, then CPU, then memory).
  auto gpu_row = [&](int type_index) { return shape_rows + 1 + 3 * type_index; };
  // Shares of size g on type t may not outnumber the g-slots of the share patterns
  // (devices of type t, each filled with a multiset of share sizes) the LP opens:
  // one row per (type, size), its patterns priced by column generation below.
  std::map<int, std::map<int, int>> supply_row;  // type -> size -> row
  // Columns: tasks of shape s on nodes of type t, where one fits.
  std::vector<int> ia = {0}, ja = {0};
  std::vector<double> ar = {0};
  auto put = [&](int at_row, int col, double coefficient) {
    ia.push_back(at_row);
    ja.push_back(col);
    ar.push_back(coefficient);
  };
  int shape_row = 1;
  for (const auto& [skey, s] : shapes) {
    int type_index = 0;
    for (const auto& [tkey, t] : types) {
      const int type_row = gpu_row(type_index);
      const int64_t per_node = PerNode(s, t);
      if (per_node > 0) {
        const int col = glp_add_cols(lp, 1);
        glp_set_col_bnds(lp, col, GLP_DB, 0, static_cast<double>(per_node) * t.count);
        glp_set_obj_coef(lp, col, static_cast<double>(s.request_milli()));
        put(shape_row, col, 1);
        put(type_row + 1, col, static_cast<double>(s.cpu_milli));
        put(type_row + 2, col, static_cast<double>(s.memory_mib));
        if (s.gpu_milli < model::kMilliPerDevice) {  // a share: of one GPU (LoadOpenbPods)
          auto [it, added] = supply_row[type_index].try_emplace(s.gpu_milli, 0);
          if (added) {
            it->second = glp_add_rows(lp, 1);
            glp_set_row_bnds(lp, it->second, GLP_UP, 0, 0);
          }
          put(it->second, col, 1);
        } else {
          put(type_row, col, static_cast<double>(s.request_milli()));
        }
      }
      ++type_index;
    }
    ++shape_row;
  }
  if (glp_get_num_cols(lp) == 0) {
    bound.unallocated_pct = 100.0;
    return bound;
  }
  glp_load_matrix(lp, static_cast<int>(ia.size()) - 1, ia.data(), ja.data(), ar.data());

  // A pattern on type t: one device of its GPU row, `counts` slots of each share size.
  auto add_pattern = [&](int type_index, const std::vector<int>& rows,
                         const std::vector<int>& counts) {
    const int col = glp_add_cols(lp, 1);
    glp_set_col_bnds(lp, col, GLP_LO, 0, 0);
    std::vector<int> at = {0, gpu_row(type_index)};
    std::vector<double> values = {0, model::kMilliPerDevice};
    for (size_t i = 0; i < rows.size(); ++i) {
      if (counts[i] == 0) continue;
      at.push_back(rows[i]);
      values.push_back(-counts[i]);
    }
    glp_set_mat_col(lp, col, static_cast<int>(at.size()) - 1, at.data(), values.data());
  };
  struct TypeSizes {
    int type_index;
    std::vector<int> sizes;
    std::vector<int> rows;
  };
  std::vector<TypeSizes> share_types;
  for (const auto& [type_index, by_size] : supply_row) {
    TypeSizes entry{type_index, {}, {}};
    for (const auto& [size, at] : by_size) {
      entry.sizes.push_back(size);
      entry.rows.push_back(at);
    }
    for (size_t i = 0; i < entry.sizes.size(); ++i) {  // one size per device: feasible
      std::vector<int> counts(entry.sizes.size(), 0);
      counts[i] = model::kMilliPerDevice / entry.sizes[i];
      add_pattern(type_index, entry.rows, counts);
    }
    share_types.push_back(std::move(entry));
  }

  glp_smcp parameters;
  glp_init_smcp(&parameters);
  parameters.msg_lev = GLP_MSG_OFF;
  // Column generation. Whatever round it stops in, the restricted LP's optimum plus,
  // per type, its devices times the best pattern's reduced cost bounds the full LP's
  // (Lagrangian bound: no type opens more patterns than it has devices), so the
  // answer stays a bound; at the optimum that term is zero.
  constexpr int kMaxRounds = 500;
  double placed = 0;
  for (int round = 0;; ++round) {
    const int error = glp_simplex(lp, &parameters);
    if (error != 0 || glp_get_status(lp) != GLP_OPT) {
      return absl::InternalError(Cat("GLPK found no optimum (glp_simplex ", error, ")"));
    }
    double gap = 0;
    bool added = false;
    for (const TypeSizes& entry : share_types) {
      std::vector<double> duals;
      for (int at : entry.rows) duals.push_back(std::max(0.0, glp_get_row_dual(lp, at)));
      const double device_price =
          std::max(0.0, glp_get_row_dual(lp, gpu_row(entry.type_index))) * model::kMilliPerDevice;
      auto [counts, value] = policy::BestSharePattern(entry.sizes, duals);
      const double reduced = value - device_price;
      if (reduced <= 0) continue;
      // Counted even when too small to price (rounding): the answer stays a bound.
      gap += reduced * type_gpus[static_cast<size_t>(entry.type_index)];
      if (round < kMaxRounds && reduced > 1e-6 * std::max(1.0, device_price)) {
        add_pattern(entry.type_index, entry.rows, counts);
        added = true;
      }
    }
    if (!added) {  // optimal but for rounding, or out of rounds
      placed = glp_get_obj_val(lp) + gap;
      bound.pattern_gap_pct = 100.0 * gap / static_cast<double>(capacity);
      break;
    }
  }
  bound.unallocated_pct = std::max(0.0, 100.0 * (1.0 - placed / static_cast<double>(capacity)));
  return bound;
}

absl::StatusOr<SeedBounds> LowerBoundOverSeeds(const std::vector<OpenbNode>& nodes,
                                               const std::vector<OpenbPod>& pods,
                                               const std::vector<uint64_t>& seeds,
                                               double max_load) {
  SeedBounds bounds;
  for (uint64_t seed : seeds) {
    auto bound = UnallocatedLowerBound(nodes, pods, seed, 1.0, max_load);
    if (!bound.ok()) return bound.status();
    bounds.per_seed.push_back(bound->unallocated_pct);
    bounds.largest_pattern_gap_pct =
        std::max(bounds.largest_pattern_gap_pct, bound->pattern_gap_pct);
  }
  bounds.median = Median(bounds.per_seed);
  return bounds;
}

}  // namespace accelpack::sim
