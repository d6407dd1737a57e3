#include "service/server.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_posix.h>
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <chrono>
#include <mutex>
#include <unordered_map>

#include "accelpack/v1/wire_text.h"
#include "common/bounded_file.h"
#include "common/strings.h"
#include "service/access.h"
#include "service/metrics.h"
#include "service/operator_hub.h"
#include "service/operator_service.h"
#include "service/placement_service.h"
#include "service/policy_store.h"
#include "service/topology_book.h"
#include "service/unix_listener.h"

namespace accelpack::service {

namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, std::string_view option) {
  auto text = ReadBoundedFile(path, kMaxPemFileBytes, option);
  if (!text.ok()) return text.status();
  if (text->find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(
        Cat(option, " ", path, ": not a PEM file (no -----BEGIN line)"));
  }
  return text;
}

// TCP is served only with TLS and a verified client certificate: the certificate's
// common name decides the role, as the peer's uid does on the Unix socket. One
// credentials object per port (`option` and `address` name it in errors): each
// carries its port's gate.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> TlsCredentials(
    const ServerOptions& options, std::string_view option, const std::string& address) {
  if (options.tls_cert.empty() || options.tls_key.empty() || options.tls_client_ca.empty()) {
    return absl::InvalidArgumentError(
        Cat(option, " ", address,
            ": TCP is served only with TLS and client certificates; give --tls-cert, --tls-key "
            "and --tls-client-ca (contrib/make-test-ca.sh makes a test CA)"));
  }
  auto cert = ReadPem(options.tls_cert, "--tls-cert");
  if (!cert.ok()) return cert.status();
  auto key = ReadPem(options.tls_key, "--tls-key");
  if (!key.ok()) return key.status();
  auto ca = ReadPem(options.tls_client_ca, "--tls-client-ca");
  if (!ca.ok()) return ca.status();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = *ca;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

// The role a client certificate gives: scheduler for the common names given
// (--tls-scheduler-name), reader for any other the CA verified.
Role RoleOfCertificate(const grpc::AuthContext* auth, const std::vector<std::string>& names) {
  if (auth == nullptr || !auth->IsPeerAuthenticated()) return Role::kDenied;
  for (const grpc::string_ref& name : auth->FindPropertyValues("x509_common_name")) {
    for (const std::string& allowed : names) {
      if (std::string_view(name.data(), name.size()) == allowed) return Role::kScheduler;
    }
  }
  return Role::kReader;
}

// The common name(s) of a verified certificate, for log lines.
std::string CommonNames(const grpc::AuthContext& auth) {
  std::vector<std::string> names;
  for (const grpc::string_ref& name : auth.FindPropertyValues("x509_common_name")) {
    names.push_back(wire::Printable(std::string_view(name.data(), name.size())));
  }
  return names.empty() ? std::string("(none)") : Join(names, ", ");
}

// Who is behind each accepted connection, by gRPC's peer name ("fd:12"), for log
// lines only: roles never depend on it (a closed connection's fd number is reused).
class PeerBook {
 public:
  void Remember(int fd, const PeerIdentity& peer, Role role) {
    std::lock_guard lock(mu_);
    names_[Cat("fd:", fd)] = Cat(peer.ToString(), ", ", RoleName(role));
  }
  std::string Describe(const grpc::ServerContextBase& context) const {
    std::lock_guard lock(mu_);
    const auto it = names_.find(context.peer());
    return it == names_.end() ? std::string("unknown peer") : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::string> names_;  // bounded by open fd numbers
};

// Log lines about refusals, at most kLinesPerWindow per kWindow: a caller looping on
// refused connections or calls cannot fill the disk; the next line says how many were
// left out.
class RefusalLog {
 public:
  // Whether to log this refusal; if so, how many were not logged since the last line.
  std::optional<uint64_t> Admit() {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - window_start_ >= kWindow) {
      window_start_ = now;
      lines_ = 0;
    }
    if (lines_ >= kLinesPerWindow) {
      ++left_out_;
      return std::nullopt;
    }
    ++lines_;
    return std::exchange(left_out_, 0);
  }
  static std::string LeftOut(uint64_t left_out) {
    return left_out > 0 ? Cat(" (", left_out, " refusals not logged before this one)")
                        : std::string();
  }

 private:
  static constexpr int kLinesPerWindow = 20;
  static constexpr std::chrono::seconds kWindow{10};
  std::mutex mu_;
  std::chrono::steady_clock::time_point window_start_;  // guarded by mu_
  int lines_ = 0;                                       // guarded by mu_
  uint64_t left_out_ = 0;                               // guarded by mu_
};

// What a TLS port lets a certificate call, decided on the call's headers before gRPC
// reads its message: a port's message limit is per server, not per caller, and gRPC
// parses a request before the service's own role check (an 8 MiB snapshot of empty
// jobs parses into 1.3 GB; 8 MiB of empty unknown groups in a GetStatus into 210 MB).
// The credentials' metadata processor sees the path and the certificate first.
//   kSchedulers (--listen, the schedulers' 256 MiB): scheduler certificates only;
//   kReaders (--listen-readers, 4 MiB as the Unix socket's readers): every verified
//     certificate, every call but Schedule.
class TlsPortGate final : public grpc::AuthMetadataProcessor {
 public:
  enum class Port { kSchedulers, kReaders };
  TlsPortGate(Port port, std::vector<std::string> names, RefusalLog* log)
      : port_(port), names_(std::move(names)), log_(log) {}
  bool IsBlocking() const override { return false; }  // a look-up: run it inline
  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* auth, OutputMetadata*,
                       OutputMetadata*) override {
    const auto path = metadata.find(":path");
    const std::string_view method =
        path == metadata.end() ? std::string_view()
                               : std::string_view(path->second.data(), path->second.size());
    const Role role = RoleOfCertificate(auth, names_);
    std::string_view why;
    if (port_ == Port::kReaders && method == kSchedulePath) {
      why = "Schedule is not served on --listen-readers; schedulers use --listen";
    } else if (port_ == Port::kSchedulers && role != Role::kScheduler) {
      why =
          "--listen serves scheduler certificates only (--tls-scheduler-name); readers use "
          "--listen-readers";
    } else {
      return grpc::Status::OK;
    }
    if (const std::optional<uint64_t> left_out = log_->Admit(); left_out && auth != nullptr) {
      spdlog::warn("refused {} from certificate {} ({}), before reading it: {}{}",
                   wire::Printable(method, wire::kMaxLabelBytes), CommonNames(*auth),
                   RoleName(role), why, RefusalLog::LeftOut(*left_out));
    }
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        Cat(why, "; this certificate is ", RoleName(role)));
  }

 private:
  static constexpr std::string_view kSchedulePath = "/accelpack.v1.Placement/Schedule";
  Port port_;
  std::vector<std::string> names_;
  RefusalLog* log_;
};

