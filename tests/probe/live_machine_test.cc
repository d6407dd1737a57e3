// The real probe on the machine running the tests (the CI machines have no
// accelerators): its NodeName line must agree with hwloc's own counts.
#include <gtest/gtest.h>
#include <hwloc.h>
#include <unistd.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "probe/probe.h"

namespace accelpack::probe {
namespace {

int Count(hwloc_topology_t topology, hwloc_obj_type_t type) {
  return hwloc_get_nbobjs_by_type(topology, type);
}

std::string ShortHostName() {
  char name[256] = {};
  gethostname(name, sizeof(name) - 1);
  std::string host = name;
  return host.substr(0, host.find('.'));
}

TEST(ProbeLiveMachine, NodeNameMatchesHwlocCounts) {
  hwloc_topology_t topology = nullptr;
  ASSERT_EQ(hwloc_topology_init(&topology), 0);
  ASSERT_EQ(hwloc_topology_load(topology), 0);
  const int sockets = std::max(Count(topology, HWLOC_OBJ_PACKAGE), 1);
  const int cores = Count(topology, HWLOC_OBJ_CORE);
  const int pus = Count(topology, HWLOC_OBJ_PU);
  hwloc_topology_destroy(topology);
  // RealMemory as slurmd measures it.
  const long long memory_mib =
      static_cast<long long>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE) / (1024 * 1024);

  absl::StatusOr<NodeInventory> node = ProbeLiveMachine();
  ASSERT_TRUE(node.ok()) << node.status();
  const std::string expected = absl::StrCat(
      "NodeName=", ShortHostName(), " Sockets=", sockets, " CoresPerSocket=", cores / sockets,
      " ThreadsPerCore=", pus / cores, " RealMemory=", memory_mib);
  const std::string line = RenderNodeNameLine(*node);
  if (node->devices.empty()) {
    EXPECT_EQ(line, expected + "\n");
    EXPECT_EQ(RenderGresConf(*node), absl::StrCat("# gres.conf lines for ", ShortHostName(),
                                                  " (accelpack-probe)\n# no accelerators found\n"));
  } else {
    // A machine with accelerators (a GPU runner): the CPU part must still agree.
    EXPECT_EQ(line.substr(0, expected.size() + 1), expected + " ");
  }
}

}  // namespace
}  // namespace accelpack::probe
