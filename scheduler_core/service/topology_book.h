// Device groups per node from accelpack-probe's JSON reports, so the engine's
// topology rules use the interconnect groups the hardware really has (e.g. HCCS
// rings wired 0,2,4,6 / 1,3,5,7) instead of the kind's contiguous default.
//
// Thread-safety: immutable after Load; Annotate may run concurrently.
#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/cluster.h"

namespace accelpack::service {

class TopologyBook {
 public:
  // A report file, or a directory of *.json reports (one node or an array each).
  static absl::StatusOr<TopologyBook> Load(const std::string& path);
  // One parsed report document; `source` names it in errors.
  absl::Status Add(const nlohmann::json& document, std::string_view source);

  // Gives pools without groups the groups their node's report has for that GRES.
  void Annotate(model::Snapshot& snapshot) const;
  // The same for one node.
  void AnnotateNode(model::Node& node) const;
  size_t node_count() const { return groups_.size(); }

 private:
  // node -> "name:type" -> groups of pool device positions
  std::map<std::string, std::map<std::string, std::vector<std::vector<int>>>, std::less<>> groups_;
};

}  // namespace accelpack::service
