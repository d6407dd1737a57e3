// accelpack-sim: replays workloads through the very engine the daemon runs.
//
// Two modes:
//  - static: the FGD protocol (Weng et al., ATC 2023) on the openb traces. The
//    pod list, tuned to `max_load` x capacity (DrawTasks), is placed one task at
//    a time with engine::FindPlacement on a single ClusterState, never leaving;
//    a task that fits nowhere is skipped.
//    Reports unallocated GPU % and FGD fragmentation at given arrived loads.
//  - dynamic: an event-driven replay with arrivals, durations, departures, time
//    limits, gangs, queueing and backfill. Each cycle builds a model::Snapshot
//    from the simulator's own state and calls engine::Schedule with a simulated
//    clock: the daemon's path, so policy tuned here behaves the same in Slurm.
//
// Everything random is drawn from `Rng` seeded by the caller: the same inputs
// and seed give the same results on every platform. Only wall-clock timings
// (cycle latency, seconds per run) vary.
//
// Thread-safety: the functions are reentrant; results are plain values. Runs
// on different threads share nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "model/catalog.h"
#include "model/cluster.h"
#include "policy/baselines.h"
#include "policy/policy.h"
#include "sim/traces.h"

namespace accelpack::sim {

// Portable, seeded random numbers (xoshiro256** seeded by splitmix64); the
// standard library's distributions differ between implementations, these do not.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  double Uniform();                 // [0, 1)
  size_t Index(size_t n);           // uniform in [0, n), n > 0
  double Exponential(double mean);  // mean > 0

 private:
  uint64_t s_[4];
};

// Called with the fraction done (0..1) and a short label; may be empty.
using Progress = std::function<void(double done, std::string_view label)>;

// A preset name (policy::PresetNames()) or the path of a policy YAML file.
// `extra` adds scorer arguments a preset can take (e.g. FGD's shapes).
absl::StatusOr<policy::PolicyConfig> ResolvePolicy(std::string_view name_or_file, uint64_t seed,
                                                   const policy::PluginArgs& extra = {});

// ---------------------------------------------------------------- static mode

struct StaticWorkload {
  std::string name;  // e.g. "default" for openb_pod_list_default.csv
  std::vector<OpenbPod> pods;
};

struct StaticOptions {
  double max_load = 1.3;  // stop drawing at this arrived load
  std::vector<double> report_loads = {0.9, 1.0, 1.1, 1.3};
  double curve_step = 0.01;  // arrived-load step of the curve
  // Baselines' order among equal integer scores: "permuted" (the artifact's: it
  // prefixes every node's name with its place in a seeded random permutation, and
  // ties go to the first name), "name" (the engine's node-name order), "random"
  // (per task and node) or "simon".
  std::string tie_break = "permuted";
};

struct StaticPoint {
  double arrived_pct = 0;       // the load the point was asked for, in %
  double unallocated_pct = 0;   // 100 - allocated GPU share
  double frag_amount_gpus = 0;  // FGD fragmentation, in GPUs
  double frag_rate_pct = 0;     // fragmentation / idle GPU, in %
  int64_t placed = 0;
  int64_t skipped = 0;
};

struct StaticRun {
  std::string workload;
  std::string policy;
  uint64_t seed = 0;
  int64_t tasks = 0;
  std::vector<StaticPoint> points;               // one per report load
  std::vector<std::pair<double, double>> curve;  // (arrived %, unallocated %)
  double seconds = 0;                            // wall clock of the placement loop
};

// Indices of the tasks the protocol places, in order, as the FGD artifact's
// workload tuning builds them: every pod of the list once, then random pods
// removed until the GPU requests are <= max_load x capacity, or uniform draws with
// replacement added while a draw's per-GPU share keeps them <= it; then shuffled.
std::vector<size_t> DrawTasks(const std::vector<OpenbPod>& pods, int64_t capacity_milli,
                              double max_load, uint64_t seed);

