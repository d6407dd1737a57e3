// --check: where gres.conf and slurm.conf disagree with the node's hardware.
//
// Only what the probe itself would write is compared: GRES names gpu and npu with
// their types, counts, device files and cores; the NodeName line's CPU layout,
// memory and Gres. Everything else in the files is left alone.
#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "probe/conf_syntax.h"
#include "probe/gres_conf.h"
#include "probe/pci_catalog.h"
#include "probe/probe.h"

namespace accelpack::probe {
namespace {

// The GRES one configuration file claims for the node, per (name, type); an empty
// type is a typeless claim for every type of that name.
struct ClaimedGres {
  int64_t count = 0;
  bool lists_files = false;
  std::vector<std::string> files;
};
using GresKey = std::pair<std::string, std::string>;
using GresClaims = std::map<GresKey, ClaimedGres>;

bool IsAcceleratorGres(absl::string_view name) { return name == "gpu" || name == "npu"; }

// Claims of GRES types the catalog does not know (gpu:v100) are compared together,
// per GRES name, with the devices the catalog does not know: the probe cannot tell
// a V100 from an A100, only that both are NVIDIA GPUs outside the catalog. Their
// key's type is this marker followed by the claimed types.
constexpr absl::string_view kUncataloguedMark = "\x01";

bool IsCatalogType(absl::string_view name, absl::string_view type) {
  for (const PciPart& part : KnownParts()) {
    if (VendorGresName(part.vendor) == name && part.gres_type == type) return true;
  }
  return false;
}

bool IsUncatalogued(const GresKey& key) { return absl::StartsWith(key.second, kUncataloguedMark); }

std::string GresLabel(const GresKey& key) {
  if (IsUncatalogued(key)) {
    return absl::StrCat(key.first, ":", key.second.substr(kUncataloguedMark.size()),
                        " (not in accelpack's catalog)");
  }
  return key.second.empty() ? key.first : absl::StrCat(key.first, ":", key.second);
}

// Merges the claims of every non-catalog type of one GRES name into one claim.
GresClaims MergeUncatalogued(const GresClaims& claims) {
  GresClaims merged;
  std::map<std::string, std::vector<std::string>> types;
  std::map<std::string, ClaimedGres> other;
  for (const auto& [key, claim] : claims) {
    if (key.second.empty() || IsCatalogType(key.first, key.second)) {
      merged[key] = claim;
      continue;
    }
    types[key.first].push_back(key.second);
    ClaimedGres& sum = other[key.first];
    sum.count += claim.count;
    sum.lists_files = sum.lists_files || claim.lists_files;
    sum.files.insert(sum.files.end(), claim.files.begin(), claim.files.end());
  }
  for (auto& [name, claim] : other) {
    merged[{name, absl::StrCat(kUncataloguedMark, absl::StrJoin(types[name], ","))}] =
        std::move(claim);
  }
  return merged;
}

// Slurm counts may carry a K/M/G/T/P suffix (powers of 1024).
std::optional<int64_t> ParseCount(absl::string_view text) {
  int64_t multiplier = 1;
  if (!text.empty()) {
    const absl::string_view suffixes = "KMGTP";
    const size_t power =
        suffixes.find(absl::ascii_toupper(static_cast<unsigned char>(text.back())));
    if (power != absl::string_view::npos) {
      multiplier = int64_t{1} << (10 * (power + 1));
      text.remove_suffix(1);
    }
  }
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 0) {
    return std::nullopt;
  }
  return value * multiplier;
}

absl::Status LineError(absl::string_view file, int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(file, " line ", line, ": ", what));
}

absl::StatusOr<bool> NamesNode(absl::string_view node_list, const std::string& node) {
  absl::StatusOr<std::vector<std::string>> names = ExpandHostlist(node_list);
  if (!names.ok()) return names.status();
  return std::find(names->begin(), names->end(), node) != names->end();
}

std::string ParamOr(const std::vector<ConfParam>& params, absl::string_view key,
                    std::string fallback = "") {
  for (const ConfParam& param : params) {
    if (param.key == key) return param.value;
  }
  return fallback;
}

