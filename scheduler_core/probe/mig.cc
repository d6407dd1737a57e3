// MIG layouts: parsed from the admin's spec, checked against the node's GPUs and the
// catalog's profile tables (model/mig.h), and written as Slurm's hand-configured MIG
// lines (gres.html "MIG Management": typed gpu GRES with MultipleFiles=).
#include "model/mig.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "probe/conf_syntax.h"
#include "probe/gres_conf.h"
#include "probe/probe.h"
#include "probe/text_file.h"

namespace accelpack::probe {
namespace {

// The catalog's std::string_view as absl's (a distinct type in Debian's Abseil).
absl::string_view View(std::string_view text) { return {text.data(), text.size()}; }

std::optional<int> ParseSmallInt(absl::string_view text, int max) {
  int value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() || value < 0 ||
      value > max) {
    return std::nullopt;
  }
  return value;
}

// Most slices one layout entry may name (7 fit a GPU; more is a typo, reported by
// validation, but not a reason to allocate millions).
constexpr int kMaxSlicesPerEntry = 64;

absl::Status EntryError(absl::string_view source, absl::string_view entry, absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": MIG layout entry \"", entry, "\": ", what));
}

// "3g.40gb", "1g.10gb*7" or "3g.40gb@2".
absl::Status AddSlices(absl::string_view source, absl::string_view entry, absl::string_view spec,
                       std::vector<MigSlice>& slices) {
  MigSlice slice;
  int count = 1;
  if (const size_t at = spec.find('@'); at != absl::string_view::npos) {
    const std::optional<int> instance = ParseSmallInt(spec.substr(at + 1), kMaxGpuInstanceId);
    if (!instance) {
      return EntryError(source, entry,
                        absl::StrCat("GPU instance id \"", spec.substr(at + 1),
                                     "\" is not a number from 0 to ", kMaxGpuInstanceId));
    }
    slice.gpu_instance = *instance;
    spec = spec.substr(0, at);
  }
  if (const size_t star = spec.find('*'); star != absl::string_view::npos) {
    const std::optional<int> parsed = ParseSmallInt(spec.substr(star + 1), kMaxSlicesPerEntry);
    if (!parsed || *parsed < 1) {
      return EntryError(source, entry,
                        absl::StrCat("count \"", spec.substr(star + 1),
                                     "\" is not a number from 1 to ", kMaxSlicesPerEntry));
    }
    if (slice.gpu_instance.has_value() && *parsed > 1) {
      return EntryError(source, entry, "a GPU instance id names one slice, not *N");
    }
    count = *parsed;
    spec = spec.substr(0, star);
  }
  if (spec.empty()) return EntryError(source, entry, "empty MIG profile");
  slice.profile = absl::AsciiStrToLower(spec);
  slices.insert(slices.end(), static_cast<size_t>(count), slice);
  return absl::OkStatus();
}

std::string DeviceLabel(const Device& device) {
  return absl::StrCat("GPU ", device.index, " (", device.DeviceFile(), ", ", device.model, ")");
}

std::vector<const model::MigProfile*> ProfilesOf(const Device& device) {
  std::vector<const model::MigProfile*> profiles;
  if (device.mig_profiles.empty()) return profiles;
  for (const model::MigProfile& profile : model::MigProfiles()) {
    if (profile.parent == device.mig_profiles) profiles.push_back(&profile);
  }
  return profiles;
}

std::string ProfileNames(const Device& device) {
  std::vector<std::string> names;
  for (const model::MigProfile* profile : ProfilesOf(device)) {
    names.emplace_back(profile->name);
  }
  return absl::StrJoin(names, ", ");
}

std::string GpuIndexes(const NodeInventory& node) {
  std::vector<int> indexes;
  for (const Device& device : node.devices) {
    if (device.gres_name == "gpu" && device.numbered()) indexes.push_back(device.index);
  }
  return indexes.empty() ? "none" : FormatIndexRanges(indexes);
}