// The first of the drawn tasks (DrawTasks up to options.max_load) whose GPU requests
// reach `load` x the nodes' GPUs: what has arrived when the protocol reports `load`.
std::vector<size_t> ArrivedTasks(const std::vector<OpenbNode>& nodes,
                                 const std::vector<OpenbPod>& pods, uint64_t seed, double load,
                                 double max_load);

// A lower bound on the unallocated GPU % any policy reaches with the tasks arrived at
// `load` (same draw, same seed): the LP relaxation, aggregated by node type x task
// shape, of placing as much GPU request as the nodes' GPUs, CPUs and memory hold,
// with at most as many tasks of a shape per node type as fit on its empty nodes, and
// GPU shares only in the slots of share patterns (a device of a type filled with a
// multiset of share sizes that fits it: the cutting-stock relaxation, its patterns
// priced by column generation). Every placement a policy makes is a feasible point,
// so the optimum bounds them all; should column generation stop early, the remaining
// reduced cost is added (`pattern_gap_pct`), so the answer is a bound either way.
struct LowerBound {
  double unallocated_pct = 0;
  double pattern_gap_pct = 0;  // what an unfinished column generation added; 0 at the optimum
  int64_t tasks = 0;
  int shapes = 0;
  int node_types = 0;
};
absl::StatusOr<LowerBound> UnallocatedLowerBound(const std::vector<OpenbNode>& nodes,
                                                 const std::vector<OpenbPod>& pods, uint64_t seed,
                                                 double load = 1.0, double max_load = 1.3);

// UnallocatedLowerBound at 100 % arrived for each seed, their median, and the largest
// pattern gap any of them added: what `bound` prints and `static` shows beside the
// policies.
struct SeedBounds {
  std::vector<double> per_seed;
  double median = 0;
  double largest_pattern_gap_pct = 0;
};
absl::StatusOr<SeedBounds> LowerBoundOverSeeds(const std::vector<OpenbNode>& nodes,
                                               const std::vector<OpenbPod>& pods,
                                               const std::vector<uint64_t>& seeds, double max_load);

// The workload's typical task shapes (FGD's distribution) with lowercased types.
policy::ShapeTable ShapesOf(const std::vector<OpenbPod>& pods);

// Adds one generic kind per GPU model of the nodes ("v100m16", ...) to
// `catalog`, with GRES gpu:<model lowercased>.
absl::Status AddOpenbKinds(const std::vector<OpenbNode>& nodes, model::Catalog& catalog);

// The openb node list as a snapshot: CPUs in milli-CPUs, GRES gpu:<model>.
model::Snapshot OpenbSnapshot(const std::vector<OpenbNode>& nodes);

// Scorer arguments that tell the baselines this cluster's scale and workload.
policy::PluginArgs BaselineArgs(const std::vector<OpenbNode>& nodes,
                                const std::vector<OpenbPod>& pods);

// One run of the protocol for one policy and seed.
absl::StatusOr<StaticRun> RunStatic(const std::vector<OpenbNode>& nodes,
                                    const StaticWorkload& workload, std::string_view policy,
                                    uint64_t seed, const StaticOptions& options = {});

// --------------------------------------------------------------- dynamic mode

struct NodeGroup {
  std::string kind;       // catalog kind, e.g. "h100", "ascend910b"
  std::string gres_type;  // GRES type (gpu:<type>)
  int nodes = 0;
  int devices = 8;
  int cpus = 192;  // cores
  int64_t memory_mib = 2 << 20;
  int nodes_per_switch = 16;
  int nodes_per_superpod = 0;  // 0: no SuperPoD labels
};

