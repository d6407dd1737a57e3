#include "policy/plugins.h"

namespace accelpack::policy {

namespace {

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
    const double waited_hours =
        static_cast<double>(std::max<int64_t>(0, now - job.submit_time)) / 3600.0;
    double boost = 0;
    if (auto it = config_.class_boost.find(job_class); it != config_.class_boost.end())
      boost = it->second;
    return config_.priority_weight * static_cast<double>(job.priority) +
           config_.age_weight_per_hour * waited_hours + boost;
  }

 private:
  QueueOrderConfig config_;
};

}  // namespace

std::unique_ptr<engine::QueueOrder> MakeQueueOrder(QueueOrderConfig config) {
  return std::make_unique<ConfiguredQueueOrder>(std::move(config));
}

}  // namespace accelpack::policy
