#include "service/server.h"

#include <grp.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "common/strings.h"
#include "service/metrics.h"
#include "service/operator_hub.h"
#include "service/operator_service.h"
#include "service/placement_service.h"
#include "service/policy_store.h"
#include "service/topology_book.h"

namespace accelpack::service {

namespace {

// True when something already accepts connections on the socket.
bool SocketAnswers(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  const bool answers =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return answers;
}

absl::Status PrepareSocketPath(const std::string& path) {
  if (path.size() >= sizeof(sockaddr_un{}.sun_path)) {
    return absl::InvalidArgumentError(Cat("--socket ", path, ": path longer than ",
                                          sizeof(sockaddr_un{}.sun_path) - 1, " bytes"));
  }
  std::error_code error;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, error);
  if (error) return absl::FailedPreconditionError(Cat(parent.string(), ": ", error.message()));
  if (std::filesystem::exists(path, error)) {
    if (SocketAnswers(path)) {
      return absl::AlreadyExistsError(Cat(path, ": another accelpackd is serving this socket"));
    }
    std::filesystem::remove(path, error);  // stale socket of a daemon that died
  }
  return absl::OkStatus();
}

absl::Status SecureSocket(const ServerOptions& options) {
  if (::chmod(options.socket_path.c_str(), options.socket_mode) != 0) {
    return absl::FailedPreconditionError(
        Cat(options.socket_path, ": chmod: ", std::strerror(errno)));
  }
  if (options.socket_group.empty()) return absl::OkStatus();
  const group* entry = ::getgrnam(options.socket_group.c_str());
  if (entry == nullptr) {
    return absl::InvalidArgumentError(
        Cat("--socket-group ", options.socket_group, ": no such group"));
  }
  if (::chown(options.socket_path.c_str(), static_cast<uid_t>(-1), entry->gr_gid) != 0) {
    return absl::FailedPreconditionError(
        Cat(options.socket_path, ": chown: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

void KeepCycleMemoryMapped() {
  // Fixed thresholds also stop glibc's dynamic mmap threshold, so large arrays
  // come from the heap instead of a fresh mmap each cycle.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

absl::Status RunServer(const ServerOptions& options) {
  KeepCycleMemoryMapped();
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
  OperatorHub hub(
      {.audit_path = options.decision_log, .audit_max_bytes = options.decision_log_max_bytes});
  if (absl::Status opened = hub.Open(); !opened.ok()) return opened;
  PlacementService service(&policies, &topology, &hub);
  OperationsService operations(&hub, &policies);

  // Signals go to one thread; block them before gRPC starts its own threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  builder.RegisterService(&operations);
  builder.SetMaxReceiveMessageSize(256 * 1024 * 1024);  // 10k nodes x 100k jobs fit
  if (options.socket_path.empty() && options.tcp_listen.empty()) {
    return absl::InvalidArgumentError("nothing to listen on: give --socket and/or --listen");
  }
  if (!options.socket_path.empty()) {
    absl::Status prepared = PrepareSocketPath(options.socket_path);
    if (!prepared.ok()) return prepared;
    builder.AddListeningPort("unix:" + options.socket_path, grpc::InsecureServerCredentials());
  }
  int tcp_port = 0;
  if (!options.tcp_listen.empty()) {
    builder.AddListeningPort(options.tcp_listen, grpc::InsecureServerCredentials(), &tcp_port);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || (!options.tcp_listen.empty() && tcp_port == 0)) {
    return absl::UnavailableError(
        Cat("cannot listen on ", options.socket_path, " ", options.tcp_listen));
  }
  if (!options.socket_path.empty()) {
    absl::Status secured = SecureSocket(options);
    if (!secured.ok()) {
      server->Shutdown();
      return secured;
    }
    spdlog::info("listening on unix:{} (mode {:#o})", options.socket_path, options.socket_mode);
  }
  if (tcp_port != 0)
    spdlog::warn("listening on {} (port {}) without authentication", options.tcp_listen, tcp_port);
  spdlog::info("policy \"{}\" in force", policies.CurrentName());
  MetricsServer metrics;
  if (!options.metrics_listen.empty()) {
    absl::Status serving =
        metrics.Start(options.metrics_listen, [&hub] { return hub.RenderMetrics(); });
    if (!serving.ok()) {
      server->Shutdown();
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
        spdlog::info("policy reloaded: \"{}\"", policies.CurrentName());
      } else {
        spdlog::error("policy not reloaded, keeping \"{}\": {}", policies.CurrentName(),
                      MessageOf(reloaded));
      }
      continue;
    }
    spdlog::info("signal {}: shutting down", signal_number);
    break;
  }
  metrics.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  server->Wait();
  if (!options.socket_path.empty()) {
    std::error_code ignored;
    std::filesystem::remove(options.socket_path, ignored);
  }
  spdlog::info("stopped");
  return absl::OkStatus();
}

}  // namespace accelpack::service
