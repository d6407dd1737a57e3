// The FGD protocol: one ClusterState, tasks placed one by one, none leaving.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <set>

#include "common/strings.h"
#include "engine/engine.h"
#include "sim/sim.h"

namespace accelpack::sim {

namespace {

uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int64_t RequestMilli(const OpenbPod& pod) { return int64_t{pod.num_gpu} * pod.gpu_milli; }

model::PendingJob TaskJob(const OpenbPod& pod, uint32_t id) {
  model::PendingJob job;
  job.id = id;
  job.cpus_per_node = pod.cpu_milli;
  job.memory_per_node_mib = pod.memory_mib;
  if (pod.num_gpu > 0) {
    job.accelerators.gres_name = "gpu";
    job.accelerators.count_per_node = pod.num_gpu;
    job.accelerators.fraction_milli = pod.gpu_milli < model::kMilliPerDevice ? pod.gpu_milli : 0;
    for (const auto& model : pod.gpu_spec) job.accelerators.allowed_types.push_back(Lower(model));
  }
  return job;
}

}  // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t& s : s_) s = SplitMix(seed);
}

uint64_t Rng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double Rng::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

size_t Rng::Index(size_t n) {
  // Rejection keeps every index equally likely.
  const uint64_t bound = static_cast<uint64_t>(n);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t x = Next();
  while (x >= limit) x = Next();
  return static_cast<size_t>(x % bound);
}

double Rng::Exponential(double mean) { return -mean * std::log1p(-Uniform()); }

absl::StatusOr<policy::PolicyConfig> ResolvePolicy(std::string_view name_or_file, uint64_t seed,
                                                   const policy::PluginArgs& extra) {
  const auto names = policy::PresetNames();
  if (std::find(names.begin(), names.end(), name_or_file) != names.end()) {
    return policy::PresetPolicy(name_or_file, seed, extra);
  }
  if (std::filesystem::exists(std::string(name_or_file))) {
    auto config = policy::LoadPolicyFile(std::string(name_or_file));
    if (config.ok()) policy::AddWorkloadShapes(*config, extra);
    return config;
  }
  return absl::InvalidArgumentError(Cat("policy \"", name_or_file, "\": neither a preset (",
                                        Join(names, ", "), ") nor a policy file"));
}

std::vector<size_t> DrawTasks(const std::vector<OpenbPod>& pods, int64_t capacity_milli,
                              double max_load, uint64_t seed) {
  std::vector<size_t> tasks;
  const bool any_gpu =
      std::any_of(pods.begin(), pods.end(), [](const OpenbPod& p) { return RequestMilli(p) > 0; });
  if (!any_gpu) return tasks;
  Rng rng(seed);
  const double target = max_load * static_cast<double>(capacity_milli);
  // As the artifact's workload tuning does: every pod of the list once, then random
  // removals down to the target, or uniform draws with replacement up to it (a draw
  // that would pass the target by more than its per-GPU share ends the list).
  double requested = 0;
  for (size_t i = 0; i < pods.size(); ++i) {
    tasks.push_back(i);
    requested += static_cast<double>(RequestMilli(pods[i]));
  }
  if (requested > target) {
    while (requested > target && !tasks.empty()) {
      const size_t k = rng.Index(tasks.size());
      requested -= static_cast<double>(RequestMilli(pods[tasks[k]]));
      tasks.erase(tasks.begin() + static_cast<std::ptrdiff_t>(k));
    }
  } else {
    for (;;) {
      const size_t i = rng.Index(pods.size());
      const int per_gpu = pods[i].num_gpu > 0 ? pods[i].gpu_milli : 0;
      if (requested + per_gpu > target) break;
      tasks.push_back(i);
      requested += static_cast<double>(RequestMilli(pods[i]));
    }
  }
  for (size_t i = tasks.size(); i > 1; --i) std::swap(tasks[i - 1], tasks[rng.Index(i)]);
  return tasks;
}

std::vector<size_t> ArrivedTasks(const std::vector<OpenbNode>& nodes,
                                 const std::vector<OpenbPod>& pods, uint64_t seed, double load,
                                 double max_load) {
  int64_t capacity = 0;
  for (const OpenbNode& node : nodes) capacity += int64_t{node.gpus} * model::kMilliPerDevice;
  std::vector<size_t> tasks = DrawTasks(pods, capacity, max_load, seed);
  // As RunStatic records a load: after the task that brings the arrived requests to it.
  int64_t arrived = 0;
  size_t count = 0;
  while (count < tasks.size() &&
         static_cast<double>(arrived) < load * static_cast<double>(capacity) - 1e-9) {
    arrived += RequestMilli(pods[tasks[count++]]);
  }
  tasks.resize(count);
  return tasks;
}

policy::ShapeTable ShapesOf(const std::vector<OpenbPod>& pods) {
  std::vector<policy::TaskShape> counted;
  counted.reserve(pods.size());
  for (const OpenbPod& pod : pods) {
    policy::TaskShape shape;
    shape.cpus = pod.cpu_milli;
    shape.gpu_count = pod.num_gpu;
    shape.gpu_milli = pod.num_gpu > 0 ? pod.gpu_milli : 0;
    for (const auto& model : pod.gpu_spec) shape.allowed_types.push_back(Lower(model));
    shape.weight = 1;
    shape.memory_mib = pod.memory_mib;
    counted.push_back(std::move(shape));
  }
  return policy::TypicalShapes(std::move(counted));
}

