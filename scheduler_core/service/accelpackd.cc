// accelpackd: the placement core daemon.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "accelpack/v1/wire_text.h"
#include "common/strings.h"
#include "service/server.h"
#include "service/unix_listener.h"

int main(int argc, char** argv) {
  accelpack::service::ServerOptions options;
  std::string mode = "0660";
  std::string log_level = "info";
  CLI::App app{"accelpackd: utilization-aware placement core for Slurm (accelpack)"};
  app.add_option("--socket", options.socket_path, "Unix socket to serve on (empty: none)")
      ->capture_default_str();
  app.add_option("--socket-mode", mode, "permissions of the socket (octal)")->capture_default_str();
  app.add_option("--socket-group", options.socket_group, "group owning the socket");
  app.add_option("--slurm-user", options.slurm_user,
                 "user that may Schedule besides root and accelpackd's own (default: slurm, if "
                 "that user exists)");
  app.add_option("--operator-group", options.operator_group,
                 "group whose members may read status (default: --socket-group)");
  app.add_option("--listen", options.tcp_listen,
                 "also serve schedulers (slurmctld) on TCP host:port, TLS with client "
                 "certificates of --tls-scheduler-name only");
  app.add_option("--listen-readers", options.tcp_readers_listen,
                 "serve readers' certificates (the CLI) on TCP host:port: no Schedule, small "
                 "requests; TLS as --listen");
  app.add_option("--tls-cert", options.tls_cert,
                 "PEM certificate (chain) for --listen and --listen-readers");
  app.add_option("--tls-key", options.tls_key, "PEM private key for --listen and --listen-readers");
  app.add_option("--tls-client-ca", options.tls_client_ca,
                 "PEM CA that client certificates must chain to");
  app.add_option("--tls-scheduler-name", options.tls_scheduler_names,
                 "client certificate common name that may Schedule over TCP (repeatable)")
      ->capture_default_str();
  app.add_option("--policy", options.policy_path, "policy file (YAML); reloaded on SIGHUP");
  app.add_option("--topology", options.topology_path,
                 "accelpack-probe JSON report(s): a file or a directory of *.json");
  app.add_option("--metrics-listen", options.metrics_listen,
                 "serve Prometheus /metrics on HOST:PORT (e.g. 127.0.0.1:9464); off by default");
  app.add_option("--decision-log", options.decision_log,
                 "append decisions as JSON lines to this file (rotated, 4 old files kept)");
  uint64_t decision_log_max_mb = 64;
  app.add_option("--decision-log-max-mb", decision_log_max_mb,
                 "rotate the decision log beyond this many MiB")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 20));
  app.add_option("--max-node-evaluations", options.cycle_budget.max_node_evaluations,
                 "work budget of one cycle in node evaluations; past it, jobs not reached wait "
                 "as \"not evaluated\" (0: unbounded)")
      ->capture_default_str();
  uint64_t max_shape_memory_mib = options.cycle_budget.max_shape_bytes >> 20;
  app.add_option("--max-shape-memory-mib", max_shape_memory_mib,
                 "memory one cycle may hold for where each distinct job shape may run; past "
                 "it, jobs not reached wait as \"not evaluated\" (0: unbounded)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 30));
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.set_version_flag("--version", ACCELPACK_VERSION);
  CLI11_PARSE(app, argc, argv);
  options.decision_log_max_bytes = decision_log_max_mb << 20;
  options.cycle_budget.max_shape_bytes = max_shape_memory_mib << 20;

  const auto parsed_mode = accelpack::service::ParseSocketMode(mode);
  if (!parsed_mode.ok()) {
    spdlog::error("{}", accelpack::MessageOf(parsed_mode.status()));
    return 2;
  }
  options.socket_mode = *parsed_mode;
  // Logs go to stderr, where service managers and the quickstart collect them.
  spdlog::set_default_logger(spdlog::stderr_color_mt("accelpackd"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e accelpackd[%P] %l: %v");
  spdlog::set_level(spdlog::level::from_str(log_level));
  const absl::Status status = accelpack::service::RunServer(options);
  if (!status.ok()) {
    // Start-up errors quote files and names: escaped, bounded, one line.
    spdlog::error("{}", accelpack::wire::Printable(accelpack::MessageOf(status)));
    return 1;
  }
  return 0;
}
