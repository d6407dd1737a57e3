#include "cluster_builder.h"

#include <string>

#include "common/strings.h"

namespace accelpack::testing {

namespace {

struct Lcg {
  uint64_t state;
  uint32_t Next() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state >> 33);
  }
  int Below(int bound) { return static_cast<int>(Next() % static_cast<uint32_t>(bound)); }
};

}  // namespace

model::Snapshot SyntheticCluster(int nodes, int pending, double busy_share, uint32_t seed) {
  Lcg rng{seed};
  model::Snapshot snapshot;
  snapshot.now = 100000;
  const char* kinds[][3] = {
      {"gpu", "h100", "8"}, {"gpu", "h200", "8"}, {"npu", "910b", "8"}, {"npu", "910c", "16"}};
  for (int n = 0; n < nodes; ++n) {
    const auto& kind = kinds[n % 4];
    const int count = std::stoi(kind[2]);
    NodeBuilder builder(Cat("node", n / 4, "-", kind[1]));
    builder.Gres(kind[0], kind[1], count).Partitions({"inference", "training"});
    builder.Switch(Cat("sw", n / 32)).SuperPod(Cat("pod", n / 64));
    std::vector<int> busy;
    for (int d = 0; d < count; ++d) {
      if (rng.Below(1000) < static_cast<int>(busy_share * 1000)) busy.push_back(d);
    }
    builder.Busy(busy).Cpus(128, static_cast<int>(busy.size()) * 8);
    snapshot.nodes.push_back(builder.Build());
  }
  for (int j = 0; j < pending; ++j) {
    const auto& kind = kinds[rng.Below(4)];
    const int shape = rng.Below(10);
    JobBuilder job(static_cast<uint32_t>(j + 1));
    job.Submitted(snapshot.now - rng.Below(3600)).Priority(rng.Below(1000));
    if (shape < 6) {  // inference: 1-2 devices
      job.Gres(kind[0], {kind[1]}, 1 + rng.Below(2)).Partitions({"inference"}).TimeLimit(7200);
    } else if (shape < 9) {  // single-node training
      job.Gres(kind[0], {kind[1]}, 8).Partitions({"training"}).TimeLimit(86400).Cpus(64);
    } else {  // multi-node training
      job.Gres(kind[0], {kind[1]}, 8)
          .Nodes(2 + rng.Below(3))
          .Partitions({"training"})
          .TimeLimit(86400)
          .Cpus(64);
    }
    snapshot.pending.push_back(job.Build());
  }
  return snapshot;
}

}  // namespace accelpack::testing
