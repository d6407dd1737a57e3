// The dynamic replay: a simulated clock, events, and one engine::Schedule call
// per cycle on a snapshot built from the simulator's own state.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <queue>
#include <set>
#include <tuple>

#include "common/strings.h"
#include "engine/engine.h"
#include "engine/reason.h"
#include "model/topology.h"
#include "sim/sim.h"

namespace accelpack::sim {

namespace {

constexpr double kBucketS = 600;  // Helios series: submissions per 10 minutes
constexpr int kMilli = model::kMilliPerDevice;

int64_t CeilTo(int64_t t, int64_t step) { return (t + step - 1) / step * step; }

double DeviceShare(const SimJob& job) {
  const double per_node =
      job.fraction_milli > 0 ? job.fraction_milli / 1000.0 : job.devices_per_node;
  return per_node * job.nodes;
}

model::JobClass ClassOfQos(std::string_view qos) {
  if (qos == "LS") return model::JobClass::kInference;
  if (qos == "BE") return model::JobClass::kTraining;
  return model::JobClass::kOther;
}

int MaxNodes(const DynamicOptions& options) {
  if (options.max_gang_nodes > 0) return options.max_gang_nodes;
  int largest = 1;
  for (const auto& g : options.cluster) largest = std::max(largest, g.nodes);
  return std::max(1, largest / 2);
}

int MinNodeCpus(const DynamicOptions& options) {
  int cpus = 1 << 30;
  for (const auto& g : options.cluster) cpus = std::min(cpus, g.cpus);
  return cpus;
}

std::vector<std::string> TypesFor(const DynamicOptions& options, const std::string& source) {
  auto it = options.allowed_types.find(source);
  return it == options.allowed_types.end() ? std::vector<std::string>{} : it->second;
}

}  // namespace

absl::StatusOr<Workload> GenerateWorkload(const DynamicSources& sources,
                                          const DynamicOptions& options) {
  if (options.cluster.empty()) return absl::InvalidArgumentError("cluster: no nodes");
  if (options.jobs < 1) return absl::InvalidArgumentError("jobs: must be >= 1");
  if (!(options.load > 0)) return absl::InvalidArgumentError("load: must be > 0");
  Rng rng(options.seed);
  Workload workload;
  auto& choices = workload.choices;
  std::vector<double> runtimes;
  for (double r : sources.runtimes_s) {
    if (r >= 60) runtimes.push_back(std::min(r, 14 * 86400.0));
  }
  if (runtimes.empty()) runtimes.push_back(3600);
  const int max_nodes = MaxNodes(options);
  std::vector<const KalosJob*> kalos;
  for (const KalosJob& k : sources.kalos) {
    const int total = k.workers * k.gpus_per_worker;
    if ((total + 7) / 8 <= max_nodes && k.duration_s > 0) kalos.push_back(&k);
  }
  double shares[3] = {sources.openb.empty() ? 0 : options.share_openb,
                      sources.dlrm.empty() ? 0 : options.share_dlrm,
                      kalos.empty() ? 0 : options.share_kalos};
  const double share_sum = shares[0] + shares[1] + shares[2];
  if (!(share_sum > 0))
    return absl::InvalidArgumentError("no workload source has jobs to draw from");
  const int node_cpus_milli = MinNodeCpus(options) * 1000;
  std::map<std::string, int> by_source;
  double device_seconds = 0;
  for (int i = 0; i < options.jobs; ++i) {
    SimJob job;
    job.id = static_cast<uint32_t>(i + 1);
    const double u = rng.Uniform() * share_sum;
    const double base = runtimes[rng.Index(runtimes.size())];
    if (u < shares[0]) {
      const OpenbPod& pod = sources.openb[rng.Index(sources.openb.size())];
      job.source = "openb";
      job.job_class = ClassOfQos(pod.qos);
      job.devices_per_node = pod.num_gpu;
      job.fraction_milli = pod.num_gpu > 0 && pod.gpu_milli < kMilli ? pod.gpu_milli : 0;
      job.cpus_per_node = std::min(pod.cpu_milli, node_cpus_milli);
      job.memory_mib = pod.memory_mib;
      job.base_duration = static_cast<int64_t>(base);
    } else if (u < shares[0] + shares[1]) {
      const DlrmInstance& inst = sources.dlrm[rng.Index(sources.dlrm.size())];
      job.source = "dlrm";
      job.job_class = model::JobClass::kInference;
      job.devices_per_node = inst.gpus;
      job.cpus_per_node = std::min(inst.cpus * 1000, node_cpus_milli);
      job.memory_mib = inst.memory_mib;
      job.base_duration = static_cast<int64_t>(base);
    } else {
      const KalosJob& k = *kalos[rng.Index(kalos.size())];
      job.source = "kalos";
      job.job_class = model::JobClass::kTraining;
      const int total = k.workers * k.gpus_per_worker;
      job.nodes = std::max(1, (total + 7) / 8);
      job.devices_per_node = std::min(8, total);
      const int workers_per_node = std::max(1, k.workers / job.nodes);
      job.cpus_per_node = std::min(k.cpus_per_worker_milli * workers_per_node, node_cpus_milli);
      job.memory_mib = 64 * 1024 * job.devices_per_node;
      job.base_duration = static_cast<int64_t>(std::max(60.0, k.duration_s));
    }
    job.allowed_types = TypesFor(options, job.source);
    // Users ask for 1.5x to 3x what they need, rounded up to minutes.
    const double factor = 1.5 + 1.5 * rng.Uniform();
    job.time_limit = std::max<int64_t>(
        600,
        CeilTo(static_cast<int64_t>(std::ceil(static_cast<double>(job.base_duration) * factor)),
               60));
    device_seconds += DeviceShare(job) * static_cast<double>(job.base_duration);
    ++by_source[job.source];
    workload.jobs.push_back(std::move(job));
  }

  // Arrival times: a Poisson process whose rate follows the Helios submission
  // shape from a random starting bucket, scaled so the offered device load is `load`.
  double devices = 0;
  for (const auto& g : options.cluster) devices += static_cast<double>(g.nodes) * g.devices;
  const double mean_device_s = device_seconds / options.jobs;
  const double rate = options.load * devices / std::max(mean_device_s, 1.0);  // jobs per second
  std::vector<double> shape = sources.arrivals;
  double mean = 0;
  for (double s : shape) mean += s;
  mean = shape.empty() ? 0 : mean / static_cast<double>(shape.size());
  if (!(mean > 0)) shape = {1.0}, mean = 1;
  const size_t offset = rng.Index(shape.size());
  size_t bucket = offset;
  double t = 0;
  double left_in_bucket = kBucketS;
  for (SimJob& job : workload.jobs) {
    double need = rng.Exponential(1.0);
    while (true) {
      const double intensity = rate * shape[bucket] / mean;
      if (intensity * left_in_bucket >= need && intensity > 0) {
        const double dt = need / intensity;
        t += dt;
        left_in_bucket -= dt;
        break;
      }
      need -= intensity * left_in_bucket;
      t += left_in_bucket;
      left_in_bucket = kBucketS;
      bucket = (bucket + 1) % shape.size();
    }
    job.submit = static_cast<int64_t>(t);
  }
  choices["seed"] = std::to_string(options.seed);
  choices["jobs"] = std::to_string(options.jobs);
  choices["offered_load"] = Cat(options.load);
  choices["mix (openb, dlrm, kalos)"] =
      Cat(by_source["openb"], ", ", by_source["dlrm"], ", ", by_source["kalos"]);
  choices["arrival_rate_per_h"] = fmt::format("{:.2f}", rate * 3600);
  choices["helios_start_bucket"] = Cat(offset, " (10-minute buckets from 2020-04-01)");
  choices["mean_device_hours_per_job"] = fmt::format("{:.3f}", mean_device_s / 3600);
  choices["durations"] = Cat("Philly runtimes >= 60 s capped at 14 d (", runtimes.size(),
                             " samples); Kalos: iterations x iteration time");
  choices["time_limits"] = "duration x U(1.5, 3), rounded up to minutes, at least 10 min";
  choices["kalos_gangs"] =
      Cat(kalos.size(), " of ", sources.kalos.size(), " jobs fit <= ", max_nodes, " nodes");
  for (const auto& [source, types] : options.allowed_types) {
    choices[Cat("allowed_types[", source, "]")] = types.empty() ? "any" : Join(types, "|");
  }
  for (const auto& [kind, speed] : options.speed) choices[Cat("speed[", kind, "]")] = Cat(speed);
  return workload;
}

absl::StatusOr<Workload> DiurnalWorkload(const DynamicOptions& options, int days) {
  if (options.cluster.empty()) return absl::InvalidArgumentError("cluster: no nodes");
  if (days < 1) return absl::InvalidArgumentError("days: must be >= 1");
  Rng rng(options.seed);
  double devices = 0;
  for (const auto& g : options.cluster) devices += static_cast<double>(g.nodes) * g.devices;
  const double horizon = static_cast<double>(days) * 86400;
  constexpr double kPi = 3.14159265358979323846;
  // Demand shape: 1 at 14:00, 0.64 at 02:00.
  auto shape = [&](double t) { return 0.82 + 0.18 * std::cos(2 * kPi * (t - 14 * 3600) / 86400); };
  constexpr double kMeanDuration = 7200, kMeanDevices = 0.5 * 1 + 0.3 * 2 + 0.2 * 4;
  const double peak_rate = 0.85 * devices / (kMeanDuration * kMeanDevices);
  Workload workload;
  for (double t = rng.Exponential(1 / peak_rate); t < horizon;
       t += rng.Exponential(1 / peak_rate)) {
    if (rng.Uniform() >= shape(t)) continue;  // thinning: the diurnal rate
    SimJob job;
    job.source = "inference";
    job.job_class = model::JobClass::kInference;
    job.submit = static_cast<int64_t>(t);
    const double u = rng.Uniform();
    job.devices_per_node = u < 0.5 ? 1 : (u < 0.8 ? 2 : 4);
    job.base_duration =
        std::max<int64_t>(600, static_cast<int64_t>(rng.Exponential(kMeanDuration)));
    job.time_limit = CeilTo(job.base_duration * 3, 60);
    job.cpus_per_node = 8000 * job.devices_per_node;
    job.memory_mib = int64_t{32} * 1024 * job.devices_per_node;
    workload.jobs.push_back(std::move(job));
  }
  const size_t inference = workload.jobs.size();
  constexpr double kMeanTrainingDeviceH = 8 * 1.3 * 3.5;
  const int training = std::max(
      1, static_cast<int>(0.3 * devices * static_cast<double>(days) * 24 / kMeanTrainingDeviceH));
  for (int i = 0; i < training; ++i) {
    SimJob job;
    job.source = "training";
    job.job_class = model::JobClass::kTraining;
    job.preemptible = true;
    job.submit = static_cast<int64_t>(rng.Uniform() * std::max(horizon - 6 * 3600, 3600.0));
    job.nodes = rng.Uniform() < 0.7 ? 1 : 2;
    job.devices_per_node = 8;
    job.base_duration = static_cast<int64_t>(3600 * (1 + 5 * rng.Uniform()));
    job.time_limit = CeilTo(job.base_duration * 2, 60);
    job.cpus_per_node = 64000;
    job.memory_mib = int64_t{256} * 1024;
    workload.jobs.push_back(std::move(job));
  }
  std::stable_sort(workload.jobs.begin(), workload.jobs.end(),
                   [](const SimJob& a, const SimJob& b) { return a.submit < b.submit; });
  for (size_t i = 0; i < workload.jobs.size(); ++i) {
    workload.jobs[i].id = static_cast<uint32_t>(i + 1);
  }
  workload.choices["scenario"] = Cat("diurnal, ", days, " day(s)");
  workload.choices["seed"] = std::to_string(options.seed);
  workload.choices["jobs (inference, preemptible training)"] = Cat(inference, ", ", training);
  workload.choices["inference demand"] =
      "85 % of devices at 14:00, x0.64 at 02:00; 1/2/4 devices (50/30/20 %), ~2 h";
  workload.choices["training"] = "8 devices x 1-2 nodes, 1-6 h, ~30 % of device-hours";
  return workload;
}

namespace {

struct NodeState {
  std::string name;
  std::string kind;
  int kind_slot = 0;  // index into the list of kinds
  int cpus_alloc = 0;
  int64_t mem_alloc = 0;
  std::vector<int> used;
};

struct JobState {
  int64_t start = -1;
  int64_t end = -1;
  bool done = false;
  int kind_slot = -1;
  engine::JobStart placement;
  int run = 0;                  // starts so far: end events of earlier runs are stale
  int64_t drain_until = -1;     // preempted: requeued then
  int64_t eligible_at = 0;      // requeue hold: not pending before
  bool reclaiming = false;      // planned preemptions for itself at least once
  int64_t progress_s = 0;       // checkpointed work kept across requeues (base-duration s)
  int64_t first_start = -1;     // a requeued job waited only until its first start
  double earlier_device_s = 0;  // device-seconds held by runs that were requeued
  std::string wait_reason;      // the engine's, in its last pending cycle before first start
};

}  // namespace

absl::StatusOr<DynamicResult> RunDynamic(const Workload& workload, const DynamicOptions& options,
                                         std::string_view policy_name, const Progress& progress) {
  // Outcomes and reports name jobs by their workload ids.
  std::set<uint32_t> ids;
  for (size_t i = 0; i < workload.jobs.size(); ++i) {
    if (!ids.insert(workload.jobs[i].id).second) {
      return absl::InvalidArgumentError(
          Cat("workload: job ", i + 1, " has id ", workload.jobs[i].id, ", as an earlier job"));
    }
  }
  // Scale and shape arguments for the baselines, from this cluster and workload.
  int max_cpus = 1, max_devices = 1;
  for (const auto& g : options.cluster) {
    max_cpus = std::max(max_cpus, g.cpus * 1000);
    max_devices = std::max(max_devices, g.devices);
  }
  std::vector<policy::TaskShape> counted;
  for (const SimJob& j : workload.jobs) {
    counted.push_back(
        {j.cpus_per_node, j.devices_per_node,
         j.devices_per_node == 0 ? 0 : (j.fraction_milli > 0 ? j.fraction_milli : kMilli),
         j.allowed_types, 1, j.memory_mib});
  }
  policy::PluginArgs extra = {{"max_cpus", std::to_string(max_cpus)},
                              {"max_devices", std::to_string(max_devices)}};
  // The replay's whole workload is look-ahead the daemon does not have: our own
  // workload scorers read the cycle's pending queue, as in the daemon, unless asked
  // to take the table; a baseline that needs a table (FGD) gets it.
  const auto presets = policy::PresetNames();
  const bool ours = policy_name == "accelpack-default" ||
                    std::find(presets.begin(), presets.end(), policy_name) == presets.end();
  if (options.workload_shapes || !ours) {
    extra["shapes"] = policy::ShapesToArg(policy::TypicalShapes(counted));
  }
  auto config = ResolvePolicy(policy_name, options.seed, extra);
  if (!config.ok()) return config.status();
  if (options.preempt) {
    config->preemption.qos = {"spot"};
    config->preemption.harvest = options.harvest;
    config->preemption.reclaim_after_s = options.reclaim_after_s;
  }
  auto built = policy::BuildPolicy(*config);
  if (!built.ok()) return built.status();
  model::Catalog& catalog = built->catalog;

  std::vector<std::string> kinds;
  std::vector<NodeState> nodes;
  std::vector<std::string> gres_types;
  for (const NodeGroup& g : options.cluster) {
    if (!catalog.FindKind(g.kind))
      return absl::InvalidArgumentError(Cat("cluster: unknown kind \"", g.kind, "\""));
    absl::Status status = catalog.MapGres({"gpu", g.gres_type, g.kind});
    if (!status.ok()) return status;
    int slot = static_cast<int>(std::find(kinds.begin(), kinds.end(), g.kind) - kinds.begin());
    if (slot == static_cast<int>(kinds.size())) {
      kinds.push_back(g.kind);
      gres_types.push_back(g.gres_type);
    }
    for (int i = 0; i < g.nodes; ++i) {
      NodeState n;
      n.name = fmt::format("{}-{:04d}", g.kind, i);
      n.kind = g.kind;
      n.kind_slot = slot;
      n.used.assign(static_cast<size_t>(g.devices), 0);
      nodes.push_back(std::move(n));
    }
  }
  // The static part of every snapshot.
  model::Snapshot base;
  {
    size_t index = 0;
    for (const NodeGroup& g : options.cluster) {
      for (int i = 0; i < g.nodes; ++i, ++index) {
        model::Node node;
        node.name = nodes[index].name;
        node.cpus_total = g.cpus * 1000;
        node.memory_total_mib = g.memory_mib;
        node.network_switch = Cat(g.kind, "-sw", i / std::max(1, g.nodes_per_switch));
        if (g.nodes_per_superpod > 0) node.superpod = Cat(g.kind, "-pod", i / g.nodes_per_superpod);
        model::AcceleratorPool pool;
        pool.gres_name = "gpu";
        pool.gres_type = g.gres_type;
        pool.count = g.devices;
        node.accelerators.push_back(std::move(pool));
        base.nodes.push_back(std::move(node));
      }
    }
  }
  std::vector<double> speed(kinds.size(), 1.0);
  for (size_t k = 0; k < kinds.size(); ++k) {
    if (auto it = options.speed.find(kinds[k]); it != options.speed.end() && it->second > 0)
      speed[k] = it->second;
  }

  const auto& jobs = workload.jobs;
  std::vector<JobState> state(jobs.size());
  std::vector<size_t> pending;  // indices into jobs, in arrival order
  // (time, job, run): an end of an earlier run (before a requeue) is stale.
  using End = std::tuple<int64_t, size_t, int>;
  std::priority_queue<End, std::vector<End>, std::greater<>> ends;
  std::priority_queue<std::pair<int64_t, size_t>, std::vector<std::pair<int64_t, size_t>>,
                      std::greater<>>
      drains;
  std::vector<double> reclaim_latency;
  std::vector<size_t> running;
  size_t next_arrival = 0;
  DynamicResult result;
  result.policy = std::string(policy_name) +
                  (options.preempt ? (options.harvest ? "+harvest+reclaim" : "+reclaim") : "");
  std::vector<double> cycle_ms;
  std::vector<double> idle_h(kinds.size(), 0);
  std::vector<double> idle_held_h(kinds.size(), 0), idle_fitting_h(kinds.size(), 0),
      idle_gang_wait_h(kinds.size(), 0), idle_gang_short_h(kinds.size(), 0);
  std::vector<double> devices_of_kind(kinds.size(), 0);
  for (const auto& g : options.cluster) {
    const size_t slot =
        static_cast<size_t>(std::find(kinds.begin(), kinds.end(), g.kind) - kinds.begin());
    devices_of_kind[slot] += static_cast<double>(g.nodes) * g.devices;
  }
  const int64_t last_arrival = jobs.empty() ? 0 : jobs.back().submit;
  std::vector<std::pair<int64_t, SeriesPoint>> samples;
  size_t finished = 0;
  const int64_t interval = std::max<int64_t>(1, options.cycle_interval_s);
  int64_t now = jobs.empty() ? 0 : CeilTo(jobs.front().submit, interval);

  auto release = [&](size_t j) {
    const SimJob& job = jobs[j];
    for (const auto& p : state[j].placement.placements) {
      NodeState& n = nodes[static_cast<size_t>(p.node)];
      n.cpus_alloc -= job.cpus_per_node;
      n.mem_alloc -= job.memory_mib;
      const int share = p.fraction_milli > 0 ? p.fraction_milli : kMilli;
      for (int d : p.devices) n.used[static_cast<size_t>(d)] -= share;
    }
  };

  while (true) {
    // Departures and arrivals up to this cycle.
    while (!ends.empty() && std::get<0>(ends.top()) <= now) {
      const auto [at, j, run] = ends.top();
      ends.pop();
      if (run != state[j].run) continue;  // an earlier run, requeued since
      release(j);
      state[j].done = true;
      state[j].drain_until = -1;  // it finished within its grace time
      running.erase(std::find(running.begin(), running.end(), j));
      ++finished;
    }
    // Victims whose grace time is over: requeued, their work since start lost.
    while (!drains.empty() && drains.top().first <= now) {
      const size_t j = drains.top().second;
      drains.pop();
      JobState& js = state[j];
      if (js.done || js.drain_until < 0) continue;
      release(j);
      // Work since the last checkpoint is lost; before it, kept (in base-duration
      // seconds, i.e. times the kind's speed).
      const int64_t ran = now - js.start;
      const int64_t kept = options.checkpoint_interval_s > 0
                               ? ran / options.checkpoint_interval_s * options.checkpoint_interval_s
                               : 0;
      const double s = js.kind_slot >= 0 ? speed[static_cast<size_t>(js.kind_slot)] : 1.0;
      js.progress_s += static_cast<int64_t>(static_cast<double>(kept) * s);
      js.earlier_device_s += DeviceShare(jobs[j]) * static_cast<double>(ran);
      result.preempted_work_lost_h +=
          DeviceShare(jobs[j]) * static_cast<double>(ran - kept) / 3600.0;
      ++result.preemptions;
      running.erase(std::find(running.begin(), running.end(), j));
      js.drain_until = -1;
      js.start = -1;
      ++js.run;  // its pending end event is void
      js.eligible_at = now + options.requeue_hold_s;
      pending.push_back(j);
    }
    while (next_arrival < jobs.size() && jobs[next_arrival].submit <= now)
      pending.push_back(next_arrival++);

    // One cycle, as the daemon would run it.
    model::Snapshot snapshot = base;
    snapshot.now = now;
    for (size_t n = 0; n < nodes.size(); ++n) {
      model::Node& node = snapshot.nodes[n];
      node.cpus_allocated = nodes[n].cpus_alloc;
      node.memory_allocated_mib = nodes[n].mem_alloc;
      node.accelerators[0].used_milli = nodes[n].used;
      node.accelerators[0].allocated =
          static_cast<int>(nodes[n].used.size()) - model::CountFreeDevices(nodes[n].used);
      node.state = nodes[n].cpus_alloc > 0 ? model::NodeState::kMixed : model::NodeState::kIdle;
    }
    for (size_t j : pending) {
      const SimJob& job = jobs[j];
      if (state[j].eligible_at > now) continue;  // requeue hold (BeginTime)
      model::PendingJob p;
      if (job.preemptible) p.qos = "spot";
      // The engine knows a job by its index + 1 (its starts, victims and reasons map back
      // by it), whatever id the workload gave it; outcomes keep the workload's id.
      p.id = static_cast<uint32_t>(j + 1);
      p.submit_time = job.submit;
      p.time_limit_s = job.time_limit;
      p.num_nodes = job.nodes;
      p.cpus_per_node = job.cpus_per_node;
      p.memory_per_node_mib = job.memory_mib;
      p.job_class = job.job_class;
      if (job.devices_per_node > 0) {
        p.accelerators.gres_name = "gpu";
        p.accelerators.allowed_types = job.allowed_types;
        p.accelerators.count_per_node = job.devices_per_node;
        p.accelerators.fraction_milli = job.fraction_milli;
      }
      snapshot.pending.push_back(std::move(p));
    }
    for (size_t j : running) {
      const SimJob& job = jobs[j];
      model::RunningJob r;
      r.id = static_cast<uint32_t>(j + 1);
      r.start_time = state[j].start;
      r.time_limit_s = job.time_limit;
      r.job_class = job.job_class;
      if (job.preemptible) {
        r.qos = "spot";
        r.requeueable = true;
      }
      r.draining = state[j].drain_until >= 0;
      for (const auto& p : state[j].placement.placements) {
        model::NodeAllocation a;
        a.node = nodes[static_cast<size_t>(p.node)].name;
        if (p.pool >= 0) {
          a.gres_name = "gpu";
          a.gres_type =
              gres_types[static_cast<size_t>(nodes[static_cast<size_t>(p.node)].kind_slot)];
        }
        a.device_count = static_cast<int>(p.devices.size());
        a.device_indices = p.devices;
        a.fraction_milli = p.fraction_milli;
        a.cpus = job.cpus_per_node;
        a.memory_mib = job.memory_mib;
        r.allocations.push_back(std::move(a));
      }
      snapshot.running.push_back(std::move(r));
    }
    absl::Status valid = model::ValidateSnapshot(snapshot, catalog);
    if (!valid.ok())
      return absl::InternalError(Cat("simulator built a bad snapshot: ", valid.message()));
    const auto t0 = std::chrono::steady_clock::now();
    engine::Plan plan = engine::Schedule(snapshot, catalog, *built->pipeline);
    cycle_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    ++result.cycles;
    for (const engine::PendingReason& reason : plan.pending) {
      JobState& js = state[reason.job_id - 1];
      if (js.first_start < 0) js.wait_reason = reason.message;
    }

    for (const engine::Preemption& preemption : plan.preemptions) {
      state[preemption.job_id - 1].reclaiming = true;
      for (uint32_t victim : preemption.victims) {
        JobState& vs = state[victim - 1];
        if (vs.drain_until >= 0 || vs.start < 0) continue;
        vs.drain_until = now + options.preempt_grace_s;
        drains.emplace(vs.drain_until, victim - 1);
      }
    }
    // The cluster as the plan leaves it, for the harvest measure below.
    engine::ClusterState after(snapshot, catalog);
    std::set<uint32_t> started;
    for (engine::JobStart& start : plan.starts) {
      const size_t j = start.job_id - 1;  // ids are index + 1
      const SimJob& job = jobs[j];
      JobState& js = state[j];
      after.Apply(start, job.cpus_per_node, job.memory_mib);
      started.insert(start.job_id);
      js.start = now;
      if (js.first_start < 0) js.first_start = now;
      js.kind_slot = start.placements.empty()
                         ? -1
                         : nodes[static_cast<size_t>(start.placements.front().node)].kind_slot;
      const double s = js.kind_slot >= 0 ? speed[static_cast<size_t>(js.kind_slot)] : 1.0;
      // What is left of the work after a requeue (checkpointed progress kept).
      const int64_t left = std::max<int64_t>(1, job.base_duration - js.progress_s);
      const int64_t run_for = job.devices_per_node > 0
                                  ? static_cast<int64_t>(std::ceil(static_cast<double>(left) / s))
                                  : left;
      if (run_for > job.time_limit) ++result.killed_at_limit;
      js.end = now + std::max<int64_t>(1, std::min(run_for, job.time_limit));
      for (const auto& p : start.placements) {
        NodeState& n = nodes[static_cast<size_t>(p.node)];
        n.cpus_alloc += job.cpus_per_node;
        n.mem_alloc += job.memory_mib;
        const int share = p.fraction_milli > 0 ? p.fraction_milli : kMilli;
        for (int d : p.devices) n.used[static_cast<size_t>(d)] += share;
      }
      js.placement = std::move(start);
      if (js.reclaiming) reclaim_latency.push_back(static_cast<double>(now - job.submit));
      ++js.run;
      ends.emplace(js.end, j, js.run);
      running.push_back(j);
      pending.erase(std::find(pending.begin(), pending.end(), j));
    }

    // Next cycle: at the next event, on the cycle grid.
    int64_t next = INT64_MAX;
    if (next_arrival < jobs.size()) next = jobs[next_arrival].submit;
    if (!ends.empty()) next = std::min(next, std::get<0>(ends.top()));
    if (!drains.empty()) next = std::min(next, drains.top().first);
    for (size_t j : pending) {
      if (state[j].eligible_at > now) next = std::min(next, state[j].eligible_at);
    }
    const int64_t next_cycle =
        next == INT64_MAX ? now : std::max(now + interval, CeilTo(next, interval));

    // Measures over [now, next_cycle): the state does not change in between.
    const double dt_h = static_cast<double>(next_cycle - now) / 3600.0;
    SeriesPoint sample;
    sample.t_h = static_cast<double>(now) / 3600.0;
    sample.queued = static_cast<int64_t>(pending.size());
    std::vector<double> used_of_kind(kinds.size(), 0);
    for (const NodeState& n : nodes) {
      for (int u : n.used) used_of_kind[static_cast<size_t>(n.kind_slot)] += u / 1000.0;
    }
    auto may_use = [&](const SimJob& job, size_t k) {
      return job.devices_per_node > 0 &&
             (job.allowed_types.empty() ||
              std::find(job.allowed_types.begin(), job.allowed_types.end(), gres_types[k]) !=
                  job.allowed_types.end());
    };
    // Distinct per-node requests of the queue, per kind (for the breakdown).
    std::vector<std::set<std::tuple<int, int, int, int64_t>>> requests(kinds.size());
    for (size_t k = 0; k < kinds.size(); ++k) {
      for (size_t j : pending) {
        const SimJob& job = jobs[j];
        if (may_use(job, k))
          requests[k].emplace(job.devices_per_node, job.fraction_milli, job.cpus_per_node,
                              job.memory_mib);
      }
    }
    std::vector<bool> held(nodes.size(), false);
    for (const auto& r : plan.reservations) {
      for (int n : r.nodes) held[static_cast<size_t>(n)] = true;
    }
    struct FreeOnNode {
      double devices = 0;  // shares count as parts of a device
      int whole = 0;       // devices nothing uses
      int room = 0;        // the largest free share of one device, milli
      int cpus = 0;
      int64_t memory_mib = 0;
      bool Hosts(int devices_asked, int fraction, int cpus_asked, int64_t memory_asked) const {
        const bool devices_fit = fraction > 0 ? room >= fraction : whole >= devices_asked;
        return devices_fit && cpus_asked <= cpus && memory_asked <= memory_mib;
      }
    };
    std::vector<FreeOnNode> free_on(nodes.size());
    for (size_t n = 0; n < nodes.size(); ++n) {
      const NodeState& node = nodes[n];
      FreeOnNode& f = free_on[n];
      for (int u : node.used) {
        f.devices += (kMilli - u) / 1000.0;
        f.whole += u == 0 ? 1 : 0;
        f.room = std::max(f.room, kMilli - u);
      }
      f.cpus = base.nodes[n].cpus_total - node.cpus_alloc;
      f.memory_mib = base.nodes[n].memory_total_mib - node.mem_alloc;
      const size_t k = static_cast<size_t>(node.kind_slot);
      if (requests[k].empty()) continue;
      const bool fits = std::any_of(requests[k].begin(), requests[k].end(), [&](const auto& r) {
        const auto& [devices, fraction, cpus, mem] = r;
        return f.Hosts(devices, fraction, cpus, mem);
      });
      if (held[n]) {
        idle_held_h[k] += f.devices * dt_h;
      } else if (fits) {
        idle_fitting_h[k] += f.devices * dt_h;
      }
    }
    // Only gangs wait for kind k, each for more of its nodes than can host one now
    // (nodes counted once per distinct per-node request): the least device capacity
    // one of them takes in all (a share counts as its part of a device); nullopt when
    // some other job waits or a gang could start.
    auto only_gangs_short_of_nodes = [&](size_t k) -> std::optional<double> {
      std::map<std::tuple<int, int, int, int64_t>, int> hosts_of;
      std::optional<double> fewest;
      for (size_t j : pending) {
        const SimJob& job = jobs[j];
        if (!may_use(job, k)) continue;
        if (job.nodes <= 1) return std::nullopt;
        const double per_node =
            job.fraction_milli > 0 ? job.fraction_milli / 1000.0 : job.devices_per_node;
        const double takes = job.nodes * per_node;
        fewest = std::min(fewest.value_or(takes), takes);
        const auto request = std::make_tuple(job.devices_per_node, job.fraction_milli,
                                             job.cpus_per_node, job.memory_mib);
        auto [it, fresh] = hosts_of.emplace(request, 0);
        if (fresh) {
          for (size_t n = 0; n < nodes.size(); ++n) {
            it->second += static_cast<size_t>(nodes[n].kind_slot) == k &&
                          std::apply([&](auto... r) { return free_on[n].Hosts(r...); }, request);
          }
        }
        if (it->second >= job.nodes) return std::nullopt;
      }
      return fewest;
    };
    for (size_t k = 0; k < kinds.size(); ++k) {
      sample.utilization[kinds[k]] = used_of_kind[k] / devices_of_kind[k];
      if (!requests[k].empty()) {
        const double idle = (devices_of_kind[k] - used_of_kind[k]) * dt_h;
        idle_h[k] += idle;
        if (now >= last_arrival) result.idle_demanded_after_arrivals_h += idle;
        if (const std::optional<double> fewest = only_gangs_short_of_nodes(k)) {
          idle_gang_wait_h[k] += idle;
          // Less capacity free on the kind, shares and whole devices together, than any
          // waiting gang takes: no packing of the work running there would start one now.
          if (devices_of_kind[k] - used_of_kind[k] + 1e-9 < *fewest) idle_gang_short_h[k] += idle;
        }
      }
      result.idle_h[kinds[k]] += (devices_of_kind[k] - used_of_kind[k]) * dt_h;
    }
    // Harvestable idle: what the pending preemptible work (past its requeue hold) could
    // legally take now, through the engine's own placement; largest jobs first, so gangs
    // are not crowded out by the measure itself.
    std::vector<const model::PendingJob*> harvestable;
    for (const model::PendingJob& p : snapshot.pending) {
      if (jobs[p.id - 1].preemptible && !started.contains(p.id)) harvestable.push_back(&p);
    }
    std::stable_sort(harvestable.begin(), harvestable.end(), [&](const auto* a, const auto* b) {
      return DeviceShare(jobs[a->id - 1]) > DeviceShare(jobs[b->id - 1]);
    });
    if (!harvestable.empty()) {
      engine::PlacementCache cache(after, *built->pipeline);
      for (const model::PendingJob* p : harvestable) {
        const engine::Job job = engine::MakeJob(*p, *built->pipeline, now);
        auto fill = engine::FindPlacement(job, after, *built->pipeline, nullptr, &cache);
        if (!fill) continue;
        after.Apply(*fill, p->cpus_per_node, p->memory_per_node_mib);
        result.harvestable_idle_h += DeviceShare(jobs[p->id - 1]) * dt_h;
      }
    }
    for (size_t j : running) {
      if (jobs[j].preemptible) result.preemptible_used_h += DeviceShare(jobs[j]) * dt_h;
    }
    for (size_t k = 0; k < kinds.size(); ++k) {
      if (std::any_of(harvestable.begin(), harvestable.end(),
                      [&](const auto* p) { return may_use(jobs[p->id - 1], k); }))
        result.idle_while_preemptible_waits_h += (devices_of_kind[k] - used_of_kind[k]) * dt_h;
    }
    samples.emplace_back(now, std::move(sample));
    if (progress)
      progress(static_cast<double>(finished) / static_cast<double>(jobs.size()), result.policy);
    if (next == INT64_MAX) break;  // nothing will ever change again
    now = next_cycle;
  }

  // Job measures.
  const int64_t end_time = now;
  const int64_t first_submit = jobs.empty() ? 0 : jobs.front().submit;
  std::map<std::string, std::vector<double>> waits, jcts;
  std::map<std::string, int64_t> counts, started;
  std::vector<double> alloc_kind(kinds.size(), 0);
  int64_t last_end = first_submit;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const SimJob& job = jobs[j];
    const std::string cls(model::JobClassName(job.job_class));
    ++counts[cls];
    const JobState& js = state[j];
    JobOutcome& outcome = result.outcomes.emplace_back();
    outcome.id = job.id;
    outcome.wait_reason = js.wait_reason;
    if (js.first_start < 0 || js.first_start - job.submit >= kLongWaitS) {
      std::map<std::string, int64_t>& causes = result.long_wait_causes[cls];
      // Never pending in a cycle: it waited for the first cycle after its submission
      // (cycle intervals of a minute or more).
      if (js.wait_reason.empty()) ++causes[std::string(kCauseNoCycleYet)];
      for (std::string& cause : engine::PendingCauses(js.wait_reason)) ++causes[std::move(cause)];
    }
    if (js.start >= 0) {
      outcome.first_start_s = js.first_start;
      outcome.end_s = js.done ? js.end : -1;
      if (js.kind_slot >= 0 && job.devices_per_node > 0)
        outcome.kind = kinds[static_cast<size_t>(js.kind_slot)];
      for (const auto& p : js.placement.placements)
        outcome.nodes.push_back(nodes[static_cast<size_t>(p.node)].name);
    }
    if (js.start < 0) {
      ++result.unfinished;
      result.longest_wait_s =
          std::max(result.longest_wait_s, static_cast<double>(end_time - job.submit));
      continue;
    }
    ++started[cls];
    const double wait = static_cast<double>(js.first_start - job.submit);
    waits[cls].push_back(wait);
    result.longest_wait_s = std::max(result.longest_wait_s, wait);
    if (!js.done) ++result.unfinished;
    jcts[cls].push_back(static_cast<double>(js.end - job.submit));
    last_end = std::max(last_end, js.end);
    if (js.kind_slot >= 0)
      alloc_kind[static_cast<size_t>(js.kind_slot)] +=
          DeviceShare(job) * static_cast<double>(js.end - js.start) + js.earlier_device_s;
  }
  result.makespan_s = static_cast<double>(last_end - first_submit);
  double total_alloc = 0, total_devices = 0;
  for (size_t k = 0; k < kinds.size(); ++k) {
    const double capacity = devices_of_kind[k] * std::max(1.0, result.makespan_s);
    result.allocation_by_kind[kinds[k]] = alloc_kind[k] / capacity;
    result.idle_demanded_h[kinds[k]] = idle_h[k];
    result.idle_held_h[kinds[k]] = idle_held_h[k];
    result.idle_fitting_h[kinds[k]] = idle_fitting_h[k];
    result.idle_gang_wait_h[kinds[k]] = idle_gang_wait_h[k];
    result.idle_gang_short_h[kinds[k]] = idle_gang_short_h[k];
    total_alloc += alloc_kind[k];
    total_devices += devices_of_kind[k];
  }
  result.allocation_rate = total_alloc / (total_devices * std::max(1.0, result.makespan_s));
  for (const auto& [cls, count] : counts) {
    ClassStats s;
    s.jobs = count;
    s.started = started[cls];
    auto mean = [](const std::vector<double>& v) {
      double sum = 0;
      for (double x : v) sum += x;
      return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
    };
    s.wait_mean_s = mean(waits[cls]);
    s.wait_p50_s = Percentile(waits[cls], 50);
    s.wait_p99_s = Percentile(waits[cls], 99);
    s.jct_mean_s = mean(jcts[cls]);
    s.jct_p50_s = Percentile(jcts[cls], 50);
    s.jct_p99_s = Percentile(jcts[cls], 99);
    result.by_class[cls] = s;
  }
  result.reclaimed_jobs = static_cast<int64_t>(reclaim_latency.size());
  result.reclaim_latency_p50_s = Percentile(reclaim_latency, 50);
  result.reclaim_latency_p99_s = Percentile(reclaim_latency, 99);
  result.cycle_p50_ms = Percentile(cycle_ms, 50);
  result.cycle_p99_ms = Percentile(cycle_ms, 99);
  // Down-sample the per-cycle samples onto an even time grid for the charts.
  if (!samples.empty()) {
    const int points = std::max(2, options.series_points);
    const int64_t t0 = samples.front().first, t1 = samples.back().first;
    size_t i = 0;
    for (int p = 0; p < points; ++p) {
      const int64_t t = t0 + (t1 - t0) * p / (points - 1);
      while (i + 1 < samples.size() && samples[i + 1].first <= t) ++i;
      result.series.push_back(samples[i].second);
    }
  }
  return result;
}

}  // namespace accelpack::sim
