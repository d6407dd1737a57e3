// SPDX-License-Identifier: GPL-2.0-or-later
// accelpack: the operators' and admins' command line. See docs/operators.md.
//
// Exit codes (for scripts): 0 done; 1 the request is wrong (unknown or not
// pending job, bad policy file); 2 usage error; 3 accelpackd unreachable;
// 4 no fresh cycle (no cycle yet, or a stale snapshot).
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <sstream>

#include "accelpack/v1/placement.grpc.pb.h"
#include "cli/client_config.h"
#include "cli/operator_views.h"
#include "cli/status_view.h"
#include "common/bounded_file.h"
#include "common/strings.h"
#include "policy/policy.h"

namespace {

namespace v1 = ::accelpack::v1;
using accelpack::Cat;

enum Exit { kOk = 0, kBadRequest = 1, kUsage = 2, kUnreachable = 3, kNoFreshCycle = 4 };

constexpr const char* kDefaultSocket = "/run/accelpack/accelpack.sock";

struct Connection {
  std::string target;
  std::string source;  // where the target came from, for error messages
  int timeout_ms = 3000;
  // accelpackd serves TCP only with TLS and client certificates (PEM files); over the
  // Unix socket the kernel tells it who we are.
  std::string tls_ca, tls_cert, tls_key;
};

bool ReadFile(const std::string& path, std::string* text) {
  auto read = accelpack::ReadBoundedFile(path, accelpack::kMaxPemFileBytes, "TLS file");
  if (!read.ok()) {
    std::cerr << "accelpack: " << accelpack::MessageOf(read.status()) << "\n";
    return false;
  }
  *text = *std::move(read);
  return true;
}

// Null (after a message) when a TLS file cannot be read.
std::shared_ptr<grpc::ChannelCredentials> CredentialsFor(const Connection& connection) {
  if (connection.tls_ca.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions options;
  if (!ReadFile(connection.tls_ca, &options.pem_root_certs) ||
      !ReadFile(connection.tls_key, &options.pem_private_key) ||
      !ReadFile(connection.tls_cert, &options.pem_cert_chain)) {
    return nullptr;
  }
  return grpc::SslCredentials(options);
}

int Report(const grpc::Status& status, const Connection& connection) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      std::cerr << "accelpack: cannot reach accelpackd at " << connection.target << " ("
                << connection.source << "): " << status.error_message() << "\n"
                << "  is it running? (accelpackd --socket PATH; or pass --socket/--address)\n";
      return kUnreachable;
    case grpc::StatusCode::UNIMPLEMENTED:
      std::cerr << "accelpack: accelpackd at " << connection.target
                << " is older than this command (no operator views): upgrade it\n";
      return kUnreachable;
    case grpc::StatusCode::FAILED_PRECONDITION:
      std::cerr << "accelpack: " << status.error_message() << "\n";
      return kNoFreshCycle;
    default:
      std::cerr << "accelpack: " << status.error_message() << "\n";
      return kBadRequest;
  }
}

template <typename Stub, typename Request, typename Response>
int Call(const Connection& connection,
         grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
         const Request& request, Response* response) {
  const auto credentials = CredentialsFor(connection);
  if (credentials == nullptr) return kUsage;
  auto channel = grpc::CreateChannel(connection.target, credentials);
  Stub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(connection.timeout_ms));
  const grpc::Status status = (stub.*method)(&context, request, response);
  return status.ok() ? kOk : Report(status, connection);
}

using Placement = v1::Placement::Stub;
using Operations = v1::Operations::Stub;

int Print(const std::string& text) {
  std::cout << text;
  return kOk;
}

int PrintTable(const accelpack::cli::Table& table, const std::string& format, bool header) {
  auto text = table.Render(format, header);
  if (!text.ok()) {
    std::cerr << "accelpack: " << accelpack::MessageOf(text.status()) << "\n";
    return kUsage;
  }
  return Print(*text);
}

int PolicyCheck(const std::vector<std::string>& paths) {
  int failed = 0;
  for (const std::string& path : paths) {
    const accelpack::cli::PolicyFileCheck check = accelpack::cli::CheckPolicyFile(path);
    const std::vector<std::string>& problems = check.problems;
    if (problems.empty()) {
      std::cout << path << ": policy \"" << check.name << "\" is valid\n";
      continue;
    }
    ++failed;
    for (const std::string& problem : problems) std::cerr << "accelpack: " << problem << "\n";
    std::cerr << "accelpack: " << path << ": " << problems.size()
              << (problems.size() == 1 ? " problem" : " problems") << "; not valid\n";
  }
  return failed == 0 ? kOk : kBadRequest;
}

