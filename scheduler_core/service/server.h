// accelpackd's server: listens, serves Placement and health, reloads policy on
// SIGHUP, stops cleanly on SIGTERM/SIGINT. Who may call what: access.h; the
// Unix socket: unix_listener.h; TCP only with TLS and client certificates.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/engine.h"

namespace accelpack::service {

struct ServerOptions {
  std::string socket_path = "/run/accelpack/accelpack.sock";  // empty: no Unix socket
  unsigned socket_mode = 0660;
  std::string socket_group;    // group owning the socket; empty: keep accelpackd's
  std::string slurm_user;      // may Schedule besides root; empty: "slurm" if it exists
  std::string operator_group;  // may read (GetStatus); empty: socket_group
  // "host:port" for scheduler certificates (tls_scheduler_names); empty: none. Needs
  // the three TLS files.
  std::string tcp_listen;
  // "host:port" for every verified certificate, every call but Schedule, requests up
  // to the readers' 4 MiB (the CLI over TCP); empty: none.
  std::string tcp_readers_listen;
  std::string tls_cert;       // PEM: this server's certificate chain
  std::string tls_key;        // PEM: its private key
  std::string tls_client_ca;  // PEM: CA(s) that client certificates must chain to
  // Client certificate common names tcp_listen serves (schedulers); other verified
  // clients are readers, served on tcp_readers_listen only.
  std::vector<std::string> tls_scheduler_names = {"slurmctld"};
  std::string policy_path;     // empty: the built-in default policy
  std::string topology_path;   // accelpack-probe report(s): a file or a directory of *.json
  std::string metrics_listen;  // "127.0.0.1:9464": serve Prometheus /metrics; empty: off
  std::string decision_log;    // JSON-lines audit file of decisions; empty: none
  uint64_t decision_log_max_bytes = 64 << 20;
  // What one cycle may spend (no `cancelled`: each call adds its own). Node
  // evaluations (0: unbounded): past them the cycle answers with what it planned so
  // far, the jobs it did not reach waiting with reason "not evaluated: the cycle's work
  // budget ran out". Memory for job shapes: past it, jobs of new shapes wait the same
  // way. Deterministic for a given budget.
  engine::WorkBudget cycle_budget;
};

// Every cycle builds and drops the same ~100 MB (snapshot, plan, messages) on a
// gRPC thread. glibc would hand that memory back to the kernel after each cycle
// and fault it in again on the next; this keeps it mapped (RunServer calls it).
void KeepCycleMemoryMapped();

// Blocks until SIGTERM or SIGINT. Returns an error when it cannot start.
absl::Status RunServer(const ServerOptions& options);

}  // namespace accelpack::service
