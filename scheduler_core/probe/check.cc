// --check: where gres.conf and slurm.conf disagree with the node's hardware.
//
// Only what the probe itself would write is compared: GRES names gpu and npu with
// their types, counts, device files and cores, shard lines and MIG lines; the
// NodeName line's CPU layout, memory and Gres. Everything else in the files is left
// alone.
#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "model/mig.h"
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
// 2^40: more than any count, CPU figure or memory size (MiB) of one node.
constexpr int64_t kMaxCount = int64_t{1} << 40;

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
  // Bounded so that sums over a file's lines stay far from overflow.
  if (value > kMaxCount / multiplier) return std::nullopt;
  return value * multiplier;
}

absl::Status LineError(absl::string_view file, int line, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(file, " line ", line, ": ", what));
}

// How many names the hostlists of one file may expand to, all lines together: a
// file of many ranges that are each within ExpandHostlist's bound would otherwise
// cost memory and time by its line count times that bound.
struct ExpansionBudget {
  explicit ExpansionBudget(size_t limit) : total(limit), names_left(limit) {}
  size_t total;
  size_t names_left;
  absl::StatusOr<std::vector<std::string>> Expand(absl::string_view expr) {
    // The expression's own bound first, so a range too large in itself says so; the
    // file's total after.
    absl::StatusOr<std::vector<std::string>> names = ExpandHostlist(expr);
    if (!names.ok()) return names;
    if (names->size() > names_left) {
      return absl::InvalidArgumentError(
          absl::StrCat("the file's hostlists name more than ", total, " items in all"));
    }
    names_left -= names->size();
    return names;
  }
};
// Node names (NodeName=) of one file: a cluster of 16,384 nodes with one line per GPU
// and MIG slice (64 lines a node) names 2^20; expanding 2^24 costs seconds, not minutes.
constexpr size_t kMaxNodeNamesPerFile = size_t{1} << 24;
// Device files (File=, MultipleFiles=) of one node, all its lines together.
constexpr size_t kMaxDeviceFilesPerNode = 4096;
// Cores= of one line: more than any node has (Slurm numbers cores, not threads).
constexpr size_t kMaxCoresPerNode = 4096;

