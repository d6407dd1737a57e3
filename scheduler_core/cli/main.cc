// accelpack: the operators' command line.
//   accelpack status [--json]        what the core saw and decided last cycle
//   accelpack policy check FILE      validate a policy file before it goes live
//   accelpack policy show [FILE]     the policy (default or FILE) in full
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>

#include "accelpack/v1/placement.grpc.pb.h"
#include "cli/status_view.h"
#include "common/strings.h"
#include "policy/policy.h"

namespace {

namespace v1 = ::accelpack::v1;

std::string TargetFor(const std::string& socket, const std::string& address) {
  return address.empty() ? "unix:" + socket : address;
}

int Status(const std::string& target, bool json, int timeout_ms) {
  auto channel = grpc::CreateChannel(target, grpc::InsecureChannelCredentials());
  auto stub = v1::Placement::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  v1::GetStatusResponse response;
  const grpc::Status status = stub->GetStatus(&context, v1::GetStatusRequest{}, &response);
  if (!status.ok()) {
    std::cerr << "accelpack: cannot reach accelpackd at " << target << ": "
              << status.error_message() << "\n"
              << "  is it running? (accelpackd --socket PATH; or pass --socket/--address)\n";
    return 3;
  }
  std::cout << (json ? accelpack::cli::StatusJson(response)
                     : accelpack::cli::StatusTable(response));
  return 0;
}

int PolicyCheck(const std::string& path) {
  auto config = accelpack::policy::LoadPolicyFile(path);
  if (!config.ok()) {
    std::cerr << "accelpack: " << accelpack::MessageOf(config.status()) << "\n";
    return 1;
  }
  std::cout << path << ": policy \"" << config->name << "\" is valid\n";
  return 0;
}

int PolicyShow(const std::string& path) {
  accelpack::policy::PolicyConfig config = accelpack::policy::DefaultPolicy();
  if (!path.empty()) {
    auto loaded = accelpack::policy::LoadPolicyFile(path);
    if (!loaded.ok()) {
      std::cerr << "accelpack: " << accelpack::MessageOf(loaded.status()) << "\n";
      return 1;
    }
    config = *loaded;
  }
  std::cout << accelpack::policy::PolicyToYaml(config);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"accelpack: see idle accelerators and why jobs wait"};
  app.require_subcommand(1);
  std::string socket = "/run/accelpack/accelpack.sock";
  std::string address;
  int timeout_ms = 3000;
  app.add_option("--socket", socket, "accelpackd's Unix socket")->capture_default_str();
  app.add_option("--address", address, "gRPC target instead of the socket (host:port)");
  app.add_option("--timeout-ms", timeout_ms, "deadline for the call")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  bool json = false;
  auto* status = app.add_subcommand("status", "devices per kind, pending jobs, last cycle");
  status->add_flag("--json", json, "machine-readable output");

  auto* policy = app.add_subcommand("policy", "check or show a policy file");
  policy->require_subcommand(1);
  std::string check_path;
  auto* check = policy->add_subcommand("check", "validate a policy file");
  check->add_option("file", check_path, "policy YAML")->required();
  std::string show_path;
  auto* show = policy->add_subcommand("show", "print a policy in full (default: built-in)");
  show->add_option("file", show_path, "policy YAML");

  CLI11_PARSE(app, argc, argv);
  if (status->parsed()) return Status(TargetFor(socket, address), json, timeout_ms);
  if (check->parsed()) return PolicyCheck(check_path);
  if (show->parsed()) return PolicyShow(show_path);
  return 2;
}
