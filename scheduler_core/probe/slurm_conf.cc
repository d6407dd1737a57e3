// The slurm.conf NodeName line of a probed node.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "probe/gres_conf.h"
#include "probe/probe.h"

namespace accelpack::probe {

std::string RenderNodeNameLine(const NodeInventory& node) {
  std::string line =
      absl::StrCat("NodeName=", node.hostname, " Sockets=", node.sockets,
                   " CoresPerSocket=", node.cores_per_socket,
                   " ThreadsPerCore=", node.threads_per_core, " RealMemory=", node.real_memory_mib);
  std::vector<std::string> gres;
  for (const GresCount& entry : CountGres(node)) {
    gres.push_back(absl::StrCat(entry.name, ":", entry.type, ":", entry.count));
  }
  if (!gres.empty()) absl::StrAppend(&line, " Gres=", absl::StrJoin(gres, ","));
  return line + "\n";
}

}  // namespace accelpack::probe
