// bridge.cc: the extern "C" entry points of libaccelpack_bridge.so. Each one is
// noexcept and catches everything: an exception must never unwind into slurmctld.
// SPDX-License-Identifier: GPL-2.0-or-later
#include <accelpack/v1/placement.grpc.pb.h>
#include <google/protobuf/arena.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "accelpack/v1/wire_text.h"
#include "accelpack_bridge.h"
#include "convert.h"
#include "delta.h"
#include "fallback.h"
#include "plan_data.h"

struct ap_client {
  ap_client(std::string caller_in, uint64_t epoch) : caller(caller_in), deltas(caller_in, epoch) {}

  std::string caller;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<accelpack::v1::Placement::Stub> stub;
  accelpack::bridge::DeltaSender deltas;
  // What the last answered call planned, for "nothing changed, nothing due".
  uint32_t idle_replan_ms = 0;
  bool last_ok = false;  // the last call gave a plan (and nothing since failed)
  bool last_had_starts = false;
  int64_t last_due = 0;  // earliest planned start of its reservations; 0: none
  std::chrono::steady_clock::time_point last_call;
};

namespace {

using Clock = std::chrono::steady_clock;

// A new epoch for every client: a new slurmctld process never extends the base
// an earlier one left in the core.
uint64_t NewEpoch() {
  std::random_device random;
  const uint64_t epoch = (static_cast<uint64_t>(random()) << 32) ^ random() ^
                         static_cast<uint64_t>(Clock::now().time_since_epoch().count());
  return epoch != 0 ? epoch : 1;
}

// Nothing changed since a plan that started nothing and whose reservations are not
// yet due, and it is recent: the core would answer the same.
bool MayRest(const ap_client& client, const accelpack::bridge::DeltaSender::Cycle& cycle,
             int64_t now) {
  return client.idle_replan_ms > 0 && cycle.has_delta && cycle.changed == 0 && cycle.removed == 0 &&
         client.last_ok && !client.last_had_starts &&
         (client.last_due == 0 || now < client.last_due) &&
         Clock::now() - client.last_call < std::chrono::milliseconds(client.idle_replan_ms);
}

void NotePlan(ap_client& client, const accelpack::bridge::PlanData& plan) {
  client.last_ok = true;
  // A preemption changes Slurm's state as a start does: ask again next cycle.
  client.last_had_starts = !plan.starts.empty() || !plan.preemptions.empty();
  client.last_due = 0;
  for (const auto& reservation : plan.reservations) {
    if (reservation.start_time > 0 &&
        (client.last_due == 0 || reservation.start_time < client.last_due))
      client.last_due = reservation.start_time;
  }
}

uint32_t RecordCount(const accelpack::v1::ClusterSnapshot& s) {
  return static_cast<uint32_t>(s.nodes_size() + s.pending_jobs_size() + s.running_jobs_size() +
                               s.reservations_size());
}

using accelpack::bridge::CopyError;

ap_status_t FromGrpc(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return AP_DEADLINE;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return AP_REJECTED;
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DATA_LOSS:
      return AP_GARBAGE;  // something answered, but not a core we understand
    default:
      return AP_UNAVAILABLE;
  }
}

}  // namespace