// The denied callers' server: every call of every service (Placement, Operations,
// health, names no service has) answers PERMISSION_DENIED and is logged, with the
// caller's uid, through the refusal log.
class RefuseEveryCall final : public grpc::CallbackGenericService {
 public:
  RefuseEveryCall(const PeerBook* peers, std::string socket_path, RefusalLog* log)
      : peers_(peers), socket_path_(std::move(socket_path)), log_(log) {}

  grpc::ServerGenericBidiReactor* CreateReactor(
      grpc::GenericCallbackServerContext* context) override {
    // The method name is the caller's bytes: escaped and bounded.
    const std::string method = wire::Printable(context->method(), wire::kMaxLabelBytes);
    if (const std::optional<uint64_t> left_out = log_->Admit()) {
      spdlog::warn(
          "refused {} from {} on {}: not root, accelpackd's user, SlurmUser or in the "
          "operators' group{}",
          method, peers_->Describe(*context), socket_path_, RefusalLog::LeftOut(*left_out));
    }
    class Refusal final : public grpc::ServerGenericBidiReactor {
     public:
      explicit Refusal(const std::string& method) {
        Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                            Cat(method,
                                ": this connection's user may call nothing here (see "
                                "accelpackd --slurm-user, --operator-group)")));
      }
      void OnDone() override { delete this; }
    };
    return new Refusal(method);
  }

 private:
  const PeerBook* peers_;
  std::string socket_path_;
  RefusalLog* log_;
};

