#include "model/topology.h"

#include <algorithm>

#include "model/cluster.h"

namespace accelpack::model {

namespace {

bool IsFree(std::span<const int> used, int device) {
  return used[static_cast<size_t>(device)] == 0;
}

// A unit is one device, or a module of `module_size` devices that are all free.
struct Unit {
  int first_device;
  bool free;
  bool partly_busy;  // a module with some but not all devices in use
};

std::vector<Unit> Units(std::span<const int> used, int begin, int end, int module_size) {
  std::vector<Unit> units;
  for (int first = begin; first < end; first += module_size) {
    int free_devices = 0;
    const int last = std::min(end, first + module_size);
    for (int d = first; d < last; ++d) free_devices += IsFree(used, d) ? 1 : 0;
    units.push_back({first, free_devices == last - first, free_devices > 0 && free_devices < last - first});
  }
  return units;
}

// Takes `units_wanted` free units inside [begin, end), whole modules when
// `take_modules`, else single devices (preferring ones in partly busy modules).
std::vector<int> TakeFromGroup(const TopologyRule& rule, std::span<const int> used, int begin,
                               int end, int devices_wanted, bool take_modules) {
  std::vector<int> chosen;
  if (take_modules) {
    for (const Unit& unit : Units(used, begin, end, rule.module_size)) {
      if (!unit.free) continue;
      for (int d = 0; d < rule.module_size; ++d) chosen.push_back(unit.first_device + d);
      if (static_cast<int>(chosen.size()) == devices_wanted) return chosen;
    }
    return {};
  }
  // Single devices: first those whose module partner is busy, then the rest.
  std::vector<int> preferred;
  std::vector<int> others;
  for (const Unit& unit : Units(used, begin, end, rule.module_size)) {
    const int last = std::min(end, unit.first_device + rule.module_size);
    for (int d = unit.first_device; d < last; ++d) {
      if (!IsFree(used, d)) continue;
      (unit.partly_busy ? preferred : others).push_back(d);
    }
  }
  preferred.insert(preferred.end(), others.begin(), others.end());
  if (static_cast<int>(preferred.size()) < devices_wanted) return {};
  preferred.resize(static_cast<size_t>(devices_wanted));
  return preferred;
}

int FreeInGroup(std::span<const int> used, int begin, int end) {
  int free_devices = 0;
  for (int d = begin; d < end; ++d) free_devices += IsFree(used, d) ? 1 : 0;
  return free_devices;
}

}  // namespace

int CountFreeDevices(std::span<const int> used_milli) {
  return static_cast<int>(std::count(used_milli.begin(), used_milli.end(), 0));
}

std::vector<int> DevicesWithRoomFor(std::span<const int> used_milli, int fraction_milli) {
  std::vector<int> devices;
  for (size_t d = 0; d < used_milli.size(); ++d) {
    if (used_milli[d] + fraction_milli <= kMilliPerDevice) devices.push_back(static_cast<int>(d));
  }
  return devices;
}

std::optional<std::vector<int>> ChooseWholeDevices(const TopologyRule& rule,
                                                   std::span<const int> used_milli, int count) {
  const int devices = static_cast<int>(used_milli.size());
  if (!rule.IsLegalCount(count) || count > devices) return std::nullopt;
  if (CountFreeDevices(used_milli) < count) return std::nullopt;
  const bool take_modules = rule.module_size > 1 && count % rule.module_size == 0;
  const int group_size = std::min(rule.group_size, devices);
  const int groups = (devices + group_size - 1) / group_size;
  const int groups_needed = (count + group_size - 1) / group_size;
  if (count % groups_needed != 0) return std::nullopt;
  const int per_group = count / groups_needed;

  // Groups that can give per_group, fullest first (best fit), ties by index.
  struct Candidate {
    int group;
    int free_devices;
    std::vector<int> devices;
  };
  std::vector<Candidate> candidates;
  for (int g = 0; g < groups; ++g) {
    const int begin = g * group_size;
    const int end = std::min(devices, begin + group_size);
    std::vector<int> taken = TakeFromGroup(rule, used_milli, begin, end, per_group, take_modules);
    if (!taken.empty()) candidates.push_back({g, FreeInGroup(used_milli, begin, end), std::move(taken)});
  }
  if (static_cast<int>(candidates.size()) < groups_needed) return std::nullopt;
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const Candidate& a, const Candidate& b) { return a.free_devices < b.free_devices; });
  std::vector<int> chosen;
  for (int g = 0; g < groups_needed; ++g) {
    const auto& taken = candidates[static_cast<size_t>(g)].devices;
    chosen.insert(chosen.end(), taken.begin(), taken.end());
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

}  // namespace accelpack::model