struct DynamicOptions {
  std::vector<NodeGroup> cluster;
  // Relative speed per kind: a job's duration on kind k is base / speed[k].
  std::map<std::string, double> speed;
  // Allowed GRES types per workload source ("openb", "dlrm", "kalos"); empty: any.
  std::map<std::string, std::vector<std::string>> allowed_types;
  int jobs = 2000;
  double load = 0.9;  // offered device load relative to the cluster's devices
  // Job mix by count.
  double share_openb = 0.6;
  double share_dlrm = 0.3;
  double share_kalos = 0.1;
  int64_t cycle_interval_s = 10;
  int max_gang_nodes = 0;  // 0: half the nodes of the largest kind
  uint64_t seed = 1;
  int series_points = 300;
  // Give our workload scorers (fragmentation, kind_pressure, share_patterns,
  // protect_accelerators) the generated workload's
  // typical shapes; false: they read each cycle's pending queue, as in the daemon.
  bool workload_shapes = false;
  // Harvest and reclaim (docs/preemption.md): preemptible jobs (SimJob::preemptible)
  // run in QOS "spot" as requeueable batch jobs; with `preempt` the policy names that
  // QOS preemptible, so the engine harvests and plans victims. A victim drains for
  // `preempt_grace_s` (Slurm's GraceTime), then is requeued: it loses the work since
  // its start and may start again `requeue_hold_s` later (AuthInfo=cred_expire).
  bool preempt = false;
  bool harvest = true;          // with preempt: the policy's preemption.harvest
  int64_t reclaim_after_s = 0;  // with preempt: the policy's preemption.reclaim_after_s
  // Preemptible jobs checkpoint this often: a victim loses only the work since its last
  // checkpoint. 0: no checkpoints, all the work since its start is lost.
  int64_t checkpoint_interval_s = 0;
  int64_t preempt_grace_s = 30;
  int64_t requeue_hold_s = 120;
};

// Trace data the generator draws from.
struct DynamicSources {
  std::vector<OpenbPod> openb;
  std::vector<DlrmInstance> dlrm;
  std::vector<KalosJob> kalos;
  std::vector<double> runtimes_s;  // Philly
  std::vector<double> arrivals;    // Helios submissions per 10 min
};

// One generated job.
struct SimJob {
  uint32_t id = 0;
  std::string source;  // openb, dlrm, kalos
  model::JobClass job_class = model::JobClass::kOther;
  int64_t submit = 0;
  int64_t base_duration = 0;  // on a kind of speed 1
  int64_t time_limit = 0;
  int nodes = 1;
  int devices_per_node = 0;
  int fraction_milli = 0;
  int cpus_per_node = 0;  // milli-CPUs
  int64_t memory_mib = 0;
  std::vector<std::string> allowed_types;
  bool preemptible = false;  // QOS "spot": may be requeued to make room
};

// The generator's choices, written into the report.
struct Workload {
  std::vector<SimJob> jobs;
  std::map<std::string, std::string> choices;
};

absl::StatusOr<Workload> GenerateWorkload(const DynamicSources& sources,
                                          const DynamicOptions& options);

// Inference and training sharing the cluster over `days` (needs no traces): inference
// services (1, 2 or 4 devices, ~2 h each, any kind) arrive with a diurnal rate whose
// demand peaks at 85 % of the devices at 14:00 and falls to 64 % of that peak at night
// (DeepSeek's reported pattern: average ~82 % of peak); preemptible training (8
// devices per node, 1-2 nodes, 1-6 h) is submitted steadily, about 30 % of the
// cluster's device-hours, to fill what inference leaves.
absl::StatusOr<Workload> DiurnalWorkload(const DynamicOptions& options, int days);

struct ClassStats {
  int64_t jobs = 0;
  int64_t started = 0;
  double wait_mean_s = 0, wait_p50_s = 0, wait_p99_s = 0;
  double jct_mean_s = 0, jct_p50_s = 0, jct_p99_s = 0;
};

struct SeriesPoint {
  double t_h = 0;
  std::map<std::string, double> utilization;  // per kind, 0..1 of devices allocated
  int64_t queued = 0;
};

// Where and when one job ran under one policy (its last run, if it was requeued).
struct JobOutcome {
  uint32_t id = 0;
  int64_t first_start_s = -1;  // -1: never started
  int64_t end_s = -1;          // -1: still running at the end
  std::string kind;            // the kind it ran on; empty: none, or no accelerators
  std::vector<std::string> nodes;
  // The engine's reason in the last cycle the job was pending before its first start
  // (or before the run ended): what kept it waiting last. Empty: it never waited a cycle.
  std::string wait_reason;
};

