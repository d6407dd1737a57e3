// accelpack-sim: replay public cluster workloads through the placement engine.
//
//   accelpack-sim static  --pods F... --nodes F --policy P,... --seeds 42-51 --out DIR
//   accelpack-sim bound   --pods F... --nodes F --seeds 42-51
//   accelpack-sim dynamic --traces DIR --cluster h100:32,ascend910b:32 --policy P,... --out DIR
// See docs/simulator.md.
#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common/strings.h"
#include "policy/registry.h"
#include "sim/sim.h"

namespace {

using namespace accelpack;

// Bounds on the simulator's arguments: what a workstation replays in minutes. Beyond
// them a typo (h100:99999999, --load 1e-308) would run for hours, not fail.
constexpr int kMaxSimNodes = 20000;
constexpr int kMaxSimCpus = 4096;
constexpr int kMaxSimJobs = 1000000;
constexpr double kMinLoad = 0.01, kMaxLoad = 10;
constexpr double kMaxSpeed = 1000;
constexpr int64_t kMaxIntervalS = 86400;

absl::StatusOr<std::vector<uint64_t>> ParseSeeds(std::string_view text) {
  std::vector<uint64_t> seeds;
  for (const std::string& part : SplitNonEmpty(text, ',')) {
    const size_t dash = part.find('-');
    try {
      if (dash == std::string::npos) {
        seeds.push_back(std::stoull(part));
      } else {
        const uint64_t a = std::stoull(part.substr(0, dash)),
                       b = std::stoull(part.substr(dash + 1));
        if (b < a || b - a > 100000) throw std::invalid_argument("range");
        for (uint64_t s = a; s <= b; ++s) seeds.push_back(s);
      }
    } catch (const std::exception&) {
      return absl::InvalidArgumentError(
          Cat("--seeds: expected N, N-M or a comma list, got \"", part, "\""));
    }
  }
  if (seeds.empty()) return absl::InvalidArgumentError("--seeds: empty");
  return seeds;
}

// A one-line progress bar on stderr, redrawn in place.
class ProgressBar {
 public:
  explicit ProgressBar(bool enabled) : enabled_(enabled) {}
  void Show(double done, std::string_view label) {
    if (!enabled_) return;
    const int width = 30, filled = static_cast<int>(done * width + 0.5);
    std::fprintf(stderr, "\r[%s%s] %5.1f%% %-48.48s",
                 std::string(static_cast<size_t>(filled), '=').c_str(),
                 std::string(static_cast<size_t>(width - filled), ' ').c_str(), 100 * done,
                 std::string(label).c_str());
    std::fflush(stderr);
  }
  void Done() {
    if (enabled_) std::fprintf(stderr, "\n");
  }

