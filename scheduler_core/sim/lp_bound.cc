// SPDX-License-Identifier: GPL-2.0-or-later
// A lower bound on the static protocol's unallocated GPU %: an LP relaxation solved
// with GLPK. See UnallocatedLowerBound in sim.h.
#include <algorithm>
#include <cctype>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

#include "common/strings.h"
#include "model/cluster.h"
#include "sim/sim.h"

#ifdef ACCELPACK_HAVE_GLPK
#include <glpk.h>
#endif

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
#ifdef ACCELPACK_HAVE_GLPK
  glp_term_out(GLP_OFF);
  glp_prob* lp = glp_create_prob();
  glp_set_obj_dir(lp, GLP_MAX);
  // Rows: one per shape (tasks arrived), three per node type (GPU, CPU, memory).
  const int shape_rows = static_cast<int>(shapes.size());
  glp_add_rows(lp, shape_rows + 3 * static_cast<int>(types.size()));
  int row = 1;
  for (const auto& [key, s] : shapes) {
    glp_set_row_bnds(lp, row++, GLP_UP, 0, static_cast<double>(s.count));
  }
  for (const auto& [key, t] : types) {
    glp_set_row_bnds(lp, row++, GLP_UP, 0,
                     static_cast<double>(t.count) * t.gpus * model::kMilliPerDevice);
    glp_set_row_bnds(lp, row++, GLP_UP, 0, static_cast<double>(t.count) * t.cpu_milli);
    glp_set_row_bnds(lp, row++, GLP_UP, 0,
                     static_cast<double>(t.count) * static_cast<double>(t.memory_mib));
  }
  // The first of node type t's three rows (GPU, then CPU, then memory).
  auto gpu_row = [&](int type_index) { return shape_rows + 1 + 3 * type_index; };
  // Columns: tasks of shape s on nodes of type t, where one fits.
  std::vector<int> ia = {0}, ja = {0};
  std::vector<double> ar = {0};
  auto put = [&](int at_row, int col, double coefficient) {
    ia.push_back(at_row);
    ja.push_back(col);
    ar.push_back(coefficient);
  };
  // Shares' columns by node type and share size: big shares (over half a GPU) and
  // the small ones that may sit in the room a big one leaves.
  std::map<std::pair<int, int>, std::vector<int>> big_cols, small_cols;
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
        const bool share = s.num_gpu == 1 && s.gpu_milli < model::kMilliPerDevice;
        const bool big = share && 2 * s.gpu_milli > model::kMilliPerDevice;
        // A big share keeps its GPU to itself but for small shares in its room
        // (credited below): no two fit one GPU. Small shares pack fractionally.
        const double gpu_milli =
            big ? model::kMilliPerDevice : static_cast<double>(s.request_milli());
        put(shape_row, col, 1);
        put(type_row, col, gpu_milli);
        put(type_row + 1, col, static_cast<double>(s.cpu_milli));
        put(type_row + 2, col, static_cast<double>(s.memory_mib));
        if (share) (big ? big_cols : small_cols)[{type_index, s.gpu_milli}].push_back(col);
      }
      ++type_index;
    }
    ++shape_row;
  }
  // The room big shares of size b leave, (1000 - b) per task, takes only small
  // shares of at most that size: y[g, b, t] tasks of size g in such rooms give their
  // GPU share back to the node type's GPU row, within the rooms and the tasks placed.
  std::map<std::pair<int, int>, int> room_row, supply_row;  // (type, size) -> row
  for (const auto& [big_key, big] : big_cols) {
    const auto [type_index, big_milli] = big_key;
    const int room = model::kMilliPerDevice - big_milli;
    for (const auto& [small_key, small] : small_cols) {
      const auto [small_type, small_milli] = small_key;
      if (small_type != type_index || small_milli > room) continue;
      if (!room_row.contains(big_key)) {
        const int added = glp_add_rows(lp, 1);
        glp_set_row_bnds(lp, added, GLP_UP, 0, 0);
        for (int col : big) put(added, col, -room);
        room_row[big_key] = added;
      }
      if (!supply_row.contains(small_key)) {
        const int added = glp_add_rows(lp, 1);
        glp_set_row_bnds(lp, added, GLP_UP, 0, 0);
        for (int col : small) put(added, col, -1);
        supply_row[small_key] = added;
      }
      const int y = glp_add_cols(lp, 1);
      glp_set_col_bnds(lp, y, GLP_LO, 0, 0);
      put(room_row[big_key], y, small_milli);
      put(supply_row[small_key], y, 1);
      put(gpu_row(type_index), y, -small_milli);
    }
  }
  if (glp_get_num_cols(lp) > 0) {
    glp_load_matrix(lp, static_cast<int>(ia.size()) - 1, ia.data(), ja.data(), ar.data());
  }
  glp_smcp parameters;
  glp_init_smcp(&parameters);
  parameters.msg_lev = GLP_MSG_OFF;
  double placed = 0;
  if (glp_get_num_cols(lp) > 0) {
    const int error = glp_simplex(lp, &parameters);
    if (error != 0 || glp_get_status(lp) != GLP_OPT) {
      glp_delete_prob(lp);
      return absl::InternalError(Cat("GLPK found no optimum (glp_simplex ", error, ")"));
    }
    placed = glp_get_obj_val(lp);
  }
  glp_delete_prob(lp);
  bound.unallocated_pct = std::max(0.0, 100.0 * (1.0 - placed / static_cast<double>(capacity)));
  return bound;
#else
  return absl::UnimplementedError(
      "accelpack-sim was built without GLPK: install libglpk-dev and reconfigure");
#endif
}

}  // namespace accelpack::sim