bool HasParam(const std::vector<ConfParam>& params, absl::string_view key) {
  return std::any_of(params.begin(), params.end(),
                     [key](const ConfParam& param) { return param.key == key; });
}

// Hardware devices of a claim: one catalog (name, type); the devices outside the
// catalog (with a device file or not: a future Ascend has none) for merged
// non-catalog types; every device with a device file for a typeless claim.
std::vector<const Device*> HardwareFor(const NodeInventory& node, const GresKey& key) {
  std::vector<const Device*> devices;
  for (const Device& device : node.devices) {
    if (device.gres_name != key.first) continue;
    if (!device.numbered() && !IsUncatalogued(key)) continue;
    const bool matches = key.second.empty()    ? true
                         : IsUncatalogued(key) ? !device.known()
                                               : device.known() && device.gres_type == key.second;
    if (matches) devices.push_back(&device);
  }
  return devices;
}

// Every hardware GRES must be claimed, typed or typeless.
void ReportUnclaimed(const NodeInventory& node, const GresClaims& claims, absl::string_view file,
                     std::vector<std::string>& mismatches) {
  for (const GresCount& hardware : CountGres(node)) {
    if (claims.contains({hardware.name, hardware.type}) || claims.contains({hardware.name, ""})) {
      continue;
    }
    mismatches.push_back(absl::StrCat(file, ": ", hardware.name, ":", hardware.type,
                                      " count 0, hardware has ", hardware.count));
  }
}

void CompareCounts(const NodeInventory& node, const GresClaims& claims, absl::string_view file,
                   std::vector<std::string>& mismatches) {
  for (const auto& [key, claim] : claims) {
    const auto hardware = static_cast<int64_t>(HardwareFor(node, key).size());
    if (claim.count != hardware) {
      mismatches.push_back(absl::StrCat(file, ": ", GresLabel(key), " count ", claim.count,
                                        ", hardware has ", hardware));
    }
  }
  ReportUnclaimed(node, claims, file, mismatches);
}

// --- gres.conf ---------------------------------------------------------------

struct ShardLine {
  int line_number = 0;
  int64_t count = 0;
  std::vector<std::string> files;
};

struct GresConf {
  GresClaims claims;
  std::map<std::string, std::vector<int>> cores_by_file;
  std::vector<ShardLine> shards;
};

// Name=shard: Slurm spreads Count over the GPUs of File= (a GPU's device file).
absl::Status AddShardLine(const std::vector<ConfParam>& params, int line_number, GresConf& conf) {
  ShardLine shard{line_number, 0, {}};
  if (HasParam(params, "file")) {
    absl::StatusOr<std::vector<std::string>> expanded = ExpandHostlist(ParamOr(params, "file"));
    if (!expanded.ok()) return LineError("gres.conf", line_number, expanded.status().message());
    shard.files = *std::move(expanded);
  }
  const std::optional<int64_t> count = ParseCount(ParamOr(params, "count", "1"));
  if (!count) return LineError("gres.conf", line_number, "bad Count");
  shard.count = *count;
  conf.shards.push_back(std::move(shard));
  return absl::OkStatus();
}

absl::Status AddGresLine(const std::vector<ConfParam>& params, int line_number, GresConf& conf) {
  const std::string name = absl::AsciiStrToLower(ParamOr(params, "name"));
  if (name == "shard") return AddShardLine(params, line_number, conf);
  if (!IsAcceleratorGres(name)) return absl::OkStatus();
  ClaimedGres& claim = conf.claims[{name, absl::AsciiStrToLower(ParamOr(params, "type"))}];
  std::vector<std::string> files;
  if (HasParam(params, "file")) {
    absl::StatusOr<std::vector<std::string>> expanded = ExpandHostlist(ParamOr(params, "file"));
    if (!expanded.ok()) return LineError("gres.conf", line_number, expanded.status().message());
    files = *std::move(expanded);
    claim.lists_files = true;
    claim.files.insert(claim.files.end(), files.begin(), files.end());
  }
  int64_t count = files.empty() ? 1 : static_cast<int64_t>(files.size());
  if (HasParam(params, "count")) {
    const std::optional<int64_t> parsed = ParseCount(ParamOr(params, "count"));
    if (!parsed) return LineError("gres.conf", line_number, "bad Count");
    count = *parsed;
  }
  claim.count += count;
  if (HasParam(params, "cores")) {
    absl::StatusOr<std::vector<int>> cores = ParseIndexRanges(ParamOr(params, "cores"));
    if (!cores.ok()) return LineError("gres.conf", line_number, cores.status().message());
    for (const std::string& file : files) conf.cores_by_file[file] = *cores;
  }
  return absl::OkStatus();
}