extern "C" {

AP_API ap_client_t* ap_client_create(const char* address, const char* caller, char* err,
                                     size_t errlen) noexcept {
  try {
    if (address == nullptr || address[0] == '\0') {
      CopyError("empty core address", err, errlen);
      return nullptr;
    }
    grpc::ChannelArguments args;
    // The core comes back after restarts: retry the connection quickly instead of
    // gRPC's default backoff of up to two minutes, so the plugin returns to it within
    // about a second of it answering again.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // A restarted core leaves the channel on a dead connection until gRPC notices; the
    // cycle's call can land there (GOAWAY, broken pipe). Asking for a plan twice is
    // harmless (nothing happens until the plugin applies one), so Schedule gets one
    // more try on a fresh connection within the cycle's deadline instead of a cycle
    // in fallback. A core that stays away still fails fast: wait_for_ready is off.
    args.SetInt(GRPC_ARG_ENABLE_RETRIES, 1);
    args.SetServiceConfigJSON(R"({"methodConfig": [{
      "name": [{"service": "accelpack.v1.Placement", "method": "Schedule"}],
      "retryPolicy": {"maxAttempts": 2, "initialBackoff": "0.05s", "maxBackoff": "0.05s",
                      "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}}]})");
    args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 << 20);
    auto client = std::make_unique<ap_client>(caller != nullptr ? caller : "", NewEpoch());
    client->channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    client->stub = accelpack::v1::Placement::NewStub(client->channel);
    return client.release();
  } catch (const std::exception& e) {
    CopyError(absl::StrCat("creating client: ", e.what()), err, errlen);
  } catch (...) {
    CopyError("creating client: unknown exception", err, errlen);
  }
  return nullptr;
}

AP_API void ap_client_destroy(ap_client_t* client) noexcept {
  try {
    delete client;
  } catch (...) {  // a destructor that throws: nothing sensible left to do
  }
}

AP_API void ap_client_set_idle_replan(ap_client_t* client, uint32_t idle_replan_ms) noexcept {
  if (client != nullptr) client->idle_replan_ms = idle_replan_ms;
}

AP_API void ap_client_resync(ap_client_t* client) noexcept {
  if (client == nullptr) return;
  client->deltas.Reset();
  client->last_ok = false;
}

AP_API ap_status_t ap_client_schedule(ap_client_t* client, const ap_snapshot_t* snap,
                                      uint32_t deadline_ms, ap_plan_t* plan, char* err,
                                      size_t errlen) noexcept {
  namespace pb = accelpack::v1;
  if (plan == nullptr) return AP_INTERNAL;
  *plan = ap_plan_t{};
  try {
    if (client == nullptr || snap == nullptr) {
      CopyError("no client or snapshot", err, errlen);
      return AP_INTERNAL;
    }
    const auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(deadline_ms);
    // One arena per cycle: a snapshot is ~10^5 small messages and strings, which
    // the arena hands out and drops in a few large blocks instead of one by one.
    google::protobuf::Arena arena;
    auto* delta = google::protobuf::Arena::CreateMessage<pb::ScheduleRequest>(&arena);
    pb::SnapshotIdentity identity;
    accelpack::bridge::DeltaSender::Cycle cycle = client->deltas.Prepare(*snap, &identity, delta);
    if (MayRest(*client, cycle, snap->now)) {
      plan->unchanged = true;
      return AP_OK;
    }
    pb::ControllerStats stats;
    if (snap->has_stats) {
      stats.set_lock_hold_us(snap->lock_hold_us);
      stats.set_snapshot_us(snap->snapshot_us);
      stats.set_fallback_cycles_total(snap->fallback_cycles_total);
      stats.set_dropped_decisions_total(snap->dropped_decisions_total);
    }
    // The whole snapshot only when it is sent: unchanged records are never converted.
    pb::ScheduleRequest* whole = nullptr;
    auto whole_request = [&]() -> pb::ScheduleRequest* {
      whole = google::protobuf::Arena::CreateMessage<pb::ScheduleRequest>(&arena);
      accelpack::bridge::FillSnapshot(*snap, whole->mutable_snapshot());
      whole->set_caller(client->caller);
      *whole->mutable_identity() = identity;
      if (snap->has_stats) *whole->mutable_controller_stats() = stats;
      return whole;
    };
    const pb::ScheduleRequest* sent = delta;
    if (cycle.has_delta) {
      delta->set_caller(client->caller);
      if (snap->has_stats) *delta->mutable_controller_stats() = stats;
    } else {
      sent = whole_request();
    }
    auto* response = google::protobuf::Arena::CreateMessage<pb::ScheduleResponse>(&arena);
    auto call = [&](const pb::ScheduleRequest& request) {
      grpc::ClientContext context;
      context.set_deadline(deadline);
      context.set_wait_for_ready(false);  // fail fast when the core is not there
      response->Clear();
      return client->stub->Schedule(&context, request, response);
    };
    grpc::Status status = call(*sent);
    std::string resync;
    if (status.ok() && sent == delta && response->full_snapshot_required()) {
      // The core lost the base (it restarted): the whole snapshot, same cycle.
      resync = response->full_snapshot_reason().empty() ? "no reason given"
                                                        : response->full_snapshot_reason();
      sent = whole_request();
      status = call(*whole);
    }
    client->last_ok = false;
    if (!status.ok()) {
      client->deltas.Reset();
      CopyError(absl::StrCat("Schedule: ", status.error_message(), " (code ",
                             static_cast<int>(status.error_code()), ")"),
                err, errlen);
      return FromGrpc(status.error_code());
    }
    if (response->full_snapshot_required()) {
      client->deltas.Reset();
      CopyError("bad answer: asked for the whole snapshot in answer to the whole snapshot", err,
                errlen);
      return AP_GARBAGE;
    }
    absl::StatusOr<std::vector<accelpack::bridge::PlannedReason>> reasons =
        client->deltas.TakeReasons(*response);
    if (!reasons.ok()) {
      client->deltas.Reset();
      CopyError(absl::StrCat("bad answer: ", reasons.status().message()), err, errlen);
      return AP_GARBAGE;
    }
    absl::StatusOr<accelpack::bridge::PlanData> data =
        accelpack::bridge::PlanFromProto(*response, *snap, *std::move(reasons));
    if (!data.ok()) {
      client->deltas.Reset();
      CopyError(absl::StrCat("bad plan: ", data.status().message()), err, errlen);
      return AP_GARBAGE;
    }
    const uint32_t sent_records =
        RecordCount(sent->snapshot()) + (sent == whole ? 0 : cycle.removed);
    const bool kept = response->kept_sequence() != 0 && response->kept_sequence() == cycle.sequence;
    if (kept) {
      client->deltas.Acknowledged(cycle);
    } else {
      client->deltas.Reset();  // a core that does not keep snapshots gets them whole
    }
    client->last_call = Clock::now();
    NotePlan(*client, *data);
    if (absl::Status exported = accelpack::bridge::ExportPlan(*data, plan); !exported.ok()) {
      CopyError(exported.message(), err, errlen);
      return AP_INTERNAL;
    }
    // The merged reasons go back: the next reason delta is on them.
    if (kept) client->deltas.KeepReasons(std::move(data->reasons));
    plan->sent_whole = sent == whole;
    plan->sent_records = sent_records;
    if (!resync.empty()) {
      plan->resync_reason = strdup(accelpack::wire::OneLine(resync, 256).c_str());
      if (plan->resync_reason == nullptr) {
        ap_plan_free(plan);
        CopyError("out of memory", err, errlen);
        return AP_INTERNAL;
      }
    }
    return AP_OK;
  } catch (const std::exception& e) {
    CopyError(absl::StrCat("Schedule: ", e.what()), err, errlen);
  } catch (...) {
    CopyError("Schedule: unknown exception", err, errlen);
  }
  if (client != nullptr) client->deltas.Reset();
  ap_plan_free(plan);
  return AP_INTERNAL;
}

AP_API ap_status_t ap_fallback_schedule(const ap_snapshot_t* snap,
                                        const ap_fallback_bounds_t* bounds, ap_plan_t* plan,
                                        char* err, size_t errlen) noexcept {
  if (plan == nullptr) return AP_INTERNAL;
  *plan = ap_plan_t{};
  try {
    if (snap == nullptr) {
      CopyError("no snapshot", err, errlen);
      return AP_INTERNAL;
    }
    accelpack::engine::WorkBudget budget;
    if (bounds != nullptr && (bounds->max_ms > 0 || bounds->stop != nullptr)) {
      const auto until =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(bounds->max_ms);
      budget.cancelled = [until, max_ms = bounds->max_ms, stop = bounds->stop] {
        return (max_ms > 0 && std::chrono::steady_clock::now() >= until) ||
               (stop != nullptr && stop());
      };
    }
    absl::StatusOr<accelpack::bridge::PlanData> data = accelpack::fallback::Schedule(*snap, budget);
    if (!data.ok()) {
      CopyError(absl::StrCat("built-in policy: ", data.status().message()), err, errlen);
      return AP_INTERNAL;
    }
    if (absl::Status exported = accelpack::bridge::ExportPlan(*data, plan); !exported.ok()) {
      CopyError(exported.message(), err, errlen);
      return AP_INTERNAL;
    }
    return AP_OK;
  } catch (const std::exception& e) {
    CopyError(absl::StrCat("built-in policy: ", e.what()), err, errlen);
  } catch (...) {
    CopyError("built-in policy: unknown exception", err, errlen);
  }
  ap_plan_free(plan);
  return AP_INTERNAL;
}

AP_API void ap_plan_free(ap_plan_t* plan) noexcept {
  if (plan == nullptr) return;
  for (uint32_t s = 0; plan->starts != nullptr && s < plan->start_cnt; ++s) {
    ap_start_t& st = plan->starts[s];
    for (uint32_t n = 0; n < st.node_cnt; ++n) {
      if (st.nodes != nullptr) std::free(st.nodes[n]);
      if (st.gres_types != nullptr) std::free(st.gres_types[n]);
      if (st.devices != nullptr) std::free(st.devices[n]);
    }
    std::free(st.nodes);
    std::free(st.gres_types);
    std::free(st.devices);
    std::free(st.device_cnt);
  }
  std::free(plan->starts);
  std::free(plan->reasons);
  std::free(plan->reason_text);
  for (uint32_t r = 0; plan->reservations != nullptr && r < plan->reservation_cnt; ++r) {
    std::free(plan->reservations[r].nodes);
  }
  std::free(plan->reservations);
  for (uint32_t p = 0; plan->preemptions != nullptr && p < plan->preemption_cnt; ++p) {
    ap_preemption_t& pr = plan->preemptions[p];
    for (uint32_t n = 0; pr.nodes != nullptr && n < pr.node_cnt; ++n) std::free(pr.nodes[n]);
    std::free(pr.nodes);
    std::free(pr.victims);
    std::free(pr.awaiting);
  }
  std::free(plan->preemptions);
  std::free(plan->policy_name);
  std::free(plan->resync_reason);
  *plan = ap_plan_t{};
}

AP_API const char* ap_status_str(ap_status_t status) noexcept {
  switch (status) {
    case AP_OK:
      return "ok";
    case AP_UNAVAILABLE:
      return "unavailable";
    case AP_DEADLINE:
      return "deadline exceeded";
    case AP_GARBAGE:
      return "invalid answer";
    case AP_REJECTED:
      return "snapshot rejected";
    case AP_INTERNAL:
      return "internal error";
  }
  return "unknown";
}

}  // extern "C"
