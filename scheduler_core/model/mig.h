// MIG profiles as catalog data: each profile is a kind of its own, whose "devices"
// are the slices a node's GPUs are partitioned into. Slurm sees them as typed GRES
// (gpu:1g.10gb), configured by hand with MultipleFiles= or found by AutoDetect=nvml
// (type names such as nvidia_h100_80gb_hbm3_1g.10gb); the built-in catalog maps both.
#pragma once

#include <span>
#include <string_view>

namespace accelpack::model {

class Catalog;

struct MigProfile {
  std::string_view parent;          // catalog kind of the whole GPU ("h100")
  std::string_view autodetect_gpu;  // NVML device name as AutoDetect=nvml spells it
  std::string_view name;            // "1g.10gb"
  int compute_slices = 0;           // of 7
  int memory_gb = 0;
  int max_per_gpu = 0;    // instances of this profile one GPU holds
  int memory_slices = 0;  // of kMigMemorySlices
};

// A MIG-capable Hopper GPU has 7 compute slices and 8 memory slices; the slices its
// instances take add up to at most these.
inline constexpr int kMigComputeSlices = 7;
inline constexpr int kMigMemorySlices = 8;

// The built-in profiles: H100 80GB and H200 141GB.
std::span<const MigProfile> MigProfiles();

// Catalog name of a profile's kind, e.g. "h100-mig-1g.10gb".
std::string MigKindName(const MigProfile& profile);

// Adds a kind per profile and maps gpu:<profile> and gpu:<autodetect>_<profile> to it.
void AddMigKinds(Catalog& catalog);

}  // namespace accelpack::model
