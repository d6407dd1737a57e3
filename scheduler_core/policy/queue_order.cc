#include "policy/plugins.h"

namespace accelpack::policy {

namespace {

constexpr double kOverdueTier = 1e15;

class ConfiguredQueueOrder final : public engine::QueueOrder {
 public:
  explicit ConfiguredQueueOrder(QueueOrderConfig config) : config_(std::move(config)) {}

  model::JobClass Classify(const model::PendingJob& job) const override {
    if (auto it = config_.qos_classes.find(job.qos); it != config_.qos_classes.end())
      return it->second;
    for (const auto& partition : job.partitions) {
      if (auto it = config_.partition_classes.find(partition);
          it != config_.partition_classes.end()) {
        return it->second;
      }
    }
    return config_.default_class;
  }

  double EffectivePriority(const model::PendingJob& job, model::JobClass job_class,
                           int64_t now) const override {
    // Both positive: the difference cannot overflow. 0 means "not known", not 1970.
    const int64_t waited_s =
        job.submit_time > 0 && now > job.submit_time ? now - job.submit_time : 0;
    const double waited_hours = static_cast<double>(waited_s) / 3600.0;
    double boost = 0;
    if (auto it = config_.class_boost.find(job_class); it != config_.class_boost.end())
      boost = it->second;
    const double priority = config_.priority_weight * static_cast<double>(job.priority) +
                            config_.age_weight_per_hour * waited_hours + boost;
    // Past its class's bound a job moves up a tier above any priority Slurm gives
    // (< 2^32 times a sane weight); among overdue jobs the usual order still holds, so
    // fairshare and QOS keep their say.
    if (auto bound = config_.max_wait_s.find(job_class);
        bound != config_.max_wait_s.end() && waited_s >= bound->second) {
      return kOverdueTier + priority;
    }
    return priority;
  }

 private:
  QueueOrderConfig config_;
};

}  // namespace

std::unique_ptr<engine::QueueOrder> MakeQueueOrder(QueueOrderConfig config) {
  return std::make_unique<ConfiguredQueueOrder>(std::move(config));
}

}  // namespace accelpack::policy
