// SPDX-License-Identifier: GPL-2.0-or-later
// Test tool: sends one ScheduleRequest, read as JSON from stdin, to accelpackd
// (as the plugin would) and prints the response as JSON.
//   feed_snapshot unix:/path/core.sock < request.json
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <iostream>
#include <iterator>
#include <string>

#include "accelpack/v1/placement.grpc.pb.h"
#include "accelpack/v1/wire_json.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: feed_snapshot TARGET < request.json\n";
    return 2;
  }
  const std::string text((std::istreambuf_iterator<char>(std::cin)),
                         std::istreambuf_iterator<char>());
  accelpack::v1::ScheduleRequest request;
  const absl::Status parsed = accelpack::wire::FromReadableJson(text, &request);
  if (!parsed.ok()) {
    std::cerr << "feed_snapshot: bad request JSON: " << parsed.ToString() << "\n";
    return 2;
  }
  auto stub = accelpack::v1::Placement::NewStub(
      grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  accelpack::v1::ScheduleResponse response;
  const grpc::Status status = stub->Schedule(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "feed_snapshot: " << status.error_message() << "\n";
    return 1;
  }
  std::cout << accelpack::wire::ToReadableJson(response, false) << "\n";
  return 0;
}