void SliceProblems(const Device& device, const std::vector<MigSlice>& slices,
                   std::vector<std::string>& problems) {
  const std::string where = DeviceLabel(device);
  if (device.mig_profiles.empty()) {
    problems.push_back(absl::StrCat(where, ": accelpack's catalog has no MIG profiles for it ",
                                    "(it has them for H100 80GB and H200 141GB)"));
    return;
  }
  int compute = 0;
  int memory = 0;
  std::map<const model::MigProfile*, int> per_profile;
  std::set<int> instances;
  for (const MigSlice& slice : slices) {
    const model::MigProfile* profile = FindMigProfile(device, slice.profile);
    if (profile == nullptr) {
      problems.push_back(absl::StrCat(where, ": no MIG profile ", slice.profile,
                                      " for this model (its profiles: ", ProfileNames(device),
                                      ")"));
      continue;
    }
    compute += profile->compute_slices;
    memory += profile->memory_slices;
    ++per_profile[profile];
    if (slice.gpu_instance.has_value() && !instances.insert(*slice.gpu_instance).second) {
      problems.push_back(
          absl::StrCat(where, ": GPU instance ", *slice.gpu_instance, " given to two slices"));
    }
  }
  for (const auto& [profile, count] : per_profile) {
    if (count > profile->max_per_gpu) {
      problems.push_back(absl::StrCat(where, ": ", count, " x ", View(profile->name), ", at most ",
                                      profile->max_per_gpu, " fit one GPU"));
    }
  }
  if (compute > model::kMigComputeSlices) {
    problems.push_back(absl::StrCat(where, ": the slices take ", compute,
                                    " compute slices, a GPU has ", model::kMigComputeSlices));
  }
  if (memory > model::kMigMemorySlices) {
    problems.push_back(absl::StrCat(where, ": the slices take ", memory,
                                    " memory slices, a GPU has ", model::kMigMemorySlices));
  }
}

// The two /dev/nvidia-caps files of a slice (its GPU instance's and its compute
// instance's, as Slurm's NVML autodetect lists them); empty when they cannot be named.
std::vector<std::string> CapFiles(const Device& device, const MigSlice& slice,
                                  const std::optional<MigMinors>& minors) {
  if (!slice.gpu_instance.has_value() || !minors.has_value()) return {};
  // One compute instance per GPU instance (`nvidia-smi mig -cgi ... -C`): CI 0.
  const std::string instance = absl::StrCat("gpu", device.index, "/gi", *slice.gpu_instance);
  const auto gpu_instance = minors->find(absl::StrCat(instance, "/access"));
  const auto compute_instance = minors->find(absl::StrCat(instance, "/ci0/access"));
  if (gpu_instance == minors->end() || compute_instance == minors->end()) return {};
  return {absl::StrCat("/dev/nvidia-caps/nvidia-cap", gpu_instance->second),
          absl::StrCat("/dev/nvidia-caps/nvidia-cap", compute_instance->second)};
}

}  // namespace

absl::StatusOr<MigLayout> ParseMigLayout(absl::string_view text, absl::string_view source) {
  MigLayout layout;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = line.substr(0, line.find('#'));
    for (absl::string_view entry :
         absl::StrSplit(line, absl::ByAnyChar(" \t\r;"), absl::SkipEmpty())) {
      const size_t equals = entry.find('=');
      if (equals == absl::string_view::npos) {
        return EntryError(source, entry, "expected GPUS=SLICES, e.g. 0=3g.40gb,3g.40gb");
      }
      // No more GPUs than a node holds, counted before the list is expanded.
      absl::StatusOr<std::vector<int>> gpus =
          ParseIndexRanges(entry.substr(0, equals), kMaxDevicesPerNode);
      if (!gpus.ok() || gpus->empty()) {
        return EntryError(
            source, entry,
            absl::StrCat("bad GPU index list \"", entry.substr(0, equals), "\"",
                         gpus.ok() ? "" : absl::StrCat(" (", gpus.status().message(), ")")));
      }
      std::vector<MigSlice> slices;
      for (absl::string_view spec : absl::StrSplit(entry.substr(equals + 1), ',')) {
        absl::Status status = AddSlices(source, entry, spec, slices);
        if (!status.ok()) return status;
      }
      if (slices.size() > static_cast<size_t>(kMaxSlicesPerEntry)) {
        return EntryError(source, entry, "more slices than any GPU holds");
      }
      for (int gpu : *gpus) {
        if (gpu >= kMaxDevicesPerNode) {
          return EntryError(source, entry,
                            absl::StrCat("GPU ", gpu, ": a node holds at most ", kMaxDevicesPerNode,
                                         " accelerators"));
        }
        if (!layout.emplace(gpu, slices).second) {
          return EntryError(source, entry, absl::StrCat("GPU ", gpu, " is already laid out"));
        }
      }
    }
  }
  if (layout.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": empty MIG layout"));
  return layout;
}

