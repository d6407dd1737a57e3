// A client for the access tests, run as another local user (or with a TLS client
// certificate): calls GetStatus and Schedule once each and prints the gRPC codes,
// e.g. "GetStatus=0 Schedule=7", so the test can tell which calls were refused.
//   role_client unix:/path/core.sock
//   role_client 127.0.0.1:PORT CA.pem [CERT.pem KEY.pem]
// SPDX-License-Identifier: GPL-2.0-or-later
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "accelpack/v1/placement.grpc.pb.h"

namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
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
  auto stub =
      accelpack::v1::Placement::NewStub(grpc::CreateCustomChannel(argv[1], credentials, args));
  const auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(10); };

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
  grpc::ClientContext schedule_context;
  schedule_context.set_deadline(deadline());
  accelpack::v1::ScheduleResponse schedule_response;
  const grpc::Status schedule = stub->Schedule(&schedule_context, request, &schedule_response);

  std::printf("GetStatus=%d Schedule=%d\n", static_cast<int>(status.error_code()),
              static_cast<int>(schedule.error_code()));
  std::fflush(stdout);  // the code line first: stderr shares the file
  if (!status.ok()) std::fprintf(stderr, "GetStatus: %s\n", status.error_message().c_str());
  if (!schedule.ok()) std::fprintf(stderr, "Schedule: %s\n", schedule.error_message().c_str());
  return 0;
}
