// The policy in force, swapped whole on reload. A bad file never replaces a good
// policy: the new one is parsed and built completely before the swap.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "policy/policy.h"

namespace accelpack::service {

class PolicyStore {
 public:
  // Starts with `config` (already validated; BuildPolicy must succeed).
  explicit PolicyStore(const policy::PolicyConfig& config);

  // Loads from a file; on error the current policy stays and the error is returned.
  absl::Status ReloadFromFile(const std::string& path);

  std::shared_ptr<const policy::BuiltPolicy> Current() const;
  std::string CurrentName() const;
  // The policy in force in full, as `accelpack policy show` prints a file.
  std::string CurrentYaml() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const policy::BuiltPolicy> current_;  // guarded by mu_
  std::string current_yaml_;                            // guarded by mu_
};

}  // namespace accelpack::service
