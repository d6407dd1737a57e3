// accelpack-probe: describe a node's accelerators for Slurm and the placement core.
//
// Exit status: 0 success (and, with --check, configuration that matches); 1 --check
// found mismatches; 2 bad arguments or input, in which case no output file is touched.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "probe/probe.h"
#include "probe/report_json.h"
#include "probe/text_file.h"

namespace {

using accelpack::probe::NodeInventory;

constexpr int kExitOk = 0;
constexpr int kExitMismatch = 1;
constexpr int kExitError = 2;

struct Options {
  std::vector<std::string> xml_files;
  std::string node_name;
  std::string print;  // conf, gres, slurm, json, none; empty: decided by the *-out options
  std::string gres_out;
  std::string slurm_out;
  std::string json_out;
  bool check = false;
  std::string gres_conf;
  std::string slurm_conf;
  std::string npu_map;
  int shards_per_gpu = 0;
  std::string mig_layout;
  std::string mig_layout_file;
  std::string mig_minors;
};

// Where the driver lists the minors of the MIG capability files (nvidia-capN).
constexpr char kLiveMigMinors[] = "/proc/driver/nvidia-caps/mig-minors";

int Fail(absl::string_view message) {
  std::cerr << "accelpack-probe: " << message << "\n";
  return kExitError;
}

absl::StatusOr<accelpack::probe::ProbeOptions> LoadProbeOptions(const Options& options) {
  accelpack::probe::ProbeOptions probe;
  if (options.xml_files.empty()) {
    // The live machine: /dev/nvidiaN as the driver numbered them, not as we would guess.
    absl::StatusOr<std::optional<accelpack::probe::NvidiaMinors>> minors =
        accelpack::probe::LiveNvidiaMinors();
    if (!minors.ok()) return minors.status();
    probe.nvidia_minors = *std::move(minors);
  }
  if (options.npu_map.empty()) return probe;
  if (options.xml_files.size() > 1) {
    return absl::InvalidArgumentError("--npu-map applies to a single node, not several --xml");
  }
  absl::StatusOr<std::string> text = accelpack::probe::ReadTextFile(options.npu_map);
  if (!text.ok()) return text.status();
  absl::StatusOr<accelpack::probe::NpuLogicalIds> ids =
      accelpack::probe::ParseNpuLogicalIds(*text, options.npu_map);
  if (!ids.ok()) return ids.status();
  probe.npu_logical_ids = *std::move(ids);
  return probe;
}

// Two exports of one node (or two nodes with one name) would give Slurm two
// definitions of it: refused, naming both files.
absl::Status RefuseDuplicateNames(const std::vector<NodeInventory>& nodes,
                                  const std::vector<std::string>& sources) {
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (nodes[i].hostname == nodes[j].hostname) {
        return absl::InvalidArgumentError(absl::StrCat(
            sources[i], ": node ", nodes[i].hostname, " is already described by ", sources[j],
            "; one export per node (two NodeName lines for one node confuse Slurm)"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<NodeInventory>> ProbeAll(const Options& options) {
  if (options.xml_files.size() > 1 && !options.node_name.empty()) {
    return absl::InvalidArgumentError("--node-name applies to a single node, not several --xml");
  }
  absl::StatusOr<accelpack::probe::ProbeOptions> probe_options = LoadProbeOptions(options);
  if (!probe_options.ok()) return probe_options.status();
  std::vector<NodeInventory> nodes;
  if (options.xml_files.empty()) {
    absl::StatusOr<NodeInventory> node = accelpack::probe::ProbeLiveMachine(*probe_options);
    if (!node.ok()) return node.status();
    nodes.push_back(*std::move(node));
  }
  for (const std::string& path : options.xml_files) {
    absl::StatusOr<NodeInventory> node = accelpack::probe::ProbeXmlFile(path, *probe_options);
    if (!node.ok()) return node.status();
    if (node->hostname.empty() && options.node_name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": the topology names no host; pass --node-name"));
    }
    nodes.push_back(*std::move(node));
  }
  if (!options.node_name.empty()) nodes.front().hostname = options.node_name;
  if (nodes.front().hostname.empty()) {
    return absl::InvalidArgumentError("cannot tell this machine's host name; pass --node-name");
  }
  // The name is written into config lines: one with a space, '#' or newline would
  // add keys or lines of its own (an export's HostName is whatever its file says).
  for (size_t i = 0; i < nodes.size(); ++i) {
    const std::string where = i == 0 && !options.node_name.empty() ? "--node-name"
                              : options.xml_files.empty()          ? "this machine's host name"
                                                                   : options.xml_files[i];
    absl::Status name = accelpack::probe::CheckNodeName(nodes[i].hostname, where);
    if (!name.ok()) return name;
  }
  if (!options.xml_files.empty()) {
    absl::Status unique = RefuseDuplicateNames(nodes, options.xml_files);
    if (!unique.ok()) return unique;
  }
  return nodes;
}

absl::StatusOr<accelpack::probe::SharingPlan> LoadSharing(const Options& options) {
  accelpack::probe::SharingPlan sharing;
  sharing.shards_per_gpu = options.shards_per_gpu;
  std::string layout_text = options.mig_layout;
  std::string layout_source = "--mig-layout";
  if (!options.mig_layout_file.empty()) {
    absl::StatusOr<std::string> text = accelpack::probe::ReadTextFile(options.mig_layout_file);
    if (!text.ok()) return text.status();
    layout_text = *std::move(text);
    layout_source = options.mig_layout_file;
  }
  if (layout_text.empty() && options.mig_layout_file.empty()) return sharing;
  absl::StatusOr<accelpack::probe::MigLayout> layout =
      accelpack::probe::ParseMigLayout(layout_text, layout_source);
  if (!layout.ok()) return layout.status();
  sharing.mig_layout = *std::move(layout);
  if (options.xml_files.empty()) {
    // On the live machine, say which of the layout's instances do not exist yet.
    sharing.live_instances = accelpack::probe::LiveGpuInstances();
  }
  // The live machine's own minors unless others are given; an export has none.
  std::string minors_path = options.mig_minors;
  if (minors_path.empty() && options.xml_files.empty() && access(kLiveMigMinors, R_OK) == 0) {
    minors_path = kLiveMigMinors;
  }
  if (minors_path.empty()) return sharing;
  absl::StatusOr<std::string> text = accelpack::probe::ReadTextFile(minors_path);
  if (!text.ok()) return text.status();
  absl::StatusOr<accelpack::probe::MigMinors> minors =
      accelpack::probe::ParseMigMinors(*text, minors_path);
  if (!minors.ok()) return minors.status();
  sharing.mig_minors = *std::move(minors);
  return sharing;
}

// A layout that does not fit a node is refused before anything is written.
absl::Status ValidateSharing(const accelpack::probe::SharingPlan& sharing,
                             const std::vector<NodeInventory>& nodes, const Options& options) {
  if (!sharing.mig_layout.has_value()) return absl::OkStatus();
  const std::string source =
      options.mig_layout_file.empty() ? std::string("--mig-layout") : options.mig_layout_file;
  for (const NodeInventory& node : nodes) {
    absl::Status status = accelpack::probe::ValidateMigLayout(node, *sharing.mig_layout, source);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

int RunCheck(const Options& options, const std::vector<NodeInventory>& nodes,
             const accelpack::probe::SharingPlan& sharing) {
  absl::StatusOr<std::string> gres_conf = accelpack::probe::ReadTextFile(options.gres_conf);
  if (!gres_conf.ok()) return Fail(gres_conf.status().message());
  absl::StatusOr<std::string> slurm_conf = accelpack::probe::ReadTextFile(options.slurm_conf);
  if (!slurm_conf.ok()) return Fail(slurm_conf.status().message());
  // On the live machine the /dev/davinci* files that exist are checked too.
  std::optional<std::vector<std::string>> device_files;
  if (options.xml_files.empty()) device_files = accelpack::probe::LiveNpuDeviceFiles();
  std::vector<std::string> lines;
  for (const NodeInventory& node : nodes) {
    absl::StatusOr<std::vector<std::string>> mismatches =
        accelpack::probe::CheckNode(node, *gres_conf, *slurm_conf, device_files, sharing);
    if (!mismatches.ok()) return Fail(mismatches.status().message());
    for (const std::string& mismatch : *mismatches) {
      lines.push_back(nodes.size() > 1 ? absl::StrCat(node.hostname, ": ", mismatch) : mismatch);
    }
  }
  for (const std::string& line : lines) std::cout << line << "\n";
  if (!lines.empty()) return kExitMismatch;
  for (const NodeInventory& node : nodes) {
    std::cout << node.hostname << ": hardware matches " << options.gres_conf << " and "
              << options.slurm_conf << "\n";
  }
  return kExitOk;
}

struct Rendered {
  std::string gres;
  std::string slurm;
  std::string json;
};

Rendered RenderAll(const std::vector<NodeInventory>& nodes,
                   const accelpack::probe::SharingPlan& sharing) {
  Rendered out;
  nlohmann::json reports = nlohmann::json::array();
  for (const NodeInventory& node : nodes) {
    if (!out.gres.empty()) out.gres += "\n";
    out.gres += accelpack::probe::RenderGresConf(node, sharing);
    out.slurm += accelpack::probe::RenderNodeNameLine(node, sharing);
    reports.push_back(accelpack::probe::BuildReport(node));
  }
  // One node: its report; several (--xml over a cluster): an array of reports.
  out.json = (nodes.size() == 1 ? reports.front() : reports).dump(2) + "\n";
  return out;
}

int RunRender(const Options& options, const std::vector<NodeInventory>& nodes,
              const accelpack::probe::SharingPlan& sharing) {
  const Rendered out = RenderAll(nodes, sharing);
  std::vector<std::pair<std::string, std::string>> files;
  if (!options.gres_out.empty()) files.emplace_back(options.gres_out, out.gres);
  if (!options.slurm_out.empty()) files.emplace_back(options.slurm_out, out.slurm);
  if (!options.json_out.empty()) files.emplace_back(options.json_out, out.json);
  // All or nothing: a failing --slurm-out must not leave a new --gres-out behind.
  absl::Status status = accelpack::probe::WriteFilesAtomically(files);
  if (!status.ok()) return Fail(status.message());
  const bool wrote_file = !files.empty();
  const std::string print = options.print.empty() ? (wrote_file ? "none" : "conf") : options.print;
  if (print == "conf") std::cout << out.gres << "\n# slurm.conf\n" << out.slurm;
  if (print == "gres") std::cout << out.gres;
  if (print == "slurm") std::cout << out.slurm;
  if (print == "json") std::cout << out.json;
  std::cout.flush();
  return std::cout.good() ? kExitOk : Fail("cannot write to standard output");
}

void DefineOptions(CLI::App& app, Options& options) {
  app.add_option("--xml", options.xml_files,
                 "hwloc XML export(s) to probe (lstopo --of xml) instead of this machine")
      ->type_name("FILE");
  app.add_option("--node-name", options.node_name,
                 "node name to write/check (default: the topology's short host name)")
      ->type_name("NAME");
  app.add_option("--print", options.print,
                 "what to print on stdout: conf (gres.conf lines and NodeName line; the "
                 "default unless an --*-out file is given), gres, slurm, json, none")
      ->type_name("WHAT")
      ->check(CLI::IsMember({"conf", "gres", "slurm", "json", "none"}));
  app.add_option("--shards-per-gpu", options.shards_per_gpu,
                 "also write Slurm shard lines: every GPU shared N ways (--gres=shard:K)")
      ->type_name("N")
      ->check(CLI::Range(1, 1 << 16));
  CLI::Option* layout =
      app.add_option("--mig-layout", options.mig_layout,
                     "also write MIG lines for GPUs partitioned as given, e.g. "
                     "\"0=3g.40gb@1,3g.40gb@2 1-7=1g.10gb*7\" (GPUS=PROFILE[*N|@GPU_INSTANCE],...)")
          ->type_name("LAYOUT");
  app.add_option("--mig-layout-file", options.mig_layout_file,
                 "the same layout from FILE (entries on lines; '#' comments)")
      ->type_name("FILE")
      ->excludes(layout);
  app.add_option("--mig-minors", options.mig_minors,
                 "the node's /proc/driver/nvidia-caps/mig-minors (read there by default on "
                 "the live machine): names the slices' /dev/nvidia-caps files")
      ->type_name("FILE");
  app.add_option("--gres-out", options.gres_out, "write the gres.conf lines to FILE (atomically)")
      ->type_name("FILE");
  app.add_option("--slurm-out", options.slurm_out, "write the NodeName line to FILE (atomically)")
      ->type_name("FILE");
  app.add_option("--json-out", options.json_out,
                 "write the JSON topology report to FILE (atomically)")
      ->type_name("FILE");
  app.add_option("--npu-map", options.npu_map,
                 "Huawei NPU bus id -> logical id list (`npu-smi info -m`, one \"BUS_ID "
                 "LOGICAL_ID\" a line) numbering /dev/davinciN; default: PCI bus order")
      ->type_name("FILE");
  CLI::Option* check =
      app.add_flag("--check", options.check, "compare the hardware with --gres-conf/--slurm-conf");
  CLI::Option* gres_conf = app.add_option("--gres-conf", options.gres_conf, "gres.conf to check")
                               ->type_name("FILE")
                               ->needs(check);
  CLI::Option* slurm_conf = app.add_option("--slurm-conf", options.slurm_conf,
                                           "slurm.conf (with the node's NodeName line) to check")
                                ->type_name("FILE")
                                ->needs(check);
  check->needs(gres_conf)->needs(slurm_conf);
  check->excludes("--print")
      ->excludes("--gres-out")
      ->excludes("--slurm-out")
      ->excludes("--json-out");
}

int Run(int argc, char** argv) {
  CLI::App app{
      "accelpack-probe: describe a node's NVIDIA Hopper / Huawei Ascend accelerators "
      "and CPU topology for Slurm (gres.conf, slurm.conf) and accelpack (JSON)"};
  Options options;
  DefineOptions(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {
    return app.exit(success);  // --help
  } catch (const CLI::ParseError& error) {
    return Fail(error.what());
  }
  absl::StatusOr<std::vector<NodeInventory>> nodes = ProbeAll(options);
  if (!nodes.ok()) return Fail(nodes.status().message());
  absl::StatusOr<accelpack::probe::SharingPlan> sharing = LoadSharing(options);
  if (!sharing.ok()) return Fail(sharing.status().message());
  absl::Status fits = ValidateSharing(*sharing, *nodes, options);
  if (!fits.ok()) return Fail(fits.message());
  return options.check ? RunCheck(options, *nodes, *sharing) : RunRender(options, *nodes, *sharing);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const std::exception& error) {
    return Fail(error.what());
  }
}