absl::StatusOr<MigMinors> ParseMigMinors(absl::string_view text, absl::string_view source) {
  MigMinors minors;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (words.empty()) continue;
    const std::optional<int> minor =
        words.size() == 2 ? ParseSmallInt(words[1], 1 << 20) : std::nullopt;
    if (!minor) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, " line ", line_number, ": expected \"NAME MINOR\" (mig-minors)"));
    }
    minors[std::string(words[0])] = *minor;
  }
  return minors;
}

const model::MigProfile* FindMigProfile(const Device& device, absl::string_view name) {
  for (const model::MigProfile* profile : ProfilesOf(device)) {
    if (absl::EqualsIgnoreCase(View(profile->name), name)) return profile;
  }
  return nullptr;
}

const model::MigProfile* MigProfileOfType(absl::string_view type) {
  for (const model::MigProfile& profile : model::MigProfiles()) {
    // Hand-configured types name the profile ("3g.40gb"); autodetected ones prefix
    // it with the GPU's NVML name ("nvidia_h100_80gb_hbm3_3g.40gb").
    if (absl::EqualsIgnoreCase(type, View(profile.name))) return &profile;
    if (type.size() > profile.name.size() &&
        absl::EndsWithIgnoreCase(type, absl::StrCat("_", View(profile.name)))) {
      return &profile;
    }
  }
  return nullptr;
}

std::optional<int> GpuPosition(const NodeInventory& node, int index) {
  for (int position = 0; position < static_cast<int>(node.devices.size()); ++position) {
    const Device& device = node.devices[static_cast<size_t>(position)];
    if (device.gres_name == "gpu" && device.known() && device.index == index) return position;
  }
  return std::nullopt;
}

std::set<int> MigPartitioned(const NodeInventory& node, const std::optional<MigLayout>& layout) {
  std::set<int> positions;
  if (!layout.has_value()) return positions;
  for (const auto& [index, slices] : *layout) {
    if (const std::optional<int> position = GpuPosition(node, index)) positions.insert(*position);
  }
  return positions;
}

std::vector<std::string> MigLayoutProblems(const NodeInventory& node, const MigLayout& layout) {
  std::vector<std::string> problems;
  for (const auto& [index, slices] : layout) {
    const std::optional<int> position = GpuPosition(node, index);
    if (!position) {
      problems.push_back(absl::StrCat("GPU ", index, ": ", node.hostname, " has no /dev/nvidia",
                                      index, " (its GPUs: ", GpuIndexes(node), ")"));
      continue;
    }
    SliceProblems(node.devices[static_cast<size_t>(*position)], slices, problems);
  }
  return problems;
}

absl::Status ValidateMigLayout(const NodeInventory& node, const MigLayout& layout,
                               absl::string_view source) {
  const std::vector<std::string> problems = MigLayoutProblems(node, layout);
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      source, ": MIG layout does not fit ", node.hostname, ": ", absl::StrJoin(problems, "; ")));
}

std::vector<std::pair<std::string, int>> CountMigSlices(const MigLayout& layout) {
  std::vector<std::pair<std::string, int>> counts;
  for (const auto& [index, slices] : layout) {
    for (const MigSlice& slice : slices) {
      auto it = std::find_if(counts.begin(), counts.end(),
                             [&slice](const auto& entry) { return entry.first == slice.profile; });
      if (it == counts.end()) {
        counts.emplace_back(slice.profile, 1);
      } else {
        ++it->second;
      }
    }
  }
  return counts;
}

std::optional<GpuInstances> LiveGpuInstances() {
  // The driver's view for containers: gpuN/mig/giG/access exists for each GPU instance.
  constexpr char kCapabilities[] = "/proc/driver/nvidia/capabilities";
  const std::optional<std::vector<std::string>> gpus = ListDirectory(kCapabilities);
  if (!gpus.has_value()) return std::nullopt;
  GpuInstances instances;
  for (const std::string& gpu : *gpus) {
    const std::optional<int> index =
        absl::StartsWith(gpu, "gpu") ? ParseSmallInt(View(gpu).substr(3), kMaxDevicesPerNode - 1)
                                     : std::nullopt;
    if (!index.has_value()) continue;  // "mig", "fabric-imex-mgmt"
    std::set<int>& ids = instances[*index];
    const std::string mig = absl::StrCat(kCapabilities, "/", gpu, "/mig");
    for (const std::string& gi : ListDirectory(mig).value_or(std::vector<std::string>())) {
      if (!absl::StartsWith(gi, "gi")) continue;
      if (const std::optional<int> id = ParseSmallInt(View(gi).substr(2), kMaxGpuInstanceId)) {
        ids.insert(*id);
      }
    }
  }
  return instances;
}