absl::StatusOr<GresConf> ParseGresConf(absl::string_view text, const std::string& node) {
  GresConf conf;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    const std::vector<ConfParam> params = ParseConfLine(line);
    if (params.empty()) continue;
    if (HasParam(params, "nodename")) {
      absl::StatusOr<bool> ours = NamesNode(ParamOr(params, "nodename"), node);
      if (!ours.ok()) return LineError("gres.conf", line_number, ours.status().message());
      if (!*ours) continue;
    }
    absl::Status status = AddGresLine(params, line_number, conf);
    if (!status.ok()) return status;
  }
  return conf;
}

void CompareFiles(const NodeInventory& node, const GresClaims& claims,
                  std::vector<std::string>& mismatches) {
  for (const auto& [key, claim] : claims) {
    if (!claim.lists_files) continue;
    const std::vector<const Device*> hardware = HardwareFor(node, key);
    // Devices the probe cannot number (a Huawei device outside the catalog) leave
    // only the count to compare; on a live host the /dev files are checked instead.
    if (std::any_of(hardware.begin(), hardware.end(),
                    [](const Device* device) { return !device->numbered(); })) {
      continue;
    }
    std::vector<std::string> hardware_files;
    for (const Device* device : hardware) hardware_files.push_back(device->DeviceFile());
    for (const std::string& file : claim.files) {
      if (std::find(hardware_files.begin(), hardware_files.end(), file) == hardware_files.end()) {
        mismatches.push_back(absl::StrCat("gres.conf: ", GresLabel(key), " File=", file,
                                          ", hardware has no such ", GresLabel(key), " device"));
      }
    }
    for (const std::string& file : hardware_files) {
      if (std::find(claim.files.begin(), claim.files.end(), file) == claim.files.end()) {
        mismatches.push_back(
            absl::StrCat("gres.conf: ", GresLabel(key), " lacks File=", file, ", hardware has it"));
      }
    }
  }
}

// Shards share GPUs: every File= must be a GPU of this node, and each GPU named must
// get at least one shard (Slurm spreads Count evenly over the files, or over all GPUs
// without File=).
void CompareShards(const NodeInventory& node, const GresConf& conf,
                   std::vector<std::string>& mismatches) {
  std::vector<std::string> gpu_files;
  for (const Device& device : node.devices) {
    if (device.gres_name == "gpu" && device.numbered()) gpu_files.push_back(device.DeviceFile());
  }
  for (const ShardLine& shard : conf.shards) {
    const std::string at = absl::StrCat("gres.conf line ", shard.line_number, ": shard");
    // Without File= Slurm spreads the count over all GPUs itself: nothing to compare.
    for (const std::string& file : shard.files) {
      if (std::find(gpu_files.begin(), gpu_files.end(), file) == gpu_files.end()) {
        mismatches.push_back(absl::StrCat(at, " File=", file, ", hardware has no such GPU"));
      }
    }
    if (shard.count < static_cast<int64_t>(shard.files.size())) {
      mismatches.push_back(absl::StrCat(at, " Count=", shard.count, " for ", shard.files.size(),
                                        " GPUs: some GPU gets no shard"));
    }
  }
}

