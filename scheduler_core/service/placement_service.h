// The gRPC Placement service: translates wire <-> model, runs the engine,
// remembers the last cycle for GetStatus. Holds no job state of its own.
//
// Thread-safety: gRPC may call Schedule and GetStatus concurrently.
#pragma once

#include <cstdint>
#include <mutex>

#include "accelpack/v1/placement.grpc.pb.h"
#include "service/operator_hub.h"
#include "service/policy_store.h"
#include "service/topology_book.h"

namespace accelpack::service {

class PlacementService final : public ::accelpack::v1::Placement::Service {
 public:
  // `topology` (may be null) adds probe-reported device groups to each snapshot.
  // `hub` (may be null) receives every planned cycle for operators' views.
  explicit PlacementService(const PolicyStore* policies, const TopologyBook* topology = nullptr,
                            OperatorHub* hub = nullptr)
      : policies_(policies), topology_(topology), hub_(hub) {}

  grpc::Status Schedule(grpc::ServerContext* context, const v1::ScheduleRequest* request,
                        v1::ScheduleResponse* response) override;
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::GetStatusResponse* response) override;

 private:
  void RecordRejected();

  const PolicyStore* policies_;
  const TopologyBook* topology_;
  OperatorHub* hub_;
  std::mutex mu_;
  v1::GetStatusResponse last_;  // guarded by mu_
};

}  // namespace accelpack::service