// A job counts as having waited long from this wait on (DynamicResult::long_wait_causes).
inline constexpr int64_t kLongWaitS = 60;
// Per job class, per cause: jobs.
using WaitCauseCounts = std::map<std::string, std::map<std::string, int64_t>>;

// The cause counted for a job that waited without ever being pending in a cycle.
inline constexpr std::string_view kCauseNoCycleYet = "waiting for the next cycle";

struct DynamicResult {
  std::string policy;
  double allocation_rate = 0;  // all devices
  std::map<std::string, double> allocation_by_kind;
  std::map<std::string, double> idle_demanded_h;  // device-hours per kind
  // Where those device-hours were, per kind: on nodes held for a reservation; on
  // other nodes where some pending job of the kind fit what was free (devices, CPUs,
  // memory) yet nothing started; the rest fit no pending request there.
  std::map<std::string, double> idle_held_h, idle_fitting_h;
  // Across that split: the device-hours while every pending job that may use the kind
  // was a gang with fewer nodes able to host one of its nodes than it needs (the
  // gang waits for nodes to empty; nothing else is waiting to use what is free).
  std::map<std::string, double> idle_gang_wait_h;
  // Of those, the device-hours while the kind had less device capacity free (shares as
  // parts of a device) than any of the waiting gangs takes in all: no packing of the work
  // running on the kind could have let one start. The rest of idle_gang_wait_h had the
  // capacity, on too few nodes (or nodes short of CPUs or memory; holds and a SuperPoD's
  // room are not looked at): at most that much is placement's share.
  std::map<std::string, double> idle_gang_short_h;
  // All kinds: the part of idle_demanded_h from the last arrival on, while the replay
  // drains what is queued then (a finite workload's end; nothing new arrives).
  double idle_demanded_after_arrivals_h = 0;
  std::map<std::string, ClassStats> by_class;
  // Per class, how many of the jobs that waited kLongWaitS or more (or never started)
  // had each cause (engine::PendingCauses) in the reason that kept them waiting last,
  // or kCauseNoCycleYet. A job may count under several causes, e.g. nodes with no free
  // device and nodes with free devices but too few free CPUs.
  WaitCauseCounts long_wait_causes;
  double longest_wait_s = 0;
  double makespan_s = 0;
  int64_t unfinished = 0;
  int64_t cycles = 0;
  int64_t killed_at_limit = 0;
  double cycle_p50_ms = 0, cycle_p99_ms = 0;  // wall clock, not deterministic
  std::vector<SeriesPoint> series;
  // Preemption (DynamicOptions::preempt).
  int64_t preemptions = 0;           // victims requeued
  double preempted_work_lost_h = 0;  // device-hours since each victim's last checkpoint (or start)
  // Submit to start of the jobs that planned preemptions (reclaim latency).
  double reclaim_latency_p50_s = 0, reclaim_latency_p99_s = 0;
  int64_t reclaimed_jobs = 0;
  std::map<std::string, double> idle_h;  // device-hours idle per kind, demanded or not
  std::vector<JobOutcome> outcomes;      // one per job, in the workload's order
  // Harvest (docs/preemption.md, "Harvest share"): device-hours held by preemptible jobs
  // (SimJob::preemptible, whatever the policy), and device-hours idle that pending
  // preemptible jobs past their requeue hold could have taken: per cycle, those jobs
  // placed one after another (largest first) through engine::FindPlacement, with the
  // run's own pipeline, on the cluster as the cycle's plan left it, reservations' holds
  // ignored; the devices they would take count until the next cycle.
  double preemptible_used_h = 0;
  double harvestable_idle_h = 0;
  // Looser, for the fragmentation harvest cannot use: every idle device of a kind some
  // such job may run on, whether or not its shape fits there (an 8-device job does not
  // fit 4 free devices).
  double idle_while_preemptible_waits_h = 0;
  // preemptible_used_h / (preemptible_used_h + harvestable_idle_h); 1 when both are 0.
  double harvest_share() const {
    const double both = preemptible_used_h + harvestable_idle_h;
    return both > 0 ? preemptible_used_h / both : 1.0;
  }
};