absl::Status AddOpenbKinds(const std::vector<OpenbNode>& nodes, model::Catalog& catalog) {
  std::map<std::string, int> max_count;
  for (const OpenbNode& node : nodes) {
    if (node.gpus > 0)
      max_count[Lower(node.model)] = std::max(max_count[Lower(node.model)], node.gpus);
  }
  for (const auto& [model, count] : max_count) {
    if (catalog.FindKind(model)) continue;
    model::AcceleratorKind kind;
    kind.name = model;
    kind.display_name = Cat("openb ", model);
    kind.vendor = model::Vendor::kOther;
    kind.rule.devices_per_node = count;
    kind.rule.group_size = count;
    absl::Status status = catalog.AddKind(std::move(kind));
    if (!status.ok()) return status;
    status = catalog.MapGres({"gpu", model, model});
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

model::Snapshot OpenbSnapshot(const std::vector<OpenbNode>& nodes) {
  model::Snapshot snapshot;
  snapshot.nodes.reserve(nodes.size());
  for (const OpenbNode& in : nodes) {
    model::Node node;
    node.name = in.name;
    node.cpus_total = in.cpu_milli;
    node.memory_total_mib = in.memory_mib;
    if (in.gpus > 0) {
      model::AcceleratorPool pool;
      pool.gres_name = "gpu";
      pool.gres_type = Lower(in.model);
      pool.count = in.gpus;
      node.accelerators.push_back(std::move(pool));
    }
    snapshot.nodes.push_back(std::move(node));
  }
  return snapshot;
}

policy::PluginArgs BaselineArgs(const std::vector<OpenbNode>& nodes,
                                const std::vector<OpenbPod>& pods) {
  int max_cpus = 1;
  int max_devices = 1;
  for (const OpenbNode& node : nodes) {
    max_cpus = std::max(max_cpus, node.cpu_milli);
    max_devices = std::max(max_devices, node.gpus);
  }
  return {{"max_cpus", std::to_string(max_cpus)},
          {"max_devices", std::to_string(max_devices)},
          {"shapes", policy::ShapesToArg(ShapesOf(pods))}};
}

absl::StatusOr<StaticRun> RunStatic(const std::vector<OpenbNode>& nodes,
                                    const StaticWorkload& workload, std::string_view policy_name,
                                    uint64_t seed, const StaticOptions& options) {
  policy::PluginArgs args = BaselineArgs(nodes, workload.pods);
  args["tie_break"] = options.tie_break;
  auto config = ResolvePolicy(policy_name, seed, args);
  if (!config.ok()) return config.status();
  auto built = policy::BuildPolicy(*config);
  if (!built.ok()) return built.status();
  absl::Status status = AddOpenbKinds(nodes, built->catalog);
  if (!status.ok()) return status;
  model::Snapshot snapshot = OpenbSnapshot(nodes);
  status = model::ValidateSnapshot(snapshot, built->catalog);
  if (!status.ok()) return status;

  int64_t capacity = 0;
  for (const OpenbNode& node : nodes) capacity += int64_t{node.gpus} * model::kMilliPerDevice;
  if (capacity == 0) return absl::InvalidArgumentError("the node list has no GPUs");
  const policy::ShapeTable shapes = ShapesOf(workload.pods);
  const std::vector<size_t> tasks = DrawTasks(workload.pods, capacity, options.max_load, seed);

  StaticRun run;
  run.workload = workload.name;
  run.policy = std::string(policy_name);
  run.seed = seed;
  run.tasks = static_cast<int64_t>(tasks.size());

  engine::ClusterState state(snapshot, built->catalog);
  const engine::Pipeline& pipeline = *built->pipeline;
  engine::PlacementCache cache(state, pipeline);  // one shape table for the whole run
  std::vector<double> loads = options.report_loads;
  std::sort(loads.begin(), loads.end());
  size_t next_load = 0;
  double next_curve = 0;
  int64_t arrived = 0;
  int64_t allocated = 0;
  int64_t placed = 0;
  int64_t skipped = 0;
  auto record = [&](double at_load) {
    StaticPoint point;
    point.arrived_pct = 100.0 * at_load;
    point.unallocated_pct =
        100.0 * (1.0 - static_cast<double>(allocated) / static_cast<double>(capacity));
    const double frag = policy::ClusterFragmentation(shapes, state);
    const double idle = static_cast<double>(capacity - allocated);
    point.frag_amount_gpus = frag / model::kMilliPerDevice;
    point.frag_rate_pct = idle > 0 ? 100.0 * frag / idle : 0;
    point.placed = placed;
    point.skipped = skipped;
    run.points.push_back(point);
  };
  const auto started = std::chrono::steady_clock::now();
  for (size_t t = 0; t < tasks.size(); ++t) {
    const OpenbPod& pod = workload.pods[tasks[t]];
    const model::PendingJob request = TaskJob(pod, static_cast<uint32_t>(t + 1));
    const engine::Job job = engine::MakeJob(request, pipeline, 0);
    arrived += RequestMilli(pod);
    if (auto start = engine::FindPlacement(job, state, pipeline, nullptr, &cache)) {
      state.Apply(*start, request.cpus_per_node, request.memory_per_node_mib);
      allocated += RequestMilli(pod);
      ++placed;
    } else {
      ++skipped;
    }
    const double load = static_cast<double>(arrived) / static_cast<double>(capacity);
    const double unallocated =
        100.0 * (1.0 - static_cast<double>(allocated) / static_cast<double>(capacity));
    while (next_curve <= load + 1e-12) {
      run.curve.emplace_back(100.0 * load, unallocated);
      next_curve += options.curve_step;
    }
    while (next_load < loads.size() && loads[next_load] <= load + 1e-12) {
      record(loads[next_load]);
      ++next_load;
    }
  }
  // The draw stops just short of max_load: loads not reached report the end state.
  for (; next_load < loads.size(); ++next_load) record(loads[next_load]);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return run;
}

}  // namespace accelpack::sim
