// Device choice inside one node under a kind's topology rule.
//
// Pure functions over a pool's per-device usage; the engine calls them to know
// whether a request fits a node now and which devices it would take.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "model/catalog.h"

namespace accelpack::model {

// Chooses `count` whole, unused devices that form a legal shape: at most a group
// inside one group (the fullest group that still fits, so whole groups stay free
// for large jobs), larger counts evenly over the fewest groups; on module kinds
// (910C) even counts take whole free modules and a single die prefers a module
// whose other die is busy. nullopt when no legal shape is free. `groups` (device
// indices per interconnect group, from the node probe) replaces the rule's
// contiguous groups of group_size when given.
std::optional<std::vector<int>> ChooseWholeDevices(const TopologyRule& rule,
                                                   std::span<const int> used_milli, int count,
                                                   std::span<const std::vector<int>> groups = {});

// Where Slurm, not the core, picks a job's devices inside a node (cons_tres on a
// GRES with File=: the lowest free indices; the socket affinity that gres.conf
// Cores= adds is not modelled): those `count` devices when they form a legal shape
// under the rule (as ChooseWholeDevices' shapes: per_group devices in each of the
// fewest groups, whole modules for module counts), nullopt when they do not. The
// core cannot hand Slurm other devices, so then the job must not start there now.
std::optional<std::vector<int>> LowestFreeDevicesIfLegal(
    const TopologyRule& rule, std::span<const int> used_milli, int count,
    std::span<const std::vector<int>> groups = {});

// Devices that can take a share of `fraction_milli` now.
std::vector<int> DevicesWithRoomFor(std::span<const int> used_milli, int fraction_milli);

// Number of completely unused devices.
int CountFreeDevices(std::span<const int> used_milli);

// Unused share of the devices, in milli-devices.
int FreeMilli(std::span<const int> used_milli);

}  // namespace accelpack::model
