#include "service/topology_book.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/bounded_file.h"
#include "common/strings.h"

namespace accelpack::service {

namespace {

// One node's report is a few KiB; a file may hold a whole cluster's as an array.
constexpr size_t kMaxReportBytes = 64 * kMiB;

absl::Status Bad(std::string_view source, std::string_view what) {
  return absl::InvalidArgumentError(Cat(source, ": ", what));
}

}  // namespace

absl::Status TopologyBook::Add(const nlohmann::json& document, std::string_view source) {
  if (document.is_array()) {
    for (size_t i = 0; i < document.size(); ++i) {
      // One level: the probe writes an array of reports, never arrays of arrays (a
      // deep nesting would recurse here once per level).
      if (document[i].is_array()) return Bad(Cat(source, "[", i, "]"), "an array inside the array");
      absl::Status status = Add(document[i], Cat(source, "[", i, "]"));
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }
  if (!document.is_object() || !document.contains("schema") ||
      document["schema"] != "accelpack.probe/v1") {
    return Bad(source, "not an accelpack-probe report (schema accelpack.probe/v1)");
  }
  if (!document.contains("node") || !document["node"].is_string() ||
      !document.contains("devices") || !document["devices"].is_array()) {
    return Bad(source, "report needs \"node\" and \"devices\"");
  }
  // Devices of each GRES in /dev index order: a device's position is its index in the pool.
  struct Device {
    int index;
    int group;
  };
  std::map<std::string, std::vector<Device>> by_gres;
  for (size_t i = 0; i < document["devices"].size(); ++i) {
    const nlohmann::json& device = document["devices"][i];
    const std::string at = Cat(source, ": devices[", i, "]");
    if (!device.is_object() || !device.contains("index") || !device["index"].is_number_integer()) {
      return absl::InvalidArgumentError(at + ": needs an integer \"index\"");
    }
    const auto& gres_field = device.contains("gres") ? device["gres"] : nlohmann::json();
    if (!gres_field.is_string()) continue;  // unknown device: no GRES, nothing to group
    const std::string gres = gres_field.get<std::string>();
    const auto& group = device.contains("link_group") ? device["link_group"] : nlohmann::json();
    by_gres[gres].push_back(
        {device["index"].get<int>(), group.is_number_integer() ? group.get<int>() : -1});
  }
  auto& node_groups = groups_[document["node"].get<std::string>()];
  for (auto& [gres, devices] : by_gres) {
    std::sort(devices.begin(), devices.end(),
              [](const Device& a, const Device& b) { return a.index < b.index; });
    std::map<int, std::vector<int>> groups;
    for (size_t position = 0; position < devices.size(); ++position) {
      if (devices[position].group >= 0)
        groups[devices[position].group].push_back(static_cast<int>(position));
    }
    auto& out = node_groups[gres];
    for (auto& [id, members] : groups) out.push_back(std::move(members));
  }
  return absl::OkStatus();
}

absl::StatusOr<TopologyBook> TopologyBook::Load(const std::string& path) {
  std::vector<std::filesystem::path> files;
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    for (const auto& entry : std::filesystem::directory_iterator(path, error)) {
      if (entry.path().extension() == ".json") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
  } else {
    files.emplace_back(path);
  }
  if (error) return absl::NotFoundError(Cat(path, ": ", error.message()));
  TopologyBook book;
  for (const auto& file : files) {
    auto text = ReadBoundedFile(file.string(), kMaxReportBytes, "topology report");
    if (!text.ok()) return text.status();
    nlohmann::json document = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (document.is_discarded()) return Bad(file.string(), "not valid JSON");
    absl::Status status = book.Add(document, file.string());
    if (!status.ok()) return status;
  }
  return book;
}

void TopologyBook::Annotate(model::Snapshot& snapshot) const {
  if (groups_.empty()) return;
  for (model::Node& node : snapshot.nodes) AnnotateNode(node);
}

void TopologyBook::AnnotateNode(model::Node& node) const {
  auto known = groups_.find(node.name);
  if (known == groups_.end()) return;
  for (model::AcceleratorPool& pool : node.accelerators) {
    if (!pool.device_groups.empty()) continue;
    auto groups = known->second.find(Cat(pool.gres_name, ":", pool.gres_type));
    if (groups == known->second.end()) continue;
    // Only a report that describes every device of the pool is trusted.
    size_t described = 0;
    for (const auto& group : groups->second) described += group.size();
    if (described == static_cast<size_t>(pool.count)) pool.device_groups = groups->second;
  }
}

}  // namespace accelpack::service
