#include "model/mig.h"

#include "common/strings.h"
#include "model/catalog.h"

namespace accelpack::model {

namespace {

// NVIDIA's MIG user guide, profile tables for H100 80GB and H200 141GB (compute
// slices, memory GB, instances per GPU, memory slices).
constexpr MigProfile kProfiles[] = {
    {"h100", "nvidia_h100_80gb_hbm3", "1g.10gb", 1, 10, 7, 1},
    {"h100", "nvidia_h100_80gb_hbm3", "1g.20gb", 1, 20, 4, 2},
    {"h100", "nvidia_h100_80gb_hbm3", "2g.20gb", 2, 20, 3, 2},
    {"h100", "nvidia_h100_80gb_hbm3", "3g.40gb", 3, 40, 2, 4},
    {"h100", "nvidia_h100_80gb_hbm3", "4g.40gb", 4, 40, 1, 4},
    {"h100", "nvidia_h100_80gb_hbm3", "7g.80gb", 7, 80, 1, 8},
    {"h200", "nvidia_h200", "1g.18gb", 1, 18, 7, 1},
    {"h200", "nvidia_h200", "1g.35gb", 1, 35, 4, 2},
    {"h200", "nvidia_h200", "2g.35gb", 2, 35, 3, 2},
    {"h200", "nvidia_h200", "3g.71gb", 3, 71, 2, 4},
    {"h200", "nvidia_h200", "4g.71gb", 4, 71, 1, 4},
    {"h200", "nvidia_h200", "7g.141gb", 7, 141, 1, 8},
};

constexpr int kGpusPerHgxNode = 8;

}  // namespace

std::span<const MigProfile> MigProfiles() { return kProfiles; }

std::string MigKindName(const MigProfile& profile) {
  return Cat(profile.parent, "-mig-", profile.name);
}

void AddMigKinds(Catalog& catalog) {
  for (const MigProfile& profile : kProfiles) {
    const std::optional<int> parent = catalog.FindKind(profile.parent);
    if (!parent) continue;
    AcceleratorKind kind;
    kind.name = MigKindName(profile);
    kind.display_name = Cat(catalog.kind(*parent).display_name, " MIG ", profile.name);
    kind.vendor = catalog.kind(*parent).vendor;
    kind.memory_gib = profile.memory_gb;
    kind.mig_parent = std::string(profile.parent);
    // Slices are independent devices: any count, one group.
    kind.rule.devices_per_node = profile.max_per_gpu * kGpusPerHgxNode;
    kind.rule.group_size = kind.rule.devices_per_node;
    (void)catalog.AddKind(kind);
    (void)catalog.MapGres({"gpu", std::string(profile.name), kind.name});
    (void)catalog.MapGres({"gpu", Cat(profile.autodetect_gpu, "_", profile.name), kind.name});
  }
}

}  // namespace accelpack::model
