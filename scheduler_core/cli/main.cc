// accelpack: the operators' command line.
//   accelpack status [--json]        what the core saw and decided last cycle
//   accelpack policy check FILE      validate a policy file before it goes live
//   accelpack policy show [FILE]     the policy (default or FILE) in full
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>

#include "accelpack/v1/placement.grpc.pb.h"
#include "cli/status_view.h"
#include "common/strings.h"
#include "policy/policy.h"

namespace {

namespace v1 = ::accelpack::v1;

std::string TargetFor(const std::string& socket, const std::string& address) {
  return address.empty() ? "unix:" + socket : address;
}

// accelpackd serves TCP only with TLS and client certificates.
struct TlsFiles {
  std::string ca, cert, key;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::shared_ptr<grpc::ChannelCredentials> CredentialsFor(const std::string& address,
                                                         const TlsFiles& tls) {
  if (address.empty()) return grpc::InsecureChannelCredentials();  // Unix socket: peer uid
  grpc::SslCredentialsOptions options;
  options.pem_root_certs = ReadFile(tls.ca);
  options.pem_private_key = ReadFile(tls.key);
  options.pem_cert_chain = ReadFile(tls.cert);
  return grpc::SslCredentials(options);
}

int Status(const std::string& target, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
           bool json, int timeout_ms) {
  auto channel = grpc::CreateChannel(target, credentials);
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
  app.add_option("--address", address, "gRPC target instead of the socket (host:port, TLS)");
  TlsFiles tls;
  auto* tls_ca = app.add_option("--tls-ca", tls.ca, "PEM CA that signed accelpackd's certificate")
                     ->needs(app.get_option("--address"));
  auto* tls_cert = app.add_option("--tls-cert", tls.cert, "PEM client certificate for --address");
  auto* tls_key = app.add_option("--tls-key", tls.key, "PEM client key for --address");
  tls_ca->needs(tls_cert)->needs(tls_key);
  tls_cert->needs(tls_ca);
  tls_key->needs(tls_ca);
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
  if (status->parsed()) {
    if (!address.empty() && tls.ca.empty()) {
      std::cerr << "accelpack: --address needs --tls-ca, --tls-cert and --tls-key "
                   "(accelpackd serves TCP only with TLS and client certificates)\n";
      return 2;
    }
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    try {
      credentials = CredentialsFor(address, tls);
    } catch (const std::exception& e) {
      std::cerr << "accelpack: " << e.what() << "\n";
      return 2;
    }
    return Status(TargetFor(socket, address), credentials, json, timeout_ms);
  }
  if (check->parsed()) return PolicyCheck(check_path);
  if (show->parsed()) return PolicyShow(show_path);
  return 2;
}