 private:
  bool enabled_;
};

int Fail(const absl::Status& status) {
  std::cerr << "accelpack-sim: " << MessageOf(status) << "\n";
  return 1;
}

std::string WorkloadName(const std::string& path) {
  std::string stem = std::filesystem::path(path).stem().string();
  const std::string prefix = "openb_pod_list_";
  if (stem.starts_with(prefix)) stem = stem.substr(prefix.size());
  return stem;
}

const char* kAllStatic =
    "random,dotprod,gpuclustering,gpupacking,bestfit,fgd,accelpack-default,slurm-default";

int RunStaticCommand(const std::vector<std::string>& pod_files, const std::string& node_file,
                     const std::string& policies, const std::string& seeds_text,
                     const std::string& out, std::string reference_file, double max_load,
                     const std::string& tie_break, bool progress) {
  auto seeds = ParseSeeds(seeds_text);
  if (!seeds.ok()) return Fail(seeds.status());
  if (!(max_load > 0 && max_load <= kMaxLoad)) {
    return Fail(
        absl::InvalidArgumentError(Cat("--max-load: ", max_load, " outside (0, ", kMaxLoad, "]")));
  }
  auto nodes = sim::LoadOpenbNodes(node_file);
  if (!nodes.ok()) return Fail(nodes.status());
  std::vector<sim::StaticWorkload> workloads;
  for (const auto& file : pod_files) {
    auto pods = sim::LoadOpenbPods(file);
    if (!pods.ok()) return Fail(pods.status());
    workloads.push_back({WorkloadName(file), std::move(*pods)});
  }
  if (reference_file.empty() && !pod_files.empty()) {
    const auto guess =
        std::filesystem::path(pod_files.front()).parent_path() / "fgd_reference_unallocated.csv";
    if (std::filesystem::exists(guess)) reference_file = guess.string();
  }
  sim::Reference reference;
  if (!reference_file.empty()) {
    auto rows = sim::LoadFgdReference(reference_file);
    if (!rows.ok()) return Fail(rows.status());
    reference = sim::ReferenceFrom(*rows);
  }
  const auto policy_list = SplitNonEmpty(policies == "all" ? kAllStatic : policies, ',');
  sim::StaticOptions options;
  options.max_load = max_load;
  options.tie_break = tie_break;
  ProgressBar bar(progress);
  std::vector<sim::StaticRun> runs;
  const double total = static_cast<double>(workloads.size() * policy_list.size() * seeds->size());
  for (const auto& workload : workloads) {
    for (const auto& policy : policy_list) {
      for (uint64_t seed : *seeds) {
        bar.Show(static_cast<double>(runs.size()) / total,
                 Cat(workload.name, " ", policy, " seed ", seed));
        auto run = sim::RunStatic(*nodes, workload, policy, seed, options);
        if (!run.ok()) return Fail(run.status());
        runs.push_back(std::move(*run));
      }
    }
  }
  bar.Show(1, "done");
  bar.Done();
  // The LP lower bound of each list on the same draws, beside the policies (a few
  // hundredths of a second per seed). Only where the runs reach 100 % arrived; a node
  // list it cannot solve only leaves it out.
  std::map<std::string, double> bounds;
  for (const auto& workload : workloads) {
    if (max_load < 1.0) break;
    auto bound = sim::LowerBoundOverSeeds(*nodes, workload.pods, *seeds, max_load);
    if (!bound.ok()) {
      std::cerr << "accelpack-sim: " << workload.name << ": no lower bound: " << bound.status()
                << "\n";
      continue;
    }
    bounds[workload.name] = bound->median;
  }
  const sim::StaticInputs inputs{node_file, pod_files, reference_file, tie_break, max_load};
  absl::Status status = sim::WriteStaticReport(out, runs, reference, inputs, bounds);
  if (!status.ok()) return Fail(status);
  // The 100 % column on stdout, for a quick look.
  std::map<std::pair<std::string, std::string>, std::vector<double>> at100;
  for (const auto& run : runs) {
    for (const auto& p : run.points) {
      if (p.arrived_pct == 100) at100[{run.workload, run.policy}].push_back(p.unallocated_pct);
    }
  }
  for (const auto& [key, values] : at100) {
    const std::string label = sim::ReferenceLabel(key.second);
    auto it = reference.values.find({key.first, 100, label});
    std::cout << fmt::format("{:<12} {:<18} unallocated@100% median {:6.2f}", key.first, key.second,
                             sim::Median(values));
    if (it != reference.values.end()) {
      std::cout << fmt::format("  published {:6.2f}  delta {:+.2f}", it->second,
                               sim::Median(values) - it->second);
    }
    std::cout << "\n";
  }
  for (const auto& [workload, bound] : bounds) {
    std::cout << fmt::format(
        "{:<12} {:<18} unallocated@100% median {:6.2f}  (LP, no policy is below)\n", workload,
        "lower bound", bound);
  }
  std::cout << "report: " << out << "/static.html\n";
  return 0;
}

// A finite number in [low, high] (decimal, whole text), or an error naming the flag.
absl::StatusOr<double> NumberIn(std::string_view flag, std::string_view what, std::string_view text,
                                double low, double high) {
  const std::optional<double> value = policy::ParseNumber(text);
  if (!value || *value < low || *value > high) {
    return absl::InvalidArgumentError(
        Cat(flag, ": ", what, " must be a number in ", low, "..", high, ", got \"", text, "\""));
  }
  return *value;
}

absl::StatusOr<int> CountIn(std::string_view flag, std::string_view text, int low, int high) {
  auto value = NumberIn(flag, "count", text, low, high);
  if (!value.ok()) return value.status();
  if (*value != static_cast<double>(static_cast<int>(*value))) {
    return absl::InvalidArgumentError(Cat(flag, ": expected a whole number, got \"", text, "\""));
  }
  return static_cast<int>(*value);
}

absl::StatusOr<std::vector<sim::NodeGroup>> ParseCluster(std::string_view text) {
  std::vector<sim::NodeGroup> groups;
  int total_nodes = 0;
  const model::Catalog& catalog = model::Catalog::BuiltIn();
  for (const std::string& item : SplitNonEmpty(text, ',')) {
    const auto fields = SplitNonEmpty(item, ':');
    if (fields.size() < 2 || fields.size() > 3) {
      return absl::InvalidArgumentError(
          Cat("--cluster: expected KIND:NODES[:CPUS], got \"", item, "\""));
    }
    sim::NodeGroup g;
    g.kind = fields[0];
    auto kind = catalog.FindKind(g.kind);
    if (!kind) return absl::InvalidArgumentError(Cat("--cluster: unknown kind \"", g.kind, "\""));
    for (const auto& m : catalog.gres_mappings()) {
      if (m.gres_name == "gpu" && m.kind == g.kind) g.gres_type = m.gres_type;
    }
    if (g.gres_type.empty()) g.gres_type = g.kind;
    g.devices = catalog.kind(*kind).rule.devices_per_node;
    if (catalog.kind(*kind).rule.gang_within_superpod) g.nodes_per_superpod = 48;
    auto nodes = CountIn(Cat("--cluster ", item), fields[1], 1, kMaxSimNodes);
    if (!nodes.ok()) return nodes.status();
    g.nodes = *nodes;
    if (fields.size() == 3) {
      auto cpus = CountIn(Cat("--cluster ", item, " CPUs"), fields[2], 1, kMaxSimCpus);
      if (!cpus.ok()) return cpus.status();
      g.cpus = *cpus;
    }
    total_nodes += g.nodes;
    groups.push_back(std::move(g));
  }
  if (groups.empty()) return absl::InvalidArgumentError("--cluster: no node group");
  if (total_nodes > kMaxSimNodes) {
    return absl::InvalidArgumentError(
        Cat("--cluster: ", total_nodes, " nodes in all, more than ", kMaxSimNodes));
  }
  return groups;
}

// Checks the dynamic replay's numbers before any trace is read.
absl::Status CheckDynamicOptions(const sim::DynamicOptions& options, int64_t interval) {
  if (options.jobs < 1 || options.jobs > kMaxSimJobs) {
    return absl::InvalidArgumentError(Cat("--jobs: ", options.jobs, " outside 1..", kMaxSimJobs));
  }
  if (!(options.load >= kMinLoad && options.load <= kMaxLoad)) {
    return absl::InvalidArgumentError(
        Cat("--load: ", options.load, " outside ", kMinLoad, "..", kMaxLoad));
  }
  if (interval < 1 || interval > kMaxIntervalS) {
    return absl::InvalidArgumentError(
        Cat("--cycle-interval: ", interval, " s outside 1..", kMaxIntervalS));
  }
  if (options.share_openb + options.share_dlrm + options.share_kalos <= 0) {
    return absl::InvalidArgumentError("--mix: at least one share must be > 0");
  }
  return absl::OkStatus();
}

// "a=1,b=2" -> map; values parsed by the caller.
absl::StatusOr<std::map<std::string, std::string>> ParsePairs(std::string_view flag,
                                                              std::string_view text) {
  std::map<std::string, std::string> out;
  for (const std::string& item : SplitNonEmpty(text, ',')) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos)
      return absl::InvalidArgumentError(Cat(flag, ": expected NAME=VALUE, got \"", item, "\""));
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

// Per pod list: the LP lower bound on unallocated GPU % at 100 % arrived, per seed
// and the median, beside the policies' medians of `accelpack-sim static`.
int RunBoundCommand(const std::vector<std::string>& pod_files, const std::string& node_file,
                    const std::string& seeds_text, double max_load) {
  auto seeds = ParseSeeds(seeds_text);
  if (!seeds.ok()) return Fail(seeds.status());
  auto nodes = sim::LoadOpenbNodes(node_file);
  if (!nodes.ok()) return Fail(nodes.status());
  // The last column is 0 unless column generation stopped before its optimum on some
  // seed (the bound then includes what the unpriced patterns might still add).
  std::cout << "pod list,median lower bound (unallocated % at 100 % arrived),per seed,"
               "largest pattern gap added\n";
  for (const std::string& file : pod_files) {
    auto pods = sim::LoadOpenbPods(file);
    if (!pods.ok()) return Fail(pods.status());
    auto bounds = sim::LowerBoundOverSeeds(*nodes, *pods, *seeds, max_load);
    if (!bounds.ok()) return Fail(bounds.status());
    std::vector<std::string> per_seed;
    for (double b : bounds->per_seed) per_seed.push_back(fmt::format("{:.2f}", b));
    std::cout << WorkloadName(file) << "," << fmt::format("{:.2f}", bounds->median) << ","
              << Join(per_seed, " ") << ","
              << fmt::format("{:.2f}", bounds->largest_pattern_gap_pct) << "\n";
  }
  return 0;
}

// The replay's defaults. --mix, --speed and --types each change only the entries they
// name, so `--speed h100=2` keeps every other kind's speed and `--types openb=h100`
// keeps DLRM on the NVIDIA kinds.
constexpr char kDefaultMix[] = "openb=0.6,dlrm=0.3,kalos=0.1";
constexpr char kDefaultSpeeds[] =
    "h100=1,h200=1.3,h800=1,h20=0.6,ascend910=0.5,ascend910b=0.8,ascend910b-box16=0.8,"
    "ascend910c=1.1";
constexpr char kDefaultTypes[] = "dlrm=h100|h200|h800|h20";

// The defaults' pairs with the flag's on top.
absl::StatusOr<std::map<std::string, std::string>> PairsOverDefaults(std::string_view flag,
                                                                     std::string_view defaults,
                                                                     std::string_view given) {
  auto pairs = ParsePairs(flag, given);
  if (!pairs.ok()) return pairs.status();
  auto merged = ParsePairs(flag, defaults);
  if (!merged.ok()) return merged.status();
  for (auto& [key, value] : *pairs) (*merged)[key] = std::move(value);
  return merged;
}

int RunDynamicCommand(const std::string& traces, const std::string& cluster_text,
                      const std::string& policies, uint64_t seed, const std::string& seeds_text,
                      int jobs, double load, const std::string& mix, const std::string& speeds,
                      const std::string& types, int64_t interval, bool workload_shapes,
                      const std::string& out, bool progress) {
  sim::DynamicOptions options;
  std::vector<uint64_t> seeds = {seed};
  if (!seeds_text.empty()) {
    auto parsed = ParseSeeds(seeds_text);
    if (!parsed.ok()) return Fail(parsed.status());
    seeds = std::move(*parsed);
  }
  auto cluster = ParseCluster(cluster_text);
  if (!cluster.ok()) return Fail(cluster.status());
  options.cluster = std::move(*cluster);
  options.seed = seed;
  options.jobs = jobs;
  options.load = load;
  options.cycle_interval_s = interval;
  options.workload_shapes = workload_shapes;
  auto mix_pairs = PairsOverDefaults("--mix", kDefaultMix, mix);
  if (!mix_pairs.ok()) return Fail(mix_pairs.status());
  auto speed_pairs = PairsOverDefaults("--speed", kDefaultSpeeds, speeds);
  if (!speed_pairs.ok()) return Fail(speed_pairs.status());
  auto type_pairs = PairsOverDefaults("--types", kDefaultTypes, types);
  if (!type_pairs.ok()) return Fail(type_pairs.status());
  const std::map<std::string, double*> shares = {{"openb", &options.share_openb},
                                                 {"dlrm", &options.share_dlrm},
                                                 {"kalos", &options.share_kalos}};
  for (const auto& [k, v] : *mix_pairs) {
    auto target = shares.find(k);
    if (target == shares.end()) {
      return Fail(absl::InvalidArgumentError(
          Cat("--mix: unknown source \"", k, "\" (openb, dlrm, kalos)")));
    }
    auto share = NumberIn("--mix", Cat("the share of ", k), v, 0, 1e6);
    if (!share.ok()) return Fail(share.status());
    *target->second = *share;
  }
  for (const auto& [k, v] : *speed_pairs) {
    if (!model::Catalog::BuiltIn().FindKind(k)) {
      return Fail(absl::InvalidArgumentError(Cat("--speed: unknown kind \"", k, "\"")));
    }
    // A speed of 0 would make durations infinite; tiny ones, endless replays.
    auto speed = NumberIn("--speed", Cat("the speed of ", k), v, 0.01, kMaxSpeed);
    if (!speed.ok()) return Fail(speed.status());
    options.speed[k] = *speed;
  }
  for (const auto& [k, v] : *type_pairs) {
    if (!shares.contains(k)) {
      return Fail(absl::InvalidArgumentError(
          Cat("--types: unknown source \"", k, "\" (openb, dlrm, kalos)")));
    }
    options.allowed_types[k] = v == "any" ? std::vector<std::string>{} : SplitNonEmpty(v, '|');
    if (options.allowed_types[k].empty() && v != "any") {
      return Fail(absl::InvalidArgumentError(Cat("--types: no type given for ", k)));
    }
  }
  if (absl::Status status = CheckDynamicOptions(options, interval); !status.ok()) {
    return Fail(status);
  }
  const std::filesystem::path dir(traces);
  sim::DynamicSources sources;
  auto openb = sim::LoadOpenbPods((dir / "alibaba-openb/openb_pod_list_default.csv").string());
  if (!openb.ok()) return Fail(openb.status());
  sources.openb = std::move(*openb);
  auto dlrm = sim::LoadDlrm((dir / "alibaba-dlrm/disaggregated_DLRM_trace.csv").string());
  if (!dlrm.ok()) return Fail(dlrm.status());
  sources.dlrm = std::move(*dlrm);
  auto kalos = sim::LoadKalos((dir / "acme/kalos_slice_319_jobs.csv").string());
  if (!kalos.ok()) return Fail(kalos.status());
  sources.kalos = std::move(*kalos);
  auto runtimes = sim::LoadPhillyRuntimes((dir / "philly/job_runtimes_s.csv").string());
  if (!runtimes.ok()) return Fail(runtimes.status());
  sources.runtimes_s = std::move(*runtimes);
  auto arrivals = sim::LoadHeliosSubmissions((dir / "helios/venus_throughput_10min.csv").string());
  if (!arrivals.ok()) return Fail(arrivals.status());
  sources.arrivals = std::move(*arrivals);
  // One seed: its report in `out`. Several: each seed's in out/seed-N, and the
  // comparison over them in `out`.
  const bool several = !seeds_text.empty();
  std::vector<sim::SeedResults> runs;
  ProgressBar bar(progress);
  for (uint64_t s : seeds) {
    options.seed = s;
    auto workload = sim::GenerateWorkload(sources, options);
    if (!workload.ok()) return Fail(workload.status());
    sim::SeedResults run{s, {}};
    for (const std::string& policy : SplitNonEmpty(policies, ',')) {
      auto result =
          sim::RunDynamic(*workload, options, policy,
                          [&](double done, std::string_view label) { bar.Show(done, label); });
      if (!result.ok()) return Fail(result.status());
      bar.Done();
      std::cout << fmt::format(
          "{}{:<18} allocation {:5.1f}%  longest wait {:6.2f} h  makespan {:6.1f} h  cycle p99 "
          "{:.2f} ms\n",
          several ? fmt::format("seed {:<4} ", s) : std::string(), result->policy,
          100 * result->allocation_rate, result->longest_wait_s / 3600, result->makespan_s / 3600,
          result->cycle_p99_ms);
      run.results.push_back(std::move(*result));
    }
    const std::string seed_dir =
        several ? (std::filesystem::path(out) / Cat("seed-", s)).string() : out;
    absl::Status status = sim::WriteDynamicReport(seed_dir, *workload, options, run.results);
    if (!status.ok()) return Fail(status);
    runs.push_back(std::move(run));
  }
  if (!several) {
    std::cout << "report: " << out << "/dynamic.html\n";
    return 0;
  }
  auto summaries = sim::SummariseSeeds(runs, static_cast<double>(interval));
  if (!summaries.ok()) return Fail(summaries.status());
  for (const sim::SeedSummary& s : *summaries) {
    std::cout << fmt::format(
        "{:<18} idle while demanded median {:9.0f} device-h ({:.0f} after the last arrival)",
        s.policy, s.idle_demanded_h.median, s.idle_after_arrivals_h.median);
    if (&s != &summaries->front()) {
      std::cout << fmt::format("  ({} the first per seed, less on {} of {})",
                               std::isinf(s.idle_ratio_median)
                                   ? std::string("more than")
                                   : fmt::format("{:.2f}x", s.idle_ratio_median),
                               s.seeds_idle_lower, s.seeds);
    }
    std::cout << "\n";
  }
  absl::Status status = sim::WriteSeedsReport(out, options, runs);
  if (!status.ok()) return Fail(status);
  std::cout << "report: " << out << "/seeds.html\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"accelpack-sim: replay cluster workloads through the accelpack placement engine"};
  app.require_subcommand(1);
  bool progress = isatty(STDERR_FILENO) != 0;
  app.add_flag("--progress,!--no-progress", progress,
               "progress bar on stderr (default: when a terminal)");

  auto* st = app.add_subcommand(
      "static", "FGD protocol: place drawn tasks one by one, report unallocated GPUs");
  std::vector<std::string> pod_files;
  std::string node_file, st_policy = kAllStatic, seeds = "42-51", st_out = "sim-out", reference;
  double max_load = 1.3;
  std::string tie_break = "permuted";
  st->add_option("--pods", pod_files, "openb_pod_list_*.csv (one or more)")
      ->required()
      ->check(CLI::ExistingFile);
  st->add_option("--nodes", node_file, "openb_node_list_gpu_node.csv")
      ->required()
      ->check(CLI::ExistingFile);
  st->add_option("--policy", st_policy, "comma list of presets or policy files, or \"all\"")
      ->capture_default_str();
  st->add_option("--seeds", seeds, "N, N-M or a comma list")->capture_default_str();
  st->add_option("--out", st_out, "report directory")->capture_default_str();
  st->add_option("--reference", reference,
                 "published results (default: fgd_reference_unallocated.csv beside the pods)");
  st->add_option("--max-load", max_load, "arrived load to draw up to")->capture_default_str();
  st->add_option("--tie-break", tie_break,
                 "baselines' order among equal scores: name, permuted, simon or random")
      ->check(CLI::IsMember({"random", "name", "simon", "permuted"}))
      ->capture_default_str();

  auto* bd = app.add_subcommand(
      "bound", "LP lower bound on unallocated GPU % at 100 % arrived, per pod list (GLPK)");
  std::vector<std::string> bd_pods;
  std::string bd_nodes, bd_seeds = "42-51";
  double bd_max_load = 1.3;
  bd->add_option("--pods", bd_pods, "openb_pod_list_*.csv (one or more)")
      ->required()
      ->check(CLI::ExistingFile);
  bd->add_option("--nodes", bd_nodes, "openb_node_list_gpu_node.csv")
      ->required()
      ->check(CLI::ExistingFile);
  bd->add_option("--seeds", bd_seeds, "N, N-M or a comma list")->capture_default_str();
  bd->add_option("--max-load", bd_max_load, "arrived load the draw goes up to, as in static")
      ->capture_default_str()
      ->check(CLI::Range(1.0, 10.0));

  auto* dy = app.add_subcommand(
      "dynamic", "event-driven replay with arrivals, departures, queueing and backfill");
  std::string traces = "../shared/traces", cluster = "h100:32,ascend910b:32",
              dy_policy = "slurm-default,accelpack-default", mix, speeds, types, dy_out = "sim-out";
  uint64_t seed = 1;
  int jobs = 2000;
  double load = 0.9;
  int64_t interval = 10;
  bool workload_shapes = false;
  dy->add_option("--traces", traces, "folder with the public traces (../shared/traces)")
      ->capture_default_str();
  dy->add_option("--cluster", cluster, "KIND:NODES[:CPUS],... (catalog kinds)")
      ->capture_default_str();
  dy->add_option("--policy", dy_policy, "comma list of presets or policy files")
      ->capture_default_str();
  std::string dy_seeds;
  auto* seed_option = dy->add_option("--seed", seed, "generator seed")->capture_default_str();
  dy->add_option("--seeds", dy_seeds,
                 "several seeds (N, N-M or a comma list): each seed's report in OUT/seed-N, "
                 "the policies compared seed by seed in OUT/seeds.html")
      ->excludes(seed_option);
  dy->add_option("--jobs", jobs, "jobs to generate")->capture_default_str();
  dy->add_option("--load", load, "offered device load (1 = every device busy)")
      ->capture_default_str();
  // The defaults are merged under what is given, so the help names them.
  dy->add_option("--mix", mix, Cat("share of jobs per source, over ", kDefaultMix));
  dy->add_option("--speed", speeds, Cat("relative speed per kind, over ", kDefaultSpeeds));
  dy->add_option("--types", types,
                 Cat("allowed GRES types per source, | separated, `any` for any kind; over ",
                     kDefaultTypes, " (absent: any)"));
  dy->add_option("--cycle-interval", interval, "seconds between cycles at most")
      ->capture_default_str();
  dy->add_flag("--workload-shapes", workload_shapes,
               "give our workload scorers the generated workload's typical shapes (default: "
               "each cycle's pending queue, as the daemon has)");
  dy->add_option("--out", dy_out, "report directory")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (bd->parsed()) return RunBoundCommand(bd_pods, bd_nodes, bd_seeds, bd_max_load);
  if (st->parsed()) {
    return RunStaticCommand(pod_files, node_file, st_policy, seeds, st_out, reference, max_load,
                            tie_break, progress);
  }
  return RunDynamicCommand(traces, cluster, dy_policy, seed, dy_seeds, jobs, load, mix, speeds,
                           types, interval, workload_shapes, dy_out, progress);
}