void CompareCores(const NodeInventory& node, const GresConf& conf,
                  std::vector<std::string>& mismatches) {
  for (const Device& device : node.devices) {
    if (!device.numbered()) continue;
    const auto it = conf.cores_by_file.find(device.DeviceFile());
    if (it == conf.cores_by_file.end() || it->second == device.cores) continue;
    mismatches.push_back(absl::StrCat("gres.conf: ", device.DeviceFile(),
                                      " Cores=", FormatIndexRanges(it->second), ", hardware has ",
                                      FormatIndexRanges(device.cores)));
  }
}

// On a live host the driver's /dev/davinciN files are the truth about NPU numbers.
void CompareNpuFiles(const NodeInventory& node, const GresClaims& claims,
                     const std::vector<std::string>& device_files,
                     std::vector<std::string>& mismatches) {
  auto exists = [&device_files](const std::string& file) {
    return std::find(device_files.begin(), device_files.end(), file) != device_files.end();
  };
  std::vector<std::string> named;
  for (const auto& [key, claim] : claims) {
    if (key.first != "npu") continue;
    for (const std::string& file : claim.files) {
      if (!exists(file) && std::find(named.begin(), named.end(), file) == named.end()) {
        mismatches.push_back(
            absl::StrCat("gres.conf: File=", file, " does not exist on this host"));
        named.push_back(file);
      }
    }
  }
  for (const Device& device : node.devices) {
    if (device.vendor != DeviceVendor::kHuawei || !device.numbered()) continue;
    if (exists(device.DeviceFile())) continue;
    mismatches.push_back(absl::StrCat(
        "this host: no ", device.DeviceFile(), " for the NPU at ", device.pci_bus_id,
        node.npu_ids_from_map ? " (as the NPU map numbers it)"
                              : " (numbered in bus order): pass --npu-map from `npu-smi info -m`"));
  }
}

// --- slurm.conf --------------------------------------------------------------

// The node's NodeName parameters, NodeName=DEFAULT lines before it included.
absl::StatusOr<std::optional<std::vector<ConfParam>>> FindNodeLine(absl::string_view text,
                                                                   const std::string& node) {
  std::vector<ConfParam> defaults;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    std::vector<ConfParam> params = ParseConfLine(line);
    if (params.empty() || params.front().key != "nodename") continue;
    if (absl::AsciiStrToLower(params.front().value) == "default") {
      defaults.insert(defaults.end(), params.begin() + 1, params.end());
      continue;
    }
    absl::StatusOr<bool> ours = NamesNode(params.front().value, node);
    if (!ours.ok()) return LineError("slurm.conf", line_number, ours.status().message());
    if (!*ours) continue;
    // Later parameters win: the node's own line over the defaults.
    std::vector<ConfParam> merged = defaults;
    merged.insert(merged.end(), params.begin(), params.end());
    std::reverse(merged.begin(), merged.end());
    return std::optional<std::vector<ConfParam>>(std::move(merged));
  }
  return std::optional<std::vector<ConfParam>>();
}

absl::StatusOr<GresClaims> ParseNodeGres(absl::string_view gres) {
  GresClaims claims;
  for (absl::string_view entry : absl::StrSplit(gres, ',', absl::SkipEmpty())) {
    entry = entry.substr(0, entry.find('('));  // "gpu:h100:8(S:0-1)"
    std::vector<std::string> parts = absl::StrSplit(entry, ':');
    std::erase(parts, "no_consume");
    const std::string name = absl::AsciiStrToLower(parts[0]);
    if (!IsAcceleratorGres(name)) continue;
    std::string type;
    std::optional<int64_t> count = 1;
    if (parts.size() == 2) {
      // "gpu:8" is a typeless count, "gpu:h100" one typed device.
      count = ParseCount(parts[1]);
      if (!count) {
        type = parts[1];
        count = 1;
      }
    } else if (parts.size() >= 3) {
      type = parts[1];
      count = ParseCount(parts[2]);
    }
    if (!count) {
      return absl::InvalidArgumentError(absl::StrCat("slurm.conf: bad Gres entry \"", entry, "\""));
    }
    claims[{name, absl::AsciiStrToLower(type)}].count += *count;
  }
  return claims;
}