// Connections that can only be refused hold a file descriptor each: dropped after a
// second without a call, and after ten seconds in any case, so a caller holding many
// open cannot use up accelpackd's descriptors (and lock out slurmctld's reconnect).
std::unique_ptr<grpc::Server> StartRefusingServer(RefuseEveryCall* refusals) {
  grpc::EnableDefaultHealthCheckService(false);  // health calls are refused too
  grpc::ServerBuilder builder;
  builder.RegisterCallbackGenericService(refusals);
  builder.SetMaxReceiveMessageSize(64 * 1024);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, 10000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, 1000);
  return builder.BuildAndStart();
}

// What one door takes. Only schedulers send snapshots (10k nodes x 100k jobs fit in
// 256 MiB); a reader's largest request is a policy to compare (1 MiB), and gRPC parses
// a request before any role check, so a reader's limit is what bounds its memory.
// Readers' idle connections are dropped after a minute (the CLI reconnects).
struct DoorLimits {
  int max_receive_bytes = 256 * 1024 * 1024;
  int max_idle_ms = 0;  // 0: kept
};
constexpr DoorLimits kSchedulerDoor{};
constexpr DoorLimits kReaderDoor{4 * 1024 * 1024, 60 * 1000};
// Over TCP any certificate the CA verified may connect before the gate refuses its
// calls: idle connections are dropped after a minute there too (gRPC reconnects).
constexpr DoorLimits kTcpSchedulerDoor{kSchedulerDoor.max_receive_bytes, 60 * 1000};

// `schedulers`: the server may receive Schedule calls that count (not the readers'
// or the denied callers'): garbage sent there is a refused snapshot.
std::unique_ptr<grpc::Server> StartServer(PlacementService* service, grpc::Service* operations,
                                          bool health, bool schedulers, const DoorLimits& limits,
                                          const std::string& tcp_address = "",
                                          std::shared_ptr<grpc::ServerCredentials> tls = nullptr,
                                          int* tcp_port = nullptr) {
  // Read when each server is built: the denied callers' server has no health service.
  grpc::EnableDefaultHealthCheckService(health);
  grpc::ServerBuilder builder;
  builder.RegisterService(service);
  if (operations != nullptr) builder.RegisterService(operations);
  builder.SetMaxReceiveMessageSize(limits.max_receive_bytes);
  if (limits.max_idle_ms > 0) {
    builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, limits.max_idle_ms);
  }
  if (schedulers) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> counters;
    counters.push_back(PlacementService::CountUnparsableRequests(service));
    builder.experimental().SetInterceptorCreators(std::move(counters));
  }
  if (!tcp_address.empty()) {
    // gRPC clones a SO_REUSEPORT listener per poller; asked for port 0, each clone
    // got a port of its own, and only the first was reported. One listener, one port.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.AddListeningPort(tcp_address, std::move(tls), tcp_port);
  }
  return builder.BuildAndStart();
}

}  // namespace