int PolicyShow(const std::string& path) {
  accelpack::policy::PolicyConfig config = accelpack::policy::DefaultPolicy();
  if (!path.empty()) {
    auto loaded = accelpack::policy::LoadPolicyFile(path);
    if (!loaded.ok()) {
      std::cerr << "accelpack: " << accelpack::MessageOf(loaded.status()) << "\n";
      return kBadRequest;
    }
    config = *loaded;
  }
  return Print(accelpack::policy::PolicyToYaml(config));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "accelpack: the operators' view of the accelpack placement core (accelpackd).\n"
      "Options may come before or after the command. The core is found through --address,\n"
      "--socket, CoreAddress in accelpack.conf beside slurm.conf ($ACCELPACK_CONF,\n"
      "$SLURM_CONF), or " +
      std::string(kDefaultSocket) +
      ".\nExit codes: 0 done, 1 bad request (unknown job, bad policy file), 2 usage,\n"
      "3 accelpackd unreachable, 4 no fresh cycle (none yet, or a stale snapshot)."};
  app.require_subcommand(1);
  app.fallthrough();
  std::string socket;
  std::string address;
  Connection connection;
  auto* socket_option =
      app.add_option("--socket", socket, Cat("accelpackd's Unix socket [", kDefaultSocket, "]"));
  auto* address_option = app.add_option("--address", address,
                                        "gRPC target instead of the socket (unix:PATH, host:port)");
  auto* tls_ca = app.add_option("--tls-ca", connection.tls_ca,
                                "PEM CA that signed accelpackd's certificate (--address)")
                     ->needs(address_option);
  auto* tls_cert =
      app.add_option("--tls-cert", connection.tls_cert, "PEM client certificate for --address");
  auto* tls_key = app.add_option("--tls-key", connection.tls_key, "PEM client key for --address");
  tls_ca->needs(tls_cert)->needs(tls_key);
  tls_cert->needs(tls_ca);
  tls_key->needs(tls_ca);
  app.add_option("--timeout-ms", connection.timeout_ms, "deadline for the call")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  bool json = false;
  std::string format;
  bool no_header = false;
  uint32_t max_age_s = 60;
  auto json_flag = [&](CLI::App* command) {
    command->add_flag("--json", json, "machine-readable output (JSON)");
  };
  auto table_flags = [&](CLI::App* command) {
    command->set_help_flag("--help", "Print this help message and exit");
    command->add_option("-o,--format", format, "columns to show, comma-separated (see the header)");
    command->add_flag("-h,--noheader", no_header, "no header line (as squeue -h)");
  };
  auto age_option = [&](CLI::App* command) {
    command->add_option("--max-age", max_age_s, "refuse a snapshot older than this (seconds)")
        ->capture_default_str();
  };

  auto* status = app.add_subcommand("status", "devices per kind, pending jobs, last cycle");
  json_flag(status);
  table_flags(status);
  status->footer(
      "IDLE-WHILE-WANTED counts idle devices of a kind some pending job that can run asks for.");

  uint32_t job_id = 0;
  uint32_t candidates = 3;
  auto* explain = app.add_subcommand("explain", "why a pending job waits and what must change");
  explain->add_option("jobid", job_id, "Slurm job id")->required();
  explain->add_option("--candidates", candidates, "best nodes to show")->capture_default_str();
  json_flag(explain);
  age_option(explain);
  explain->footer(
      "Shows the job's queue position and effective priority, how many nodes each filter\n"
      "turned down, the best nodes with each scorer's score, its reservation, and what must\n"
      "change for it to start. Computed from the core's last snapshot.");

  std::string kind, partition, state;
  auto* nodes = app.add_subcommand("nodes", "devices per node and pool: used, free, stranded");
  nodes->add_option("--kind", kind, "only this accelerator kind (h100, ascend910c, ...)");
  nodes->add_option("-p,--partition", partition, "only nodes in this partition");
  nodes->add_option("-t,--state", state, "only nodes in this state")
      ->check(CLI::IsMember({"idle", "mixed", "allocated", "down", "drained", "reserved"}));
  json_flag(nodes);
  table_flags(nodes);
  age_option(nodes);
  nodes->footer(
      "STRANDED: free devices the node's free CPUs/memory cannot feed. FRAG: free devices\n"
      "the pending queue's typical shapes cannot use (FGD's fragmentation).");

  std::string since;
  uint32_t decisions_job = 0;
  auto* decisions = app.add_subcommand("decisions", "what the core decided recently");
  decisions->add_option("--since", since, "10m, 2h, 1d ago, or Unix seconds");
  decisions->add_option("-j,--job", decisions_job, "only this job");
  json_flag(decisions);
  table_flags(decisions);

  auto* stats = app.add_subcommand("stats", "scheduler statistics: cycles, latency, lock hold");
  json_flag(stats);

  auto* policy = app.add_subcommand("policy", "check, show or try a policy file");
  policy->require_subcommand(1);
  std::vector<std::string> check_paths;
  auto* check = policy->add_subcommand("check", "validate policy files (every problem listed)");
  check->add_option("file", check_paths, "policy YAML")->required();
  std::string show_path;
  bool show_running = false;
  auto* show = policy->add_subcommand("show", "print a policy in full (default: built-in)");
  show->add_option("file", show_path, "policy YAML");
  show->add_flag("--running", show_running, "the policy accelpackd has in force");
  std::string diff_path;
  auto* diff =
      policy->add_subcommand("diff", "what FILE would plan differently on the last snapshot");
  diff->add_option("file", diff_path, "policy YAML")->required()->check(CLI::ExistingFile);
  json_flag(diff);
  age_option(diff);

  for (CLI::App* command : app.get_subcommands({})) {
    const std::string common =
        "Options of every command (before or after it): --socket PATH, --address TARGET,\n"
        "--timeout-ms MS. Exit codes: see accelpack --help.";
    command->footer(command->get_footer().empty() ? common
                                                  : command->get_footer() + "\n\n" + common);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? kOk : kUsage;
  }

  // Explicit options win, then accelpack.conf, then the default socket.
  if (address_option->count() > 0) {
    connection.target = address;
    connection.source = "--address";
  } else if (socket_option->count() > 0) {
    connection.target = "unix:" + socket;
    connection.source = "--socket";
  } else {
    std::string error;
    const std::string conf = accelpack::cli::AcceleratorConfPath();
    connection.target = accelpack::cli::CoreAddressFromConf(conf, &error);
    if (!error.empty()) std::cerr << "accelpack: " << error << "\n";
    connection.source = connection.target.empty() ? "default" : Cat("CoreAddress in ", conf);
    if (connection.target.empty()) connection.target = Cat("unix:", kDefaultSocket);
  }

  if (connection.target.rfind("unix:", 0) != 0 && connection.tls_ca.empty() &&
      !(check->parsed() || (show->parsed() && !show_running))) {
    std::cerr << "accelpack: " << connection.target << " (" << connection.source
              << ") is TCP: it needs --tls-ca, --tls-cert and --tls-key (accelpackd serves TCP "
                 "only with TLS and client certificates)\n";
    return kUsage;
  }
  if (check->parsed()) return PolicyCheck(check_paths);
  if (show->parsed() && !show_running) return PolicyShow(show_path);
  if (show->parsed()) {
    v1::GetPolicyResponse response;
    if (int rc = Call(connection, &Operations::GetPolicy, v1::GetPolicyRequest{}, &response))
      return rc;
    return Print(Cat("# in force in accelpackd at ", connection.target, "\n", response.yaml()));
  }
  if (status->parsed()) {
    v1::GetStatusResponse response;
    if (int rc = Call(connection, &Placement::GetStatus, v1::GetStatusRequest{}, &response))
      return rc;
    if (json) return Print(accelpack::cli::StatusJson(response));
    if (!format.empty() || no_header) {
      return PrintTable(accelpack::cli::KindsTable(response), format, !no_header);
    }
    return Print(accelpack::cli::StatusTable(response));
  }
  if (explain->parsed()) {
    v1::ExplainRequest request;
    request.set_job_id(job_id);
    request.set_max_candidates(candidates);
    request.set_max_age_s(max_age_s);
    v1::ExplainResponse response;
    if (int rc = Call(connection, &Operations::Explain, request, &response)) return rc;
    return Print(json ? accelpack::cli::ToJson(response) : accelpack::cli::ExplainText(response));
  }
  if (nodes->parsed()) {
    v1::ListNodesRequest request;
    request.set_kind(kind);
    request.set_partition(partition);
    request.set_state(state);
    request.set_max_age_s(max_age_s);
    v1::ListNodesResponse response;
    if (int rc = Call(connection, &Operations::ListNodes, request, &response)) return rc;
    if (json) return Print(accelpack::cli::ToJson(response));
    return PrintTable(accelpack::cli::NodesTable(response), format, !no_header);
  }
  if (decisions->parsed()) {
    v1::ListDecisionsRequest request;
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const std::optional<int64_t> since_unix = accelpack::cli::ParseSince(since, now);
    if (!since_unix) {
      std::cerr << "accelpack: --since " << since
                << ": expected 10m, 2h, 1d, 90s or Unix seconds\n";
      return kUsage;
    }
    request.set_since_unix(*since_unix);
    request.set_job_id(decisions_job);
    v1::ListDecisionsResponse response;
    if (int rc = Call(connection, &Operations::ListDecisions, request, &response)) return rc;
    if (json) return Print(accelpack::cli::ToJson(response));
    return PrintTable(accelpack::cli::DecisionsTable(response), format, !no_header);
  }
  if (stats->parsed()) {
    v1::GetStatsResponse response;
    if (int rc = Call(connection, &Operations::GetStats, v1::GetStatsRequest{}, &response))
      return rc;
    return Print(json ? accelpack::cli::ToJson(response) : accelpack::cli::StatsText(response));
  }
  if (diff->parsed()) {
    const accelpack::cli::PolicyFileCheck checked = accelpack::cli::CheckPolicyFile(diff_path);
    if (!checked.problems.empty()) {
      for (const std::string& problem : checked.problems) {
        std::cerr << "accelpack: " << problem << "\n";
      }
      return kBadRequest;
    }
    v1::DiffPolicyRequest request;
    request.set_policy_yaml(checked.text);
    request.set_source(diff_path);
    request.set_max_age_s(max_age_s);
    v1::DiffPolicyResponse response;
    if (int rc = Call(connection, &Operations::DiffPolicy, request, &response)) return rc;
    return Print(json ? accelpack::cli::ToJson(response) : accelpack::cli::DiffText(response));
  }
  return kUsage;
}