absl::StatusOr<bool> NamesNode(absl::string_view node_list, const std::string& node,
                               ExpansionBudget& budget) {
  absl::StatusOr<std::vector<std::string>> names = budget.Expand(node_list);
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

// Name=gpu with a MIG profile as Type: one slice per line (MultipleFiles= names its
// GPU and the slice's nvidia-caps files).
struct MigLine {
  int line_number = 0;
  std::string type;
  const model::MigProfile* profile = nullptr;
  int64_t count = 1;
  std::vector<std::string> files;
};

struct GresConf {
  ExpansionBudget files{kMaxDeviceFilesPerNode};
  GresClaims claims;
  std::map<std::string, std::vector<int>> cores_by_file;
  std::vector<ShardLine> shards;
  std::vector<MigLine> mig;
};

absl::StatusOr<std::vector<std::string>> ExpandFiles(const std::vector<ConfParam>& params,
                                                     absl::string_view key, int line_number,
                                                     GresConf& conf) {
  if (!HasParam(params, key)) return std::vector<std::string>();
  absl::StatusOr<std::vector<std::string>> expanded = conf.files.Expand(ParamOr(params, key));
  if (!expanded.ok()) return LineError("gres.conf", line_number, expanded.status().message());
  return expanded;
}

absl::Status AddMigLine(const std::vector<ConfParam>& params, const model::MigProfile* profile,
                        int line_number, GresConf& conf) {
  MigLine mig{line_number, ParamOr(params, "type"), profile, 1, {}};
  // Slurm wants MultipleFiles= for MIG; File= is read too, to report what it names.
  for (absl::string_view key : {"multiplefiles", "file"}) {
    absl::StatusOr<std::vector<std::string>> files = ExpandFiles(params, key, line_number, conf);
    if (!files.ok()) return files.status();
    mig.files.insert(mig.files.end(), files->begin(), files->end());
  }
  if (HasParam(params, "count")) {
    const std::optional<int64_t> count = ParseCount(ParamOr(params, "count"));
    if (!count) return LineError("gres.conf", line_number, "bad Count");
    mig.count = *count;
  }
  conf.mig.push_back(std::move(mig));
  return absl::OkStatus();
}

// Name=shard: Slurm spreads Count over the GPUs of File= (a GPU's device file).
absl::Status AddShardLine(const std::vector<ConfParam>& params, int line_number, GresConf& conf) {
  ShardLine shard{line_number, 0, {}};
  absl::StatusOr<std::vector<std::string>> files = ExpandFiles(params, "file", line_number, conf);
  if (!files.ok()) return files.status();
  shard.files = *std::move(files);
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
  if (const model::MigProfile* profile = MigProfileOfType(ParamOr(params, "type"));
      name == "gpu" && profile != nullptr) {
    return AddMigLine(params, profile, line_number, conf);
  }
  ClaimedGres& claim = conf.claims[{name, absl::AsciiStrToLower(ParamOr(params, "type"))}];
  absl::StatusOr<std::vector<std::string>> expanded =
      ExpandFiles(params, "file", line_number, conf);
  if (!expanded.ok()) return expanded.status();
  const std::vector<std::string> files = *std::move(expanded);
  if (HasParam(params, "file")) {
    claim.lists_files = true;
    claim.files.insert(claim.files.end(), files.begin(), files.end());
  }
  int64_t count = files.empty() ? 1 : static_cast<int64_t>(files.size());
  if (HasParam(params, "count")) {
    const std::optional<int64_t> parsed = ParseCount(ParamOr(params, "count"));
    if (!parsed) return LineError("gres.conf", line_number, "bad Count");
    // slurmd refuses such a line ("count does not match File value").
    if (!files.empty() && *parsed != count) {
      return LineError("gres.conf", line_number,
                       absl::StrCat("Count=", *parsed, " but File= names ", count,
                                    " devices (Slurm refuses the line)"));
    }
    count = *parsed;
  }
  claim.count += count;
  // Cores= is kept per device file: on a line without files it is not read at all (so
  // its expansion is bounded by the files a node may name).
  if (HasParam(params, "cores") && !files.empty()) {
    absl::StatusOr<std::vector<int>> cores =
        ParseIndexRanges(ParamOr(params, "cores"), kMaxCoresPerNode);
    if (!cores.ok()) return LineError("gres.conf", line_number, cores.status().message());
    for (const std::string& file : files) conf.cores_by_file[file] = *cores;
  }
  return absl::OkStatus();
}

absl::StatusOr<GresConf> ParseGresConf(absl::string_view text, const std::string& node) {
  GresConf conf;
  ExpansionBudget node_names{kMaxNodeNamesPerFile};
  for (const ConfLine& line : LogicalConfLines(text)) {
    const int line_number = line.number;
    const std::vector<ConfParam> params = ParseConfLine(line.text);
    if (params.empty()) continue;
    if (HasParam(params, "nodename")) {
      absl::StatusOr<bool> ours = NamesNode(ParamOr(params, "nodename"), node, node_names);
      if (!ours.ok()) return LineError("gres.conf", line_number, ours.status().message());
      if (!*ours) continue;
    }
    absl::Status status = AddGresLine(params, line_number, conf);
    if (!status.ok()) return status;
  }
  return conf;
}

// `partitioned`: device files of GPUs cut into MIG slices (CompareMig reports them).
void CompareFiles(const NodeInventory& node, const GresClaims& claims,
                  const std::set<std::string>& partitioned, std::vector<std::string>& mismatches) {
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
      if (partitioned.contains(file)) continue;
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

// Shards share whole GPUs: every File= must be one of them, and each GPU named must
// get at least one shard (Slurm spreads Count evenly over the files, or over all GPUs
// without File=). With `shards_per_gpu`, each whole GPU must get exactly that many.
void CompareShards(const NodeInventory& whole, const GresConf& conf,
                   const std::set<std::string>& partitioned, int shards_per_gpu,
                   std::vector<std::string>& mismatches) {
  std::vector<std::string> gpu_files;
  for (const Device& device : whole.devices) {
    if (device.gres_name == "gpu" && device.numbered()) gpu_files.push_back(device.DeviceFile());
  }
  std::map<std::string, int64_t> per_gpu;
  for (const ShardLine& shard : conf.shards) {
    const std::string at = absl::StrCat("gres.conf line ", shard.line_number, ": shard");
    for (const std::string& file : shard.files) {
      if (partitioned.contains(file)) {
        mismatches.push_back(absl::StrCat(at, " File=", file, ", a GPU cut into MIG slices"));
      } else if (std::find(gpu_files.begin(), gpu_files.end(), file) == gpu_files.end()) {
        mismatches.push_back(absl::StrCat(at, " File=", file, ", hardware has no such GPU"));
      }
    }
    if (shard.count < static_cast<int64_t>(shard.files.size())) {
      mismatches.push_back(absl::StrCat(at, " Count=", shard.count, " for ", shard.files.size(),
                                        " GPUs: some GPU gets no shard"));
    }
    const std::vector<std::string>& spread = shard.files.empty() ? gpu_files : shard.files;
    for (size_t i = 0; i < spread.size(); ++i) {
      const auto files = static_cast<int64_t>(spread.size());
      per_gpu[spread[i]] += shard.count / files + (static_cast<int64_t>(i) < shard.count % files);
    }
  }
  if (shards_per_gpu < 1) return;
  for (const std::string& file : gpu_files) {
    const int64_t shards = per_gpu[file];
    if (shards != shards_per_gpu) {
      mismatches.push_back(absl::StrCat("gres.conf: ", file, " shard count ", shards,
                                        ", --shards-per-gpu ", shards_per_gpu));
    }
  }
}

// --- MIG ---------------------------------------------------------------------

constexpr absl::string_view kCapFilePrefix = "/dev/nvidia-caps/nvidia-cap";

// N of "/dev/nvidiaN"; nullopt for other paths.
std::optional<int> NvidiaIndex(absl::string_view file) {
  if (!absl::ConsumePrefix(&file, "/dev/nvidia")) return std::nullopt;
  int index = 0;
  const auto [end, error] = std::from_chars(file.data(), file.data() + file.size(), index);
  if (file.empty() || error != std::errc() || end != file.data() + file.size()) return std::nullopt;
  return index;
}

// The MIG lines' slices per GPU; each line's MultipleFiles= must start with a GPU of
// the node and list two nvidia-caps files no other line lists.
MigLayout ConfiguredMig(const NodeInventory& node, const GresConf& conf,
                        std::vector<std::string>& mismatches) {
  MigLayout configured;
  std::map<std::string, int> cap_lines;
  for (const MigLine& line : conf.mig) {
    const std::string at = absl::StrCat("gres.conf line ", line.line_number, ": gpu:", line.type);
    const std::optional<int> index =
        line.files.empty() ? std::nullopt : NvidiaIndex(line.files.front());
    if (!index || !GpuPosition(node, *index)) {
      mismatches.push_back(
          absl::StrCat(at, " MultipleFiles= ",
                       line.files.empty() ? std::string("missing")
                                          : absl::StrCat("starts with ", line.files.front()),
                       ", hardware has no such GPU (a MIG slice lists its GPU first)"));
      continue;
    }
    int caps = 0;
    for (size_t i = 1; i < line.files.size(); ++i) {
      const std::string& file = line.files[i];
      if (!absl::StartsWith(file, kCapFilePrefix)) {
        mismatches.push_back(absl::StrCat(at, " ", file, " is not a ", kCapFilePrefix, "N file"));
        continue;
      }
      ++caps;
      const auto [it, fresh] = cap_lines.emplace(file, line.line_number);
      if (!fresh) {
        mismatches.push_back(absl::StrCat(at, " ", file, " is also on line ", it->second));
      }
    }
    if (caps != 2) {
      mismatches.push_back(absl::StrCat(at, " lists ", caps,
                                        " nvidia-caps files; a slice has 2 (its GPU instance's "
                                        "and compute instance's)"));
    }
    // Slurm takes a MultipleFiles= line as one slice; a larger Count cannot fit a GPU
    // and is not expanded beyond what makes that visible.
    if (line.count > model::kMigComputeSlices) {
      mismatches.push_back(absl::StrCat(at, " Count=", line.count, ", a GPU holds at most ",
                                        model::kMigComputeSlices, " slices"));
    }
    const int64_t slices = std::min<int64_t>(line.count, model::kMigComputeSlices + 1);
    configured[*index].insert(configured[*index].end(), static_cast<size_t>(slices),
                              MigSlice{std::string(line.profile->name), std::nullopt});
  }
  return configured;
}

std::map<std::string, int64_t> SlicesPerProfile(const std::vector<MigSlice>& slices) {
  std::map<std::string, int64_t> counts;
  for (const MigSlice& slice : slices) ++counts[slice.profile];
  return counts;
}

// gres.conf's MIG lines against the hardware (the catalog's profile tables) and, when
// given, the layout: per GPU and profile.
void CompareMig(const NodeInventory& node, const GresConf& conf,
                const std::optional<MigLayout>& layout, const MigLayout& configured,
                std::vector<std::string>& mismatches) {
  for (const std::string& problem : MigLayoutProblems(node, configured)) {
    mismatches.push_back(absl::StrCat("gres.conf: ", problem));
  }
  // A GPU cut into slices is no whole GPU any more.
  for (const auto& [key, claim] : conf.claims) {
    for (const std::string& file : claim.files) {
      const std::optional<int> index = NvidiaIndex(file);
      if (index &&
          (configured.contains(*index) || (layout.has_value() && layout->contains(*index)))) {
        mismatches.push_back(absl::StrCat("gres.conf: ", file, " is listed whole (", GresLabel(key),
                                          ") but cut into MIG slices"));
      }
    }
  }
  if (!layout.has_value()) return;
  std::set<int> gpus;
  for (const auto& [index, slices] : configured) gpus.insert(index);
  for (const auto& [index, slices] : *layout) gpus.insert(index);
  const std::vector<MigSlice> none;
  for (int index : gpus) {
    const auto in_conf = configured.find(index);
    const auto in_layout = layout->find(index);
    std::map<std::string, int64_t> claimed =
        SlicesPerProfile(in_conf == configured.end() ? none : in_conf->second);
    std::map<std::string, int64_t> wanted =
        SlicesPerProfile(in_layout == layout->end() ? none : in_layout->second);
    std::set<std::string> profiles;
    for (const auto& [profile, count] : claimed) profiles.insert(profile);
    for (const auto& [profile, count] : wanted) profiles.insert(profile);
    for (const std::string& profile : profiles) {
      if (claimed[profile] == wanted[profile]) continue;
      mismatches.push_back(absl::StrCat("gres.conf: /dev/nvidia", index, " MIG ", profile,
                                        " count ", claimed[profile], ", layout has ",
                                        wanted[profile]));
    }
  }
}

NodeInventory WithoutPositions(const NodeInventory& node, const std::set<int>& positions) {
  NodeInventory whole = node;
  whole.devices.clear();
  for (int position = 0; position < static_cast<int>(node.devices.size()); ++position) {
    if (!positions.contains(position)) {
      whole.devices.push_back(node.devices[static_cast<size_t>(position)]);
    }
  }
  return whole;
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
  const std::set<std::string> present(device_files.begin(), device_files.end());
  auto exists = [&present](const std::string& file) { return present.contains(file); };
  std::set<std::string> named;
  for (const auto& [key, claim] : claims) {
    if (key.first != "npu") continue;
    for (const std::string& file : claim.files) {
      if (!exists(file) && named.insert(file).second) {
        mismatches.push_back(
            absl::StrCat("gres.conf: File=", file, " does not exist on this host"));
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
  ExpansionBudget node_names{kMaxNodeNamesPerFile};
  for (const ConfLine& line : LogicalConfLines(text)) {
    const int line_number = line.number;
    std::vector<ConfParam> params = ParseConfLine(line.text);
    if (params.empty() || params.front().key != "nodename") continue;
    if (absl::AsciiStrToLower(params.front().value) == "default") {
      defaults.insert(defaults.end(), params.begin() + 1, params.end());
      continue;
    }
    absl::StatusOr<bool> ours = NamesNode(params.front().value, node, node_names);
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
    if (parts.empty()) continue;
    const std::string name = absl::AsciiStrToLower(parts[0]);
    if (!IsAcceleratorGres(name) && name != "shard") continue;
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

// What the node's Gres= must hold besides whole devices: MIG slices per profile
// (from the layout, else from gres.conf) and shards (with --shards-per-gpu).
struct SharedGres {
  std::map<std::string, int64_t> mig;
  std::string mig_source;  // "layout" / "gres.conf"
  std::optional<int64_t> shards;
};

void CompareSharedGres(GresClaims& claims, const SharedGres& expected,
                       std::vector<std::string>& mismatches) {
  std::map<std::string, int64_t> mig = expected.mig;
  std::map<std::string, int64_t> claimed_mig;
  for (const auto& [profile, count] : mig) claimed_mig[profile] = 0;
  std::optional<int64_t> claimed_shards;
  for (auto it = claims.begin(); it != claims.end();) {
    const model::MigProfile* profile =
        it->first.first == "gpu" ? MigProfileOfType(it->first.second) : nullptr;
    if (it->first.first == "shard") {
      claimed_shards = claimed_shards.value_or(0) + it->second.count;
    } else if (profile != nullptr) {
      claimed_mig[std::string(profile->name)] += it->second.count;
    } else {
      ++it;
      continue;
    }
    it = claims.erase(it);
  }
  for (const auto& [profile, count] : claimed_mig) {
    if (count == mig[profile]) continue;
    mismatches.push_back(absl::StrCat("slurm.conf: Gres gpu:", profile, " count ", count, ", ",
                                      expected.mig_source, " has ", mig[profile]));
  }
  if (expected.shards.has_value() && claimed_shards.value_or(0) != *expected.shards) {
    mismatches.push_back(absl::StrCat("slurm.conf: Gres shard count ", claimed_shards.value_or(0),
                                      ", --shards-per-gpu on the whole GPUs makes ",
                                      *expected.shards));
  }
}

absl::Status CheckSlurmConf(const NodeInventory& node, absl::string_view text,
                            const SharedGres& shared, std::vector<std::string>& mismatches) {
  absl::StatusOr<std::optional<std::vector<ConfParam>>> params = FindNodeLine(text, node.hostname);
  if (!params.ok()) return params.status();
  if (!params->has_value()) {
    mismatches.push_back(absl::StrCat("slurm.conf: no NodeName line for ", node.hostname));
    return absl::OkStatus();
  }
  CompareNodeLine(node, **params, mismatches);
  absl::StatusOr<GresClaims> gres = ParseNodeGres(ParamOr(**params, "gres"));
  if (!gres.ok()) return gres.status();
  CompareSharedGres(*gres, shared, mismatches);
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
    const std::optional<std::vector<std::string>>& device_files, const SharingPlan& sharing) {
  std::vector<std::string> mismatches;
  absl::StatusOr<GresConf> gres = ParseGresConf(gres_conf, node.hostname);
  if (!gres.ok()) return gres.status();
  const MigLayout configured = ConfiguredMig(node, *gres, mismatches);
  // The GPUs cut into slices: as the layout says when given, else as gres.conf does.
  const MigLayout& cut = sharing.mig_layout.has_value() ? *sharing.mig_layout : configured;
  const std::set<int> partitioned = MigPartitioned(node, cut);
  std::set<std::string> partitioned_files;
  for (int position : partitioned) {
    partitioned_files.insert(node.devices[static_cast<size_t>(position)].DeviceFile());
  }
  const NodeInventory whole = WithoutPositions(node, partitioned);
  CompareMig(node, *gres, sharing.mig_layout, configured, mismatches);
  gres->claims = MergeUncatalogued(gres->claims);
  CompareCounts(whole, gres->claims, "gres.conf", mismatches);
  CompareFiles(whole, gres->claims, partitioned_files, mismatches);
  CompareCores(node, *gres, mismatches);
  CompareShards(whole, *gres, partitioned_files, sharing.shards_per_gpu, mismatches);
  if (device_files.has_value()) CompareNpuFiles(node, gres->claims, *device_files, mismatches);
  SharedGres shared;
  shared.mig_source = sharing.mig_layout.has_value() ? "layout" : "gres.conf";
  for (const auto& [profile, count] : CountMigSlices(cut)) shared.mig[profile] = count;
  if (sharing.shards_per_gpu > 0) {
    int64_t gpus = 0;
    for (const GresCount& entry : CountGres(whole)) {
      if (entry.name == "gpu") gpus += entry.count;
    }
    shared.shards = gpus * sharing.shards_per_gpu;
  }
  absl::Status status = CheckSlurmConf(whole, slurm_conf, shared, mismatches);
  if (!status.ok()) return status;
  return mismatches;
}

}  // namespace accelpack::probe
