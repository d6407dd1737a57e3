#include "sim/traces.h"

#include <cmath>

#include "common/strings.h"
#include "sim/csv.h"

namespace accelpack::sim {

namespace {

// Evaluates a StatusOr expression into `lhs` or returns its error.
#define SIM_ASSIGN(lhs, expr)                   \
  auto lhs##_or = (expr);                       \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *std::move(lhs##_or)

absl::StatusOr<std::vector<OpenbNode>> NodesFrom(const CsvFile& csv) {
  SIM_ASSIGN(sn, csv.Column("sn"));
  SIM_ASSIGN(cpu, csv.Column("cpu_milli"));
  SIM_ASSIGN(mem, csv.Column("memory_mib"));
  SIM_ASSIGN(gpu, csv.Column("gpu"));
  SIM_ASSIGN(model, csv.Column("model"));
  std::vector<OpenbNode> nodes;
  for (const auto& row : csv.rows()) {
    OpenbNode node;
    node.name = std::string(csv.Text(row, sn));
    if (node.name.empty()) {
      return absl::InvalidArgumentError(
          Cat(csv.Where(row, sn), ": sn: expected a node name, got \"\""));
    }
    SIM_ASSIGN(c, csv.Int(row, cpu, 1, 100'000'000));
    SIM_ASSIGN(m, csv.Int(row, mem, 0, int64_t{1} << 40));
    SIM_ASSIGN(g, csv.Int(row, gpu, 0, 64));
    node.cpu_milli = static_cast<int>(c);
    node.memory_mib = m;
    node.gpus = static_cast<int>(g);
    node.model = std::string(csv.Text(row, model));
    if (node.gpus > 0 && node.model.empty()) {
      return absl::InvalidArgumentError(Cat(csv.Where(row, model),
                                            ": model: expected a GPU model for a node with ",
                                            node.gpus, " GPUs"));
    }
    nodes.push_back(std::move(node));
  }
  return nodes;
}

absl::StatusOr<std::vector<OpenbPod>> PodsFrom(const CsvFile& csv) {
  SIM_ASSIGN(name, csv.Column("name"));
  SIM_ASSIGN(cpu, csv.Column("cpu_milli"));
  SIM_ASSIGN(mem, csv.Column("memory_mib"));
  SIM_ASSIGN(num, csv.Column("num_gpu"));
  SIM_ASSIGN(milli, csv.Column("gpu_milli"));
  const int spec = csv.OptionalColumn("gpu_spec");
  const int qos = csv.OptionalColumn("qos");
  std::vector<OpenbPod> pods;
  for (const auto& row : csv.rows()) {
    OpenbPod pod;
    pod.name = std::string(csv.Text(row, name));
    SIM_ASSIGN(c, csv.Int(row, cpu, 0, 100'000'000));
    SIM_ASSIGN(m, csv.Int(row, mem, 0, int64_t{1} << 40));
    SIM_ASSIGN(n, csv.Int(row, num, 0, 64));
    SIM_ASSIGN(g, csv.Int(row, milli, 0, 1000));
    pod.cpu_milli = static_cast<int>(c);
    pod.memory_mib = m;
    pod.num_gpu = static_cast<int>(n);
    pod.gpu_milli = static_cast<int>(g);
    if (pod.num_gpu == 0 && pod.gpu_milli != 0) {
      return absl::InvalidArgumentError(
          Cat(csv.Where(row, milli), ": gpu_milli: expected 0 for a task with num_gpu 0, got ",
              pod.gpu_milli));
    }
    if (pod.num_gpu == 1 && pod.gpu_milli == 0) {
      return absl::InvalidArgumentError(Cat(
          csv.Where(row, milli), ": gpu_milli: expected 1..1000 for a task with num_gpu 1, got 0"));
    }
    if (pod.num_gpu > 1 && pod.gpu_milli != 1000) {
      return absl::InvalidArgumentError(
          Cat(csv.Where(row, milli), ": gpu_milli: expected 1000 for a task with ", pod.num_gpu,
              " GPUs (shares are of one GPU), got ", pod.gpu_milli));
    }
    if (spec >= 0) pod.gpu_spec = SplitNonEmpty(csv.Text(row, spec), '|');
    if (qos >= 0) pod.qos = std::string(csv.Text(row, qos));
    pods.push_back(std::move(pod));
  }
  return pods;
}

}  // namespace

absl::StatusOr<std::vector<OpenbNode>> ParseOpenbNodes(std::string text, std::string name) {
  SIM_ASSIGN(csv, CsvFile::Parse(std::move(text), std::move(name)));
  return NodesFrom(csv);
}

absl::StatusOr<std::vector<OpenbPod>> ParseOpenbPods(std::string text, std::string name) {
  SIM_ASSIGN(csv, CsvFile::Parse(std::move(text), std::move(name)));
  return PodsFrom(csv);
}

absl::StatusOr<std::vector<OpenbNode>> LoadOpenbNodes(const std::string& path) {
  SIM_ASSIGN(csv, CsvFile::Read(path));
  return NodesFrom(csv);
}

absl::StatusOr<std::vector<OpenbPod>> LoadOpenbPods(const std::string& path) {
  SIM_ASSIGN(csv, CsvFile::Read(path));
  return PodsFrom(csv);
}

absl::StatusOr<std::vector<ReferenceRow>> LoadFgdReference(const std::string& path) {
  SIM_ASSIGN(csv, CsvFile::Read(path));
  SIM_ASSIGN(workload, csv.Column("workload"));
  SIM_ASSIGN(arrived, csv.Column("arrived_pct"));
  std::vector<ReferenceRow> rows;
  for (const auto& row : csv.rows()) {
    ReferenceRow ref;
    ref.workload = std::string(csv.Text(row, workload));
    SIM_ASSIGN(a, csv.Int(row, arrived, 0, 1000));
    ref.arrived_pct = static_cast<int>(a);
    for (int c = 0; c < static_cast<int>(row.fields.size()); ++c) {
      if (c == workload || c == arrived) continue;
      SIM_ASSIGN(value, csv.Number(row, c, 0, 100));
      ref.unallocated_pct[std::string(csv.header()[static_cast<size_t>(c)])] = value;
    }
    rows.push_back(std::move(ref));
  }
  return rows;
}

absl::StatusOr<std::vector<DlrmInstance>> LoadDlrm(const std::string& path) {
  SIM_ASSIGN(csv, CsvFile::Read(path));
  SIM_ASSIGN(role, csv.Column("role"));
  SIM_ASSIGN(cpu, csv.Column("cpu_request"));
  SIM_ASSIGN(gpu, csv.Column("gpu_request"));
  SIM_ASSIGN(mem, csv.Column("memory_request"));
  std::vector<DlrmInstance> out;
  for (const auto& row : csv.rows()) {
    DlrmInstance inst;
    inst.role = std::string(csv.Text(row, role));
    SIM_ASSIGN(c, csv.WholeNumber(row, cpu, 0, 100000));
    SIM_ASSIGN(g, csv.WholeNumber(row, gpu, 0, 64));
    SIM_ASSIGN(m, csv.Number(row, mem, 0, 1e9));
    inst.cpus = static_cast<int>(c);
    inst.gpus = static_cast<int>(g);
    inst.memory_mib = static_cast<int64_t>(std::llround(m * 1024));  // GiB in the trace
    out.push_back(std::move(inst));
  }
  return out;
}

absl::StatusOr<std::vector<KalosJob>> LoadKalos(const std::string& path) {
  SIM_ASSIGN(csv, CsvFile::Read(path));
  SIM_ASSIGN(arrival, csv.Column("arrival_time"));
  SIM_ASSIGN(iterations, csv.Column("num_iteration"));
  SIM_ASSIGN(iteration_time, csv.Column("iteration_computing_time"));
  SIM_ASSIGN(workers, csv.Column("gpu_workers"));
  SIM_ASSIGN(per_worker, csv.Column("gpu_per_worker"));
  SIM_ASSIGN(cpus, csv.Column("cpu_per_gpu_worker"));
  std::vector<KalosJob> out;
  for (const auto& row : csv.rows()) {
    KalosJob job;
    SIM_ASSIGN(a, csv.Number(row, arrival, 0, 1e10));
    SIM_ASSIGN(n, csv.Number(row, iterations, 0, 1e10));
    SIM_ASSIGN(t, csv.Number(row, iteration_time, 0, 1e6));
    SIM_ASSIGN(w, csv.WholeNumber(row, workers, 1, 100000));
    SIM_ASSIGN(g, csv.WholeNumber(row, per_worker, 1, 64));
    SIM_ASSIGN(c, csv.Number(row, cpus, 0, 100000));
    job.arrival_s = a;
    job.duration_s = n * t;
    job.workers = static_cast<int>(w);
    job.gpus_per_worker = static_cast<int>(g);
    job.cpus_per_worker_milli = static_cast<int>(std::lround(c * 1000));
    out.push_back(job);
  }
  return out;
}

absl::StatusOr<std::vector<double>> LoadPhillyRuntimes(const std::string& path) {
  SIM_ASSIGN(csv, CsvFile::Read(path));
  SIM_ASSIGN(runtime, csv.Column("runtime"));
  std::vector<double> out;
  out.reserve(csv.rows().size());
  for (const auto& row : csv.rows()) {
    SIM_ASSIGN(r, csv.Number(row, runtime, 0, 1e9));
    out.push_back(r);
  }
  return out;
}

absl::StatusOr<std::vector<double>> LoadHeliosSubmissions(const std::string& path) {
  SIM_ASSIGN(csv, CsvFile::Read(path));
  SIM_ASSIGN(submit, csv.Column("submit_gpu_job"));
  std::vector<double> out;
  out.reserve(csv.rows().size());
  for (const auto& row : csv.rows()) {
    SIM_ASSIGN(s, csv.Number(row, submit, 0, 1e9));
    out.push_back(s);
  }
  return out;
}

#undef SIM_ASSIGN

}  // namespace accelpack::sim
