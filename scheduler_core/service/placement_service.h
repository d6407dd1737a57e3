// The gRPC Placement service: translates wire <-> model, runs the engine,
// remembers the last cycle for GetStatus. Holds no job state of its own.
//
// accelpackd serves one instance per role (see access.h), all sharing one policy
// store and one last-cycle record; each instance answers a call its callers'
// role does not allow with PERMISSION_DENIED and one log line.
//
// Thread-safety: gRPC may call Schedule and GetStatus concurrently, on any of
// the instances.
#pragma once

#include <grpcpp/support/server_interceptor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "accelpack/v1/placement.grpc.pb.h"
#include "engine/engine.h"
#include "service/access.h"
#include "service/operator_hub.h"
#include "service/policy_store.h"
#include "service/snapshot_bases.h"
#include "service/topology_book.h"

namespace accelpack::service {

class PlacementService final : public ::accelpack::v1::Placement::Service {
 public:
  // The caller's role, from its connection (e.g. its TLS certificate).
  using RoleOf = std::function<Role(const grpc::ServerContext&)>;
  // Who the caller is, for the log line of a refusal (e.g. "uid 1001 pid 42").
  using Describe = std::function<std::string(const grpc::ServerContext&)>;

  // Serves every caller as a scheduler: for in-process use (tests, benchmarks).
  // `topology` (may be null) adds probe-reported device groups to each snapshot.
  // `hub` (may be null) receives every planned cycle for operators' views.
  explicit PlacementService(const PolicyStore* policies, const TopologyBook* topology = nullptr,
                            OperatorHub* hub = nullptr);
  // Another door to `shared`'s policies, hub and last-cycle record, whose callers have
  // the role `role_of` gives them. Refused denied callers are not logged here:
  // whoever decided they are denied logged them once.
  PlacementService(const PlacementService& shared, RoleOf role_of, Describe describe = {});

  // What a cycle may spend (its `cancelled` is each call's own). Set before other
  // doors are made from this one: they copy it.
  void SetCycleBudget(const engine::WorkBudget& budget) { cycle_budget_ = budget; }

  grpc::Status Schedule(grpc::ServerContext* context, const v1::ScheduleRequest* request,
                        v1::ScheduleResponse* response) override;
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::GetStatusResponse* response) override;

  // A Schedule request that is not a ScheduleRequest at all fails inside gRPC,
  // before Schedule runs, as INTERNAL with no message. This interceptor turns that
  // into INVALID_ARGUMENT that says so, logged and counted as a refused snapshot.
  static std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  CountUnparsableRequests(PlacementService* service);

 private:
  struct Record {
    std::mutex mu;
    v1::GetStatusResponse last;  // guarded by mu
  };

  // OK when the caller's role is at least `needed`.
  grpc::Status Allow(const grpc::ServerContext& context, Role needed, std::string_view call) const;
  void RecordRejected();
  std::string RecordUnparsable(std::string_view peer);

  const PolicyStore* policies_;
  const TopologyBook* topology_;
  OperatorHub* hub_;
  std::shared_ptr<Record> record_;
  std::shared_ptr<SnapshotBases> bases_;  // delta snapshots' bases, a cache
  RoleOf role_of_;                        // empty: everyone is a scheduler
  Describe describe_;
  engine::WorkBudget cycle_budget_;
};

}  // namespace accelpack::service