void KeepCycleMemoryMapped() {
  // Fixed thresholds also stop glibc's dynamic mmap threshold, so large arrays
  // come from the heap instead of a fresh mmap each cycle.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

absl::Status RunServer(const ServerOptions& options) {
  // Signals go to one thread (the sigwait below): block them before any thread starts,
  // the operator hub's worker included. A thread that does not block SIGTERM takes it
  // whenever the waiting thread is not in sigwait, and dies of it with the whole
  // daemon, its socket left behind (seen at startup under load: exit 143).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  KeepCycleMemoryMapped();
  // Every connection holds a descriptor: as many as the hard limit allows, so that
  // clients holding connections open run out later than the systemd default of 1024.
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &files) != 0) spdlog::warn("cannot raise RLIMIT_NOFILE");
  }
  policy::PolicyConfig config = policy::DefaultPolicy();
  if (!options.policy_path.empty()) {
    auto loaded = policy::LoadPolicyFile(options.policy_path);
    if (!loaded.ok()) return loaded.status();
    config = std::move(*loaded);
  }
  PolicyStore policies(config);
  TopologyBook topology;
  if (!options.topology_path.empty()) {
    auto loaded = TopologyBook::Load(options.topology_path);
    if (!loaded.ok()) return loaded.status();
    topology = std::move(*loaded);
    spdlog::info("topology reports for {} nodes from {}", topology.node_count(),
                 options.topology_path);
  }
  if (options.socket_path.empty() && options.tcp_listen.empty() &&
      options.tcp_readers_listen.empty()) {
    return absl::InvalidArgumentError(
        "nothing to listen on: give --socket, --listen and/or --listen-readers");
  }
  auto rules = MakeAccessRules(options.slurm_user, options.operator_group, options.socket_group);
  if (!rules.ok()) return rules.status();
  std::shared_ptr<grpc::ServerCredentials> tls;
  if (!options.tcp_listen.empty()) {
    auto credentials = TlsCredentials(options, "--listen", options.tcp_listen);
    if (!credentials.ok()) return credentials.status();
    tls = *credentials;
  }
  std::shared_ptr<grpc::ServerCredentials> tls_readers;
  if (!options.tcp_readers_listen.empty()) {
    auto credentials = TlsCredentials(options, "--listen-readers", options.tcp_readers_listen);
    if (!credentials.ok()) return credentials.status();
    tls_readers = *credentials;
  }
  OperatorHub hub(
      {.audit_path = options.decision_log, .audit_max_bytes = options.decision_log_max_bytes});
  if (absl::Status opened = hub.Open(); !opened.ok()) return opened;
  // Read-only: served to schedulers and readers, never to denied callers.
  OperationsService operations(&hub, &policies, options.cycle_budget);

  // One door per role, all onto the same policies, hub and last-cycle record: a
  // connection's role is fixed when it is accepted, by which server gets it.
  PlacementService shared(&policies, &topology, &hub);
  shared.SetCycleBudget(options.cycle_budget);  // before the doors copy it
  PeerBook peers;
  const auto describe = [&peers](const grpc::ServerContext& context) {
    return peers.Describe(context);
  };
  PlacementService scheduler_door(
      shared, [](const grpc::ServerContext&) { return Role::kScheduler; }, describe);
  PlacementService reader_door(
      shared, [](const grpc::ServerContext&) { return Role::kReader; }, describe);
  RefusalLog refusal_log;
  RefuseEveryCall refusals(&peers, options.socket_path, &refusal_log);
  std::unique_ptr<grpc::Server> servers[3];
  std::unique_ptr<UnixListener> listener;
  if (!options.socket_path.empty()) {
    auto opened = UnixListener::Open(
        {.path = options.socket_path, .mode = options.socket_mode, .group = options.socket_group});
    if (!opened.ok()) return opened.status();
    listener = std::move(*opened);
    servers[static_cast<int>(Role::kScheduler)] =
        StartServer(&scheduler_door, &operations, true, true, kSchedulerDoor);
    servers[static_cast<int>(Role::kReader)] =
        StartServer(&reader_door, &operations, true, false, kReaderDoor);
    servers[static_cast<int>(Role::kDenied)] = StartRefusingServer(&refusals);
    for (const auto& server : servers) {
      if (server == nullptr) return absl::InternalError("cannot start the gRPC server");
    }
    listener->Start(
        [&servers, &rules, &options, &peers, &refusal_log](int fd, const PeerIdentity& peer) {
          const Role role = rules->RoleOf(peer);
          peers.Remember(fd, peer, role);
          if (role == Role::kDenied) {
            if (const std::optional<uint64_t> left_out = refusal_log.Admit()) {
              spdlog::warn(
                  "refused connection on {} from {}: not root, accelpackd's user, SlurmUser or "
                  "in the operators' group; each of its calls gets PERMISSION_DENIED{}",
                  options.socket_path, peer.ToString(), RefusalLog::LeftOut(*left_out));
            }
          } else {
            spdlog::debug("connection fd:{} from {}: {}", fd, peer.ToString(), RoleName(role));
          }
          grpc::AddInsecureChannelFromFd(servers[static_cast<int>(role)].get(), fd);
        });
    spdlog::info("listening on unix:{} (mode {:04o}); {}", options.socket_path, options.socket_mode,
                 rules->ToString());
  }
  PlacementService tls_door(
      shared, [names = options.tls_scheduler_names](const grpc::ServerContext& context) {
        return RoleOfCertificate(context.auth_context().get(), names);
      });
  // Readers' own port, with the Unix socket's reader limits.
  PlacementService tls_reader_door(
      shared, [names = options.tls_scheduler_names](const grpc::ServerContext& context) {
        return std::min(RoleOfCertificate(context.auth_context().get(), names), Role::kReader);
      });
  // One TLS port: its gate on the credentials, its door and limits. Null: it cannot listen.
  auto start_tls_port = [&](const std::string& address,
                            const std::shared_ptr<grpc::ServerCredentials>& credentials,
                            TlsPortGate::Port gate, PlacementService* door, bool schedulers,
                            const DoorLimits& limits, int* port) {
    credentials->SetAuthMetadataProcessor(
        std::make_shared<TlsPortGate>(gate, options.tls_scheduler_names, &refusal_log));
    std::unique_ptr<grpc::Server> server =
        StartServer(door, &operations, true, schedulers, limits, address, credentials, port);
    if (*port == 0) server.reset();
    return server;
  };
  std::unique_ptr<grpc::Server> tcp_server;
  if (!options.tcp_listen.empty()) {
    int tcp_port = 0;
    tcp_server = start_tls_port(options.tcp_listen, tls, TlsPortGate::Port::kSchedulers, &tls_door,
                                true, kTcpSchedulerDoor, &tcp_port);
    if (tcp_server == nullptr) {
      return absl::UnavailableError(Cat("--listen ", options.tcp_listen, ": cannot listen"));
    }
    spdlog::info(
        "listening on {} port {} (TLS, client certificates required; scheduler certificates "
        "only: common names {})",
        options.tcp_listen, tcp_port, Join(options.tls_scheduler_names, ", "));
  }
  std::unique_ptr<grpc::Server> tcp_reader_server;
  if (!options.tcp_readers_listen.empty()) {
    int tcp_port = 0;
    tcp_reader_server =
        start_tls_port(options.tcp_readers_listen, tls_readers, TlsPortGate::Port::kReaders,
                       &tls_reader_door, false, kReaderDoor, &tcp_port);
    if (tcp_reader_server == nullptr) {
      return absl::UnavailableError(
          Cat("--listen-readers ", options.tcp_readers_listen, ": cannot listen"));
    }
    spdlog::info(
        "listening for readers on {} port {} (TLS, client certificates required; no Schedule, "
        "requests up to {} MiB)",
        options.tcp_readers_listen, tcp_port, kReaderDoor.max_receive_bytes >> 20);
  }
  spdlog::info("policy \"{}\" in force", wire::Printable(policies.CurrentName()));
  MetricsServer metrics;
  if (!options.metrics_listen.empty()) {
    absl::Status serving =
        metrics.Start(options.metrics_listen, [&hub] { return hub.RenderMetrics(); });
    if (!serving.ok()) {
      listener.reset();
      for (auto* server : {servers[0].get(), servers[1].get(), servers[2].get(), tcp_server.get(),
                           tcp_reader_server.get()}) {
        if (server != nullptr) server->Shutdown();
      }
      return serving;
    }
    spdlog::info("serving Prometheus metrics on http://{}/metrics", options.metrics_listen);
  }

  for (;;) {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) continue;
    if (signal_number == SIGHUP) {
      if (options.policy_path.empty()) {
        spdlog::info("SIGHUP: no policy file to reload (built-in default in force)");
        continue;
      }
      absl::Status reloaded = policies.ReloadFromFile(options.policy_path);
      hub.OnPolicyReload(reloaded.ok());
      if (reloaded.ok()) {
        spdlog::info("policy reloaded: \"{}\"", wire::Printable(policies.CurrentName()));
      } else {
        spdlog::error("policy not reloaded, keeping \"{}\": {}",
                      wire::Printable(policies.CurrentName()),
                      wire::Printable(MessageOf(reloaded)));
      }
      continue;
    }
    spdlog::info("signal {}: shutting down", signal_number);
    break;
  }
  metrics.Stop();
  listener.reset();  // no new connections; removes the socket if it is still ours
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(5);
  for (auto* server : {servers[0].get(), servers[1].get(), servers[2].get(), tcp_server.get(),
                       tcp_reader_server.get()}) {
    if (server != nullptr) server->Shutdown(deadline);
  }
  for (auto* server : {servers[0].get(), servers[1].get(), servers[2].get(), tcp_server.get(),
                       tcp_reader_server.get()}) {
    if (server != nullptr) server->Wait();
  }
  spdlog::info("stopped");
  return absl::OkStatus();
}

}  // namespace accelpack::service