std::vector<std::string> MissingGpuInstances(const MigLayout& layout,
                                             const GpuInstances& existing) {
  std::vector<std::string> lines;
  for (const auto& [index, slices] : layout) {
    const auto found = existing.find(index);
    const std::set<int> none;
    const std::set<int>& ids = found == existing.end() ? none : found->second;
    std::vector<int> missing;
    for (const MigSlice& slice : slices) {
      if (slice.gpu_instance.has_value() && !ids.contains(*slice.gpu_instance)) {
        missing.push_back(*slice.gpu_instance);
      }
    }
    // nvidia-smi's -i index need not be the device minor: the list of all is safer.
    constexpr absl::string_view kHow =
        " (MIG mode off, or not created yet; `nvidia-smi mig -lgi` lists them): the lines "
        "name slices the GPU does not have";
    if (!missing.empty()) {
      lines.push_back(absl::StrCat("GPU ", index, " (/dev/nvidia", index,
                                   ") has no MIG GPU instance ", absl::StrJoin(missing, ", "),
                                   " now", kHow));
    } else if (ids.size() < slices.size()) {
      lines.push_back(absl::StrCat("GPU ", index, " (/dev/nvidia", index, ") has ", ids.size(),
                                   " MIG GPU instance", ids.size() == 1 ? "" : "s",
                                   " now for the layout's ", slices.size(), " slices", kHow));
    }
  }
  return lines;
}

std::string RenderMigLines(const NodeInventory& node, const SharingPlan& sharing,
                           bool& first_line) {
  if (!sharing.mig_layout.has_value()) return "";
  std::string text = "# MIG slices (--mig-layout); their GPUs are not listed whole\n";
  if (sharing.live_instances.has_value()) {
    for (const std::string& line :
         MissingGpuInstances(*sharing.mig_layout, *sharing.live_instances))
      absl::StrAppend(&text, "# note: ", line, "\n");
  }
  bool told_fill_in = false;
  for (const auto& [index, slices] : *sharing.mig_layout) {
    const std::optional<int> position = GpuPosition(node, index);
    if (!position) continue;
    const Device& device = node.devices[static_cast<size_t>(*position)];
    for (const MigSlice& slice : slices) {
      std::vector<std::string> files = {device.DeviceFile()};
      const std::vector<std::string> caps = CapFiles(device, slice, sharing.mig_minors);
      const bool commented_out = caps.empty();
      if (commented_out) {
        const std::string instance =
            slice.gpu_instance.has_value() ? absl::StrCat(*slice.gpu_instance) : "G";
        files.push_back(
            absl::StrCat("/dev/nvidia-caps/nvidia-cap<gpu", index, "/gi", instance, "/access>"));
        files.push_back(absl::StrCat("/dev/nvidia-caps/nvidia-cap<gpu", index, "/gi", instance,
                                     "/ci0/access>"));
        if (!told_fill_in) {
          absl::StrAppend(&text,
                          "# fill in: the cap file numbers are unknown (give GPU instance ids, "
                          "PROFILE@GI from `nvidia-smi mig -lgi`, and the node's "
                          "/proc/driver/nvidia-caps/mig-minors); replace each <NAME> by its "
                          "number in mig-minors, then uncomment\n");
          told_fill_in = true;
        }
      } else {
        files.insert(files.end(), caps.begin(), caps.end());
      }
      absl::StrAppend(&text, commented_out ? "#" : "", "NodeName=", node.hostname);
      if (first_line && !commented_out) {
        absl::StrAppend(&text, " AutoDetect=off");
        first_line = false;
      }
      absl::StrAppend(&text, " Name=gpu Type=", slice.profile,
                      " MultipleFiles=", absl::StrJoin(files, ","));
      if (!device.cores.empty()) absl::StrAppend(&text, " Cores=", FormatIndexRanges(device.cores));
      absl::StrAppend(&text, "\n");
    }
  }
  return text;
}

}  // namespace accelpack::probe
