// A client for the access tests, run as another local user (or with a TLS client
// certificate): calls GetStatus and Schedule once each and prints the gRPC codes,
// e.g. "GetStatus=0 Schedule=7", so the test can tell which calls were refused;
// then every Operations call, the standard health check and a method no service
// has, one line: "Explain=9 ListNodes=9 ... Health=0 Unknown=12".
//   role_client unix:/path/core.sock
//   role_client 127.0.0.1:PORT CA.pem [CERT.pem KEY.pem]
// SPDX-License-Identifier: GPL-2.0-or-later
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "accelpack/v1/placement.grpc.pb.h"
#include "raw_call.h"

namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::chrono::system_clock::time_point Deadline() {
  return std::chrono::system_clock::now() + std::chrono::seconds(10);
}

// One Operations call with a default request: its gRPC code.
template <typename Request, typename Response, typename Call>
int Code(Call call) {
  grpc::ClientContext context;
  context.set_deadline(Deadline());
  Request request;
  Response response;
  return static_cast<int>(call(&context, request, &response).error_code());
}

// A call by method name with an empty message (what grpc_health_probe sends).
int RawCode(const std::shared_ptr<grpc::Channel>& channel, const std::string& method) {
  return static_cast<int>(accelpack::testing::RawUnaryCall(channel, method, "").error_code());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3 && argc != 5) {
    std::fprintf(stderr, "usage: role_client TARGET [CA [CERT KEY]]\n");
    return 2;
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args;
  if (argc >= 3) {
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = ReadFile(argv[2]);
    if (argc == 5) {
      tls.pem_cert_chain = ReadFile(argv[3]);
      tls.pem_private_key = ReadFile(argv[4]);
    }
    credentials = grpc::SslCredentials(tls);
    args.SetSslTargetNameOverride("localhost");
  }
  const auto channel = grpc::CreateCustomChannel(argv[1], credentials, args);
  auto stub = accelpack::v1::Placement::NewStub(channel);
  const auto deadline = Deadline;

  grpc::ClientContext status_context;
  status_context.set_deadline(deadline());
  accelpack::v1::GetStatusResponse status_response;
  const grpc::Status status =
      stub->GetStatus(&status_context, accelpack::v1::GetStatusRequest{}, &status_response);

  // A snapshot that would replace what `accelpack status` shows, were it accepted.
  accelpack::v1::ScheduleRequest request;
  request.set_caller("role_client");
  accelpack::v1::ClusterSnapshot* snapshot = request.mutable_snapshot();
  snapshot->set_now_unix(1000);
  accelpack::v1::Node* node = snapshot->add_nodes();
  node->set_name("fake-0");
  node->set_state(accelpack::v1::NODE_STATE_IDLE);
  node->set_cpus_total(8);
  node->set_memory_total_mib(1024);
  // ROLE_CLIENT_PAD_MIB=N: the snapshot padded to N MiB with empty pending jobs (what
  // a reader could send to make accelpackd parse a large request).
  if (const char* pad = std::getenv("ROLE_CLIENT_PAD_MIB")) {
    const size_t jobs = (std::strtoul(pad, nullptr, 10) << 20) / 6;  // ~6 bytes each
    for (size_t j = 0; j < jobs; ++j)
      snapshot->add_pending_jobs()->set_job_id(static_cast<uint32_t>(1000000 + j));
  }
  grpc::ClientContext schedule_context;
  schedule_context.set_deadline(deadline());
  accelpack::v1::ScheduleResponse schedule_response;
  const grpc::Status schedule = stub->Schedule(&schedule_context, request, &schedule_response);

  std::printf("GetStatus=%d Schedule=%d\n", static_cast<int>(status.error_code()),
              static_cast<int>(schedule.error_code()));
  std::fflush(stdout);  // the code line first: stderr shares the file

  namespace v1 = accelpack::v1;
  auto operations = v1::Operations::NewStub(channel);
  auto& ops = *operations;
  // In order (a printf's arguments are evaluated in any order).
  const int codes[] = {
      Code<v1::ExplainRequest, v1::ExplainResponse>(
          [&](auto* c, const auto& q, auto* r) { return ops.Explain(c, q, r); }),
      Code<v1::ListNodesRequest, v1::ListNodesResponse>(
          [&](auto* c, const auto& q, auto* r) { return ops.ListNodes(c, q, r); }),
      Code<v1::ListDecisionsRequest, v1::ListDecisionsResponse>(
          [&](auto* c, const auto& q, auto* r) { return ops.ListDecisions(c, q, r); }),
      Code<v1::DiffPolicyRequest, v1::DiffPolicyResponse>([&](auto* c, auto q, auto* r) {
        // Padded as the snapshot (ROLE_CLIENT_PAD_MIB): a reader's large request.
        if (const char* pad = std::getenv("ROLE_CLIENT_PAD_MIB"))
          q.set_policy_yaml(std::string(std::strtoul(pad, nullptr, 10) << 20, '#'));
        return ops.DiffPolicy(c, q, r);
      }),
      Code<v1::GetStatsRequest, v1::GetStatsResponse>(
          [&](auto* c, const auto& q, auto* r) { return ops.GetStats(c, q, r); }),
      Code<v1::GetPolicyRequest, v1::GetPolicyResponse>(
          [&](auto* c, const auto& q, auto* r) { return ops.GetPolicy(c, q, r); }),
      RawCode(channel, "/grpc.health.v1.Health/Check"),
      RawCode(channel, "/accelpack.v1.Placement/NoSuchCall")};
  std::printf(
      "Explain=%d ListNodes=%d ListDecisions=%d DiffPolicy=%d GetStats=%d GetPolicy=%d "
      "Health=%d Unknown=%d\n",
      codes[0], codes[1], codes[2], codes[3], codes[4], codes[5], codes[6], codes[7]);
  std::fflush(stdout);
  if (!status.ok()) std::fprintf(stderr, "GetStatus: %s\n", status.error_message().c_str());
  if (!schedule.ok()) std::fprintf(stderr, "Schedule: %s\n", schedule.error_message().c_str());
  return 0;
}
