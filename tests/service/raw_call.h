// A unary gRPC call by method name with raw request bytes (no generated stub): what
// another client, a health probe or garbage would send. For the service tests and
// role_client.
// SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

namespace accelpack::testing {

inline grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel,
                                 const std::string& method, const std::string& bytes) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::GenericStub generic(channel);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer reply;
  std::mutex mu;
  std::condition_variable done_cv;
  bool done = false;
  grpc::Status result;
  generic.UnaryCall(&context, method, grpc::StubOptions(), &request, &reply,
                    [&](grpc::Status status) {
                      std::lock_guard lock(mu);
                      result = std::move(status);
                      done = true;
                      done_cv.notify_one();
                    });
  std::unique_lock lock(mu);
  done_cv.wait(lock, [&] { return done; });
  return result;
}

}  // namespace accelpack::testing
