#include "model/topology.h"

#include <algorithm>
#include <map>
#include <utility>

#include "model/cluster.h"

namespace accelpack::model {

namespace {

bool IsFree(std::span<const int> used, int device) {
  return used[static_cast<size_t>(device)] == 0;
}

// Free devices of one group to take: whole modules when `take_modules`, else
// single devices, preferring those whose module is already partly busy. A module
// is whole only when all its dies are free and all of them sit in this group: the
// rule table defines modules by device index (dies 2k and 2k+1 on a 910C), so a
// group whose count is odd, or that lists dies out of order, cannot split one.
std::vector<int> TakeFromGroup(const TopologyRule& rule, std::span<const int> used,
                               std::span<const int> group, int devices_wanted, bool take_modules) {
  std::vector<int> whole_modules;
  std::vector<int> preferred;
  std::vector<int> others;
  for (int device : group) {
    if (!IsFree(used, device)) continue;
    const int first = rule.ModuleOf(device) * rule.module_size;
    bool whole = true;
    for (int die = first; die < first + rule.module_size && whole; ++die) {
      whole = die < static_cast<int>(used.size()) && IsFree(used, die) &&
              std::find(group.begin(), group.end(), die) != group.end();
    }
    // A module's dies are taken together, once, from its lowest die.
    if (whole && device == first) {
      for (int die = first; die < first + rule.module_size; ++die) whole_modules.push_back(die);
    }
    (whole ? others : preferred).push_back(device);
  }
  std::vector<int>& pick = take_modules ? whole_modules : preferred;
  if (!take_modules) pick.insert(pick.end(), others.begin(), others.end());
  if (static_cast<int>(pick.size()) < devices_wanted) return {};
  pick.resize(static_cast<size_t>(devices_wanted));
  return pick;
}

int FreeInGroup(std::span<const int> used, std::span<const int> group) {
  return static_cast<int>(
      std::count_if(group.begin(), group.end(), [&](int d) { return IsFree(used, d); }));
}

std::vector<std::vector<int>> ContiguousGroups(int devices, int group_size) {
  std::vector<std::vector<int>> groups;
  for (int begin = 0; begin < devices; begin += group_size) {
    std::vector<int> group;
    for (int d = begin; d < std::min(devices, begin + group_size); ++d) group.push_back(d);
    groups.push_back(std::move(group));
  }
  return groups;
}

// The same few (devices, group size) pairs come up for every node of a kind: built
// once per thread, not on every device search.
std::span<const std::vector<int>> DefaultGroups(int devices, int group_size) {
  thread_local std::map<std::pair<int, int>, std::vector<std::vector<int>>> built;
  auto [it, added] = built.try_emplace({devices, group_size});
  if (added) it->second = ContiguousGroups(devices, group_size);
  return it->second;
}

}  // namespace

int CountFreeDevices(std::span<const int> used_milli) {
  return static_cast<int>(std::count(used_milli.begin(), used_milli.end(), 0));
}

int FreeMilli(std::span<const int> used_milli) {
  int free_milli = 0;
  for (int used : used_milli) free_milli += kMilliPerDevice - used;
  return free_milli;
}

std::vector<int> DevicesWithRoomFor(std::span<const int> used_milli, int fraction_milli) {
  std::vector<int> devices;
  for (size_t d = 0; d < used_milli.size(); ++d) {
    if (used_milli[d] + fraction_milli <= kMilliPerDevice) devices.push_back(static_cast<int>(d));
  }
  return devices;
}

std::optional<std::vector<int>> ChooseWholeDevices(const TopologyRule& rule,
                                                   std::span<const int> used_milli, int count,
                                                   std::span<const std::vector<int>> groups) {
  const int devices = static_cast<int>(used_milli.size());
  if (!rule.IsLegalCount(count) || count > devices) return std::nullopt;
  if (CountFreeDevices(used_milli) < count) return std::nullopt;
  if (groups.empty()) groups = DefaultGroups(devices, std::min(rule.group_size, devices));
  size_t largest = 0;
  for (const auto& group : groups) largest = std::max(largest, group.size());
  const int group_size = static_cast<int>(largest);
  const bool take_modules = rule.module_size > 1 && count % rule.module_size == 0;
  const std::optional<int> groups_needed =
      rule.GroupsForCount(count, group_size, static_cast<int>(groups.size()));
  if (!groups_needed) return std::nullopt;
  const int per_group = count / *groups_needed;

  // Groups that can give per_group, fullest first (best fit), ties by order.
  struct Candidate {
    int free_devices;
    std::vector<int> devices;
  };
  std::vector<Candidate> candidates;
  for (const auto& group : groups) {
    std::vector<int> taken = TakeFromGroup(rule, used_milli, group, per_group, take_modules);
    if (!taken.empty()) candidates.push_back({FreeInGroup(used_milli, group), std::move(taken)});
  }
  if (static_cast<int>(candidates.size()) < *groups_needed) return std::nullopt;
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [](const Candidate& a, const Candidate& b) { return a.free_devices < b.free_devices; });
  std::vector<int> chosen;
  for (int g = 0; g < *groups_needed; ++g) {
    const auto& taken = candidates[static_cast<size_t>(g)].devices;
    chosen.insert(chosen.end(), taken.begin(), taken.end());
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

std::optional<std::vector<int>> LowestFreeDevicesIfLegal(const TopologyRule& rule,
                                                         std::span<const int> used_milli, int count,
                                                         std::span<const std::vector<int>> groups) {
  const int devices = static_cast<int>(used_milli.size());
  if (count < 1 || !rule.IsLegalCount(count) || count > devices) return std::nullopt;
  std::vector<int> picked;
  for (int d = 0; d < devices && static_cast<int>(picked.size()) < count; ++d) {
    if (IsFree(used_milli, d)) picked.push_back(d);
  }
  if (static_cast<int>(picked.size()) < count) return std::nullopt;
  if (groups.empty()) groups = DefaultGroups(devices, std::min(rule.group_size, devices));
  size_t largest = 0;
  for (const auto& group : groups) largest = std::max(largest, group.size());
  const std::optional<int> groups_needed =
      rule.GroupsForCount(count, static_cast<int>(largest), static_cast<int>(groups.size()));
  if (!groups_needed) return std::nullopt;
  const int per_group = count / *groups_needed;
  // Every picked device in a group, per_group of them in each group touched.
  int groups_touched = 0;
  size_t placed = 0;
  for (const auto& group : groups) {
    const auto in_group = std::count_if(picked.begin(), picked.end(), [&](int d) {
      return std::find(group.begin(), group.end(), d) != group.end();
    });
    if (in_group == 0) continue;
    if (in_group != per_group) return std::nullopt;
    ++groups_touched;
    placed += static_cast<size_t>(in_group);
  }
  if (groups_touched != *groups_needed || placed != picked.size()) return std::nullopt;
  // Whole modules, as TakeFromGroup counts them: every die picked, all in one group
  // (a probe's groups that list dies out of order cannot hold a whole module).
  if (rule.module_size > 1 && count % rule.module_size == 0) {
    auto group_of = [&](int device) {
      for (size_t g = 0; g < groups.size(); ++g) {
        if (std::find(groups[g].begin(), groups[g].end(), device) != groups[g].end()) {
          return static_cast<int>(g);
        }
      }
      return -1;
    };
    for (int d : picked) {
      const int first = rule.ModuleOf(d) * rule.module_size;
      for (int die = first; die < first + rule.module_size; ++die) {
        if (std::find(picked.begin(), picked.end(), die) == picked.end() ||
            group_of(die) != group_of(d)) {
          return std::nullopt;
        }
      }
    }
  }
  return picked;
}

}  // namespace accelpack::model