void CompareCpuField(const std::vector<ConfParam>& params, absl::string_view key,
                     absl::string_view label, int64_t hardware,
                     std::vector<std::string>& mismatches) {
  if (!HasParam(params, key)) return;
  const std::string value = ParamOr(params, key);
  const std::optional<int64_t> claimed = ParseCount(value);
  if (claimed == hardware) return;
  mismatches.push_back(
      absl::StrCat("slurm.conf: ", label, "=", value, ", hardware has ", hardware));
}

void CompareNodeLine(const NodeInventory& node, const std::vector<ConfParam>& params,
                     std::vector<std::string>& mismatches) {
  CompareCpuField(params, "sockets", "Sockets", node.sockets, mismatches);
  CompareCpuField(params, "corespersocket", "CoresPerSocket", node.cores_per_socket, mismatches);
  CompareCpuField(params, "threadspercore", "ThreadsPerCore", node.threads_per_core, mismatches);
  if (HasParam(params, "cpus")) {
    const int64_t cores = int64_t{node.sockets} * node.cores_per_socket;
    const int64_t threads = cores * node.threads_per_core;
    // Slurm accepts CPUs= as either the thread count or the core count.
    if (ParseCount(ParamOr(params, "cpus")) != cores) {
      CompareCpuField(params, "cpus", "CPUs", threads, mismatches);
    }
  }
  if (HasParam(params, "realmemory")) {
    const std::string value = ParamOr(params, "realmemory");
    const std::optional<int64_t> claimed = ParseCount(value);
    // Less than the hardware is fine (memory kept for the OS); more drains the node.
    if (!claimed || *claimed > node.real_memory_mib) {
      mismatches.push_back(absl::StrCat("slurm.conf: RealMemory=", value, " MiB, hardware has ",
                                        node.real_memory_mib));
    }
  }
}

absl::Status CheckSlurmConf(const NodeInventory& node, absl::string_view text,
                            std::vector<std::string>& mismatches) {
  absl::StatusOr<std::optional<std::vector<ConfParam>>> params = FindNodeLine(text, node.hostname);
  if (!params.ok()) return params.status();
  if (!params->has_value()) {
    mismatches.push_back(absl::StrCat("slurm.conf: no NodeName line for ", node.hostname));
    return absl::OkStatus();
  }
  CompareNodeLine(node, **params, mismatches);
  absl::StatusOr<GresClaims> gres = ParseNodeGres(ParamOr(**params, "gres"));
  if (!gres.ok()) return gres.status();
  std::vector<std::string> gres_mismatches;
  CompareCounts(node, MergeUncatalogued(*gres), "slurm.conf", gres_mismatches);
  for (std::string& mismatch : gres_mismatches) {
    // "slurm.conf: gpu:h100 ..." reads better as "slurm.conf: Gres gpu:h100 ...".
    mismatch.insert(absl::string_view("slurm.conf: ").size(), "Gres ");
    mismatches.push_back(std::move(mismatch));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> CheckNode(
    const NodeInventory& node, absl::string_view gres_conf, absl::string_view slurm_conf,
    const std::optional<std::vector<std::string>>& device_files) {
  std::vector<std::string> mismatches;
  absl::StatusOr<GresConf> gres = ParseGresConf(gres_conf, node.hostname);
  if (!gres.ok()) return gres.status();
  gres->claims = MergeUncatalogued(gres->claims);
  CompareCounts(node, gres->claims, "gres.conf", mismatches);
  CompareFiles(node, gres->claims, mismatches);
  CompareCores(node, *gres, mismatches);
  CompareShards(node, *gres, mismatches);
  if (device_files.has_value()) CompareNpuFiles(node, gres->claims, *device_files, mismatches);
  absl::Status status = CheckSlurmConf(node, slurm_conf, mismatches);
  if (!status.ok()) return status;
  return mismatches;
}

}  // namespace accelpack::probe
