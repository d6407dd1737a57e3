#include "model/catalog.h"

#include <algorithm>

#include "common/strings.h"
#include "model/mig.h"

namespace accelpack::model {

std::string_view VendorName(Vendor vendor) {
  switch (vendor) {
    case Vendor::kNvidia:
      return "nvidia";
    case Vendor::kHuawei:
      return "huawei";
    case Vendor::kOther:
      break;
  }
  return "other";
}

bool TopologyRule::IsLegalCount(int count) const {
  if (count < 1 || count > devices_per_node) return false;
  if (legal_counts.empty()) return true;
  return std::find(legal_counts.begin(), legal_counts.end(), count) != legal_counts.end();
}

std::optional<int> TopologyRule::GroupsForCount(int count, int largest_group,
                                                int groups_available) const {
  if (count < 1 || largest_group < 1) return std::nullopt;
  const bool whole_modules = module_size > 1 && count % module_size == 0;
  for (int groups = (count + largest_group - 1) / largest_group; groups <= groups_available;
       ++groups) {
    if (count % groups != 0) continue;
    if (whole_modules && (count / groups) % module_size != 0) continue;
    return groups;
  }
  return std::nullopt;
}

namespace {

TopologyRule HopperHgx() { return TopologyRule{}; }

// First-generation Ascend 910: two HCCS rings of four; 1/2/4 inside one ring, 8 whole node.
TopologyRule Ascend910() {
  TopologyRule rule;
  rule.group_size = 4;
  rule.legal_counts = {1, 2, 4, 8};
  return rule;
}

// Atlas 800T A2: eight 910B in one HCCS group; any count.
TopologyRule Ascend910B() { return TopologyRule{}; }

// 910B Box16: two halves of eight; up to 8 inside one half, larger counts split evenly.
TopologyRule Ascend910BBox16() {
  TopologyRule rule;
  rule.devices_per_node = 16;
  rule.group_size = 8;
  rule.legal_counts = {1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16};
  return rule;
}

// Atlas 900 A3 SuperPoD: 16 dies as 8 two-die modules; 1 die or whole modules.
TopologyRule Ascend910C() {
  TopologyRule rule;
  rule.devices_per_node = 16;
  rule.group_size = 16;
  rule.module_size = 2;
  rule.legal_counts = {1, 2, 4, 6, 8, 10, 12, 14, 16};
  rule.gang_within_superpod = true;
  return rule;
}

Catalog MakeBuiltIn() {
  Catalog catalog;
  const AcceleratorKind kinds[] = {
      {"h100", "NVIDIA H100 SXM5 80GB", Vendor::kNvidia, 80, HopperHgx()},
      {"h200", "NVIDIA H200 SXM 141GB", Vendor::kNvidia, 141, HopperHgx()},
      {"h800", "NVIDIA H800 SXM 80GB", Vendor::kNvidia, 80, HopperHgx()},
      {"h20", "NVIDIA H20 96GB", Vendor::kNvidia, 96, HopperHgx()},
      {"ascend910", "Huawei Ascend 910", Vendor::kHuawei, 32, Ascend910()},
      {"ascend910b", "Huawei Ascend 910B (Atlas 800T A2)", Vendor::kHuawei, 64, Ascend910B()},
      {"ascend910b-box16", "Huawei Ascend 910B Box16", Vendor::kHuawei, 64, Ascend910BBox16()},
      {"ascend910c", "Huawei Ascend 910C die (Atlas 900 A3)", Vendor::kHuawei, 64, Ascend910C()},
  };
  for (const auto& kind : kinds) (void)catalog.AddKind(kind);
  const GresKindMapping gres[] = {
      {"gpu", "h100", "h100"},
      {"gpu", "h200", "h200"},
      {"gpu", "h800", "h800"},
      {"gpu", "h20", "h20"},
      {"npu", "910", "ascend910"},
      {"npu", "910b", "ascend910b"},
      {"npu", "910b16", "ascend910b-box16"},
      {"npu", "910c", "ascend910c"},
      {"gpu", "910", "ascend910"},
      {"gpu", "910b", "ascend910b"},
      {"gpu", "910b16", "ascend910b-box16"},
      {"gpu", "910c", "ascend910c"},
  };
  for (const auto& mapping : gres) (void)catalog.MapGres(mapping);
  AddMigKinds(catalog);
  return catalog;
}

}  // namespace

const Catalog& Catalog::BuiltIn() {
  static const Catalog* const kCatalog = new Catalog(MakeBuiltIn());
  return *kCatalog;
}

absl::Status Catalog::AddKind(AcceleratorKind kind) {
  if (kind.name.empty()) return absl::InvalidArgumentError("kind: empty name");
  if (FindKind(kind.name)) {
    return absl::AlreadyExistsError(Cat("kind ", kind.name, ": already in the catalog"));
  }
  const TopologyRule& rule = kind.rule;
  if (rule.devices_per_node < 1 || rule.group_size < 1 || rule.module_size < 1 ||
      rule.devices_per_node % rule.group_size != 0 || rule.group_size % rule.module_size != 0) {
    return absl::InvalidArgumentError(
        Cat("kind ", kind.name,
            ": devices_per_node must be a multiple of group_size, and group_size of module_size"));
  }
  for (int count : rule.legal_counts) {
    if (count < 1 || count > rule.devices_per_node) {
      return absl::InvalidArgumentError(
          Cat("kind ", kind.name, ": legal count ", count, " outside 1..", rule.devices_per_node));
    }
  }
  kinds_.push_back(std::move(kind));
  return absl::OkStatus();
}

absl::Status Catalog::MapGres(GresKindMapping mapping) {
  if (!FindKind(mapping.kind)) {
    return absl::NotFoundError(
        Cat("gres ", mapping.gres_name, ":", mapping.gres_type, ": unknown kind ", mapping.kind));
  }
  for (auto& existing : gres_) {
    if (existing.gres_name == mapping.gres_name && existing.gres_type == mapping.gres_type) {
      existing.kind = std::move(mapping.kind);
      return absl::OkStatus();
    }
  }
  gres_.push_back(std::move(mapping));
  return absl::OkStatus();
}

std::optional<int> Catalog::FindKind(std::string_view name) const {
  for (size_t i = 0; i < kinds_.size(); ++i) {
    if (kinds_[i].name == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

std::optional<int> Catalog::KindForGres(std::string_view gres_name,
                                        std::string_view gres_type) const {
  for (const auto& mapping : gres_) {
    if (mapping.gres_name == gres_name && mapping.gres_type == gres_type) {
      return FindKind(mapping.kind);
    }
  }
  return std::nullopt;
}

}  // namespace accelpack::model
