// Loaders for the public traces the simulator replays (see
// ../shared/traces/README.md for their origin). Each checks every field it uses
// and names the place of the first bad one as file:line:column.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace accelpack::sim {

// openb_node_list_*.csv: sn, cpu_milli, memory_mib, gpu, model.
struct OpenbNode {
  std::string name;
  int cpu_milli = 0;
  int64_t memory_mib = 0;
  int gpus = 0;
  std::string model;  // as written (e.g. "V100M16"); empty for CPU-only nodes
};

// openb_pod_list_*.csv: name, cpu_milli, memory_mib, num_gpu, gpu_milli[, gpu_spec, qos, ...].
struct OpenbPod {
  std::string name;
  int cpu_milli = 0;
  int64_t memory_mib = 0;
  int num_gpu = 0;
  int gpu_milli = 0;  // per GPU: 1..1000 with num_gpu == 1, 1000 with more, 0 with none
  std::vector<std::string> gpu_spec;  // allowed models; empty: any
  std::string qos;                    // LS, BE, Burstable, Guaranteed or empty
};

// fgd_reference_unallocated.csv: workload, arrived_pct, one column per policy.
struct ReferenceRow {
  std::string workload;
  int arrived_pct = 0;
  std::map<std::string, double> unallocated_pct;  // by the file's policy name
};

// disaggregated_DLRM_trace.csv: one inference serving instance per row.
struct DlrmInstance {
  std::string role;  // HN (GPU host) or CN (CPU)
  int cpus = 0;
  int gpus = 0;
  int64_t memory_mib = 0;
};

// kalos_slice_319_jobs.csv: LLM training jobs.
struct KalosJob {
  double arrival_s = 0;
  double duration_s = 0;  // num_iteration x iteration_computing_time
  int workers = 0;
  int gpus_per_worker = 0;
  int cpus_per_worker_milli = 0;
};

absl::StatusOr<std::vector<OpenbNode>> LoadOpenbNodes(const std::string& path);
absl::StatusOr<std::vector<OpenbPod>> LoadOpenbPods(const std::string& path);
absl::StatusOr<std::vector<ReferenceRow>> LoadFgdReference(const std::string& path);
absl::StatusOr<std::vector<DlrmInstance>> LoadDlrm(const std::string& path);
absl::StatusOr<std::vector<KalosJob>> LoadKalos(const std::string& path);
// philly/job_runtimes_s.csv: one column "runtime" in seconds.
absl::StatusOr<std::vector<double>> LoadPhillyRuntimes(const std::string& path);
// helios/venus_throughput_10min.csv: GPU job submissions per 10 minutes.
absl::StatusOr<std::vector<double>> LoadHeliosSubmissions(const std::string& path);

// Text-based variants for tests (`name` stands in for the file name).
absl::StatusOr<std::vector<OpenbNode>> ParseOpenbNodes(std::string text, std::string name);
absl::StatusOr<std::vector<OpenbPod>> ParseOpenbPods(std::string text, std::string name);

}  // namespace accelpack::sim
