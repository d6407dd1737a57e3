#include "service/policy_store.h"

#include <cstdlib>

namespace accelpack::service {

namespace {

std::shared_ptr<const policy::BuiltPolicy> BuildShared(const policy::PolicyConfig& config,
                                                       absl::Status* status) {
  auto built = policy::BuildPolicy(config);
  if (!built.ok()) {
    *status = built.status();
    return nullptr;
  }
  return std::make_shared<const policy::BuiltPolicy>(std::move(*built));
}

}  // namespace

PolicyStore::PolicyStore(const policy::PolicyConfig& config) {
  absl::Status status;
  current_ = BuildShared(config, &status);
  if (current_ == nullptr) std::abort();  // callers pass a validated config
  current_yaml_ = policy::PolicyToYaml(config);
}

absl::Status PolicyStore::ReloadFromFile(const std::string& path) {
  auto config = policy::LoadPolicyFile(path);
  if (!config.ok()) return config.status();
  absl::Status status;
  auto built = BuildShared(*config, &status);
  if (built == nullptr) return status;
  std::lock_guard lock(mu_);
  current_ = std::move(built);
  current_yaml_ = policy::PolicyToYaml(*config);
  return absl::OkStatus();
}

std::shared_ptr<const policy::BuiltPolicy> PolicyStore::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::string PolicyStore::CurrentName() const { return Current()->pipeline->name; }

std::string PolicyStore::CurrentYaml() const {
  std::lock_guard lock(mu_);
  return current_yaml_;
}

}  // namespace accelpack::service
