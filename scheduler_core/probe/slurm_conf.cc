// The slurm.conf NodeName line of a probed node.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "probe/gres_conf.h"
#include "probe/probe.h"

namespace accelpack::probe {

std::string RenderNodeNameLine(const NodeInventory& node, const SharingPlan& sharing) {
  const std::set<int> partitioned = MigPartitioned(node, sharing.mig_layout);
  std::string line =
      absl::StrCat("NodeName=", node.hostname, " Sockets=", node.sockets,
                   " CoresPerSocket=", node.cores_per_socket,
                   " ThreadsPerCore=", node.threads_per_core, " RealMemory=", node.real_memory_mib);
  std::vector<std::string> gres;
  int whole_gpus = 0;
  for (const GresCount& entry : CountGres(node, partitioned)) {
    gres.push_back(absl::StrCat(entry.name, ":", entry.type, ":", entry.count));
    if (entry.name == "gpu") whole_gpus += entry.count;
  }
  if (sharing.mig_layout.has_value()) {
    for (const auto& [profile, count] : CountMigSlices(*sharing.mig_layout)) {
      gres.push_back(absl::StrCat("gpu:", profile, ":", count));
    }
  }
  if (sharing.shards_per_gpu > 0 && whole_gpus > 0) {
    gres.push_back(absl::StrCat("shard:", sharing.shards_per_gpu * whole_gpus));
  }
  if (!gres.empty()) absl::StrAppend(&line, " Gres=", absl::StrJoin(gres, ","));
  return line + "\n";
}

}  // namespace accelpack::probe