absl::StatusOr<DynamicResult> RunDynamic(const Workload& workload, const DynamicOptions& options,
                                         std::string_view policy,
                                         const Progress& progress = nullptr);

// One seed of a replay over several (`accelpack-sim dynamic --seeds`): one result per
// policy, in the order the command named them.
struct SeedResults {
  uint64_t seed = 0;
  std::vector<DynamicResult> results;
};

// The median of a measure over seeds and its range.
struct Spread {
  double median = 0, min = 0, max = 0;
};

// One policy over the seeds. The replay is chaotic (one seed's idle device-hours move by
// a third with almost any change of placement), so a policy is compared against the
// first one seed by seed, on the same generated workload, and not by one run.
struct SeedSummary {
  std::string policy;
  int seeds = 0;
  Spread idle_demanded_h;  // device-hours, all kinds together
  // Where those device-hours were (DynamicResult's split, all kinds): while some job
  // other than a gang short of nodes waited; while only such gangs waited and the
  // devices free were enough for one but on too few nodes (placement's share); while
  // too few devices were free for any of them (the drain).
  Spread idle_other_waiting_h, idle_gangs_spread_h, idle_gangs_short_h;
  Spread idle_after_arrivals_h;  // of idle_demanded_h, from the last arrival on
  Spread allocation_rate;
  std::map<std::string, Spread> wait_p99_s;  // per job class
  // Against the first policy (left at these values for the first itself): the median
  // over seeds of this policy's idle / the first's, the seeds where it idles less, and
  // per class the seeds where its wait p99 is at most the first's plus `p99_slack_s`.
  double idle_ratio_median = 1;
  int seeds_idle_lower = 0;
  std::map<std::string, int> seeds_p99_within;
  WaitCauseCounts long_wait_causes;  // summed over the seeds
};

// Fails when the seeds do not all name the same policies in the same order.
absl::StatusOr<std::vector<SeedSummary>> SummariseSeeds(const std::vector<SeedResults>& runs,
                                                        double p99_slack_s);

// ------------------------------------------------------------------- reports

struct Reference {
  // (workload, arrived %, policy label) -> published median unallocated %.
  std::map<std::tuple<std::string, int, std::string>, double> values;
};
Reference ReferenceFrom(const std::vector<ReferenceRow>& rows);
// The reference file's column for one of our preset names ("" if none).
std::string ReferenceLabel(std::string_view preset);

double Median(std::vector<double> values);
double Percentile(std::vector<double> values, double p);

// What a static run was given, written on the report's page.
struct StaticInputs {
  std::string node_file;
  std::vector<std::string> pod_files;
  std::string reference_file;  // empty: none
  std::string tie_break = "permuted";
  double max_load = 1.3;
};
// `bounds`: per workload, the median over the runs' seeds of UnallocatedLowerBound at
// 100 % arrived; shown beside each policy (how much is left) where given.
absl::Status WriteStaticReport(const std::string& dir, const std::vector<StaticRun>& runs,
                               const Reference& reference, const StaticInputs& inputs = {},
                               const std::map<std::string, double>& bounds = {});
absl::Status WriteDynamicReport(const std::string& dir, const Workload& workload,
                                const DynamicOptions& options,
                                const std::vector<DynamicResult>& results);
// seeds.csv (one row per seed and policy), seeds.json and seeds.html (the summary and
// each measure per seed) in `dir`; each seed's own report is the caller's.
absl::Status WriteSeedsReport(const std::string& dir, const DynamicOptions& options,
                              const std::vector<SeedResults>& runs);

}  // namespace accelpack::sim
