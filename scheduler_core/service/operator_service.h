// SPDX-License-Identifier: GPL-2.0-or-later
// The gRPC Operations service: read-only views for operators and admins,
// computed on demand from the hub's last real cycle.
//
// Thread-safety: gRPC may call every method concurrently.
#pragma once

#include <atomic>

#include "accelpack/v1/placement.grpc.pb.h"
#include "engine/engine.h"
#include "service/operator_hub.h"
#include "service/policy_store.h"

namespace accelpack::service {

class OperationsService final : public ::accelpack::v1::Operations::Service {
 public:
  // `cycle_budget` bounds each cycle a diff runs, as accelpackd's own.
  OperationsService(const OperatorHub* hub, const PolicyStore* policies,
                    engine::WorkBudget cycle_budget = {})
      : hub_(hub), policies_(policies), cycle_budget_(std::move(cycle_budget)) {}

  grpc::Status Explain(grpc::ServerContext*, const v1::ExplainRequest* request,
                       v1::ExplainResponse* response) override;
  grpc::Status ListNodes(grpc::ServerContext*, const v1::ListNodesRequest* request,
                         v1::ListNodesResponse* response) override;
  grpc::Status ListDecisions(grpc::ServerContext*, const v1::ListDecisionsRequest* request,
                             v1::ListDecisionsResponse* response) override;
  grpc::Status DiffPolicy(grpc::ServerContext*, const v1::DiffPolicyRequest* request,
                          v1::DiffPolicyResponse* response) override;
  grpc::Status GetStats(grpc::ServerContext*, const v1::GetStatsRequest* request,
                        v1::GetStatsResponse* response) override;
  grpc::Status GetPolicy(grpc::ServerContext*, const v1::GetPolicyRequest* request,
                         v1::GetPolicyResponse* response) override;

 private:
  // The last cycle when it is no older than max_age_s (0: 60 s), else the
  // FAILED_PRECONDITION an operator sees.
  grpc::Status Fresh(uint32_t max_age_s, std::shared_ptr<const CycleRecord>* out) const;

  const OperatorHub* hub_;
  const PolicyStore* policies_;
  engine::WorkBudget cycle_budget_;
  static constexpr int kMaxDiffsAtOnce = 1;
  std::atomic<int> diffs_running_{0};
};

}  // namespace accelpack::service
