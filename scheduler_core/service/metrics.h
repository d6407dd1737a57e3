// SPDX-License-Identifier: GPL-2.0-or-later
// Prometheus text exposition (format 0.0.4) and the /metrics HTTP endpoint.
//
// Thread-safety: Histogram and MetricsServer may be used from any thread;
// MetricsText is a plain value built by one thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"

namespace accelpack::service {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Builds one exposition: each family's HELP/TYPE once, then its samples.
class MetricsText {
 public:
  // type: "gauge", "counter", "histogram".
  void Family(std::string_view name, std::string_view type, std::string_view help);
  void Sample(std::string_view name, const Labels& labels, double value);
  // A family of one sample without labels.
  void Single(std::string_view name, std::string_view type, std::string_view help, double value) {
    Family(name, type, help);
    Sample(name, {}, value);
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// Cumulative histogram of durations in seconds, fixed buckets.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double seconds);
  // Writes the _bucket/_sum/_count samples of family `name`.
  void WriteTo(MetricsText& out, std::string_view name) const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bound, not cumulative; last: +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

// Serves GET /metrics on host:port from `render` (called per scrape).
class MetricsServer {
 public:
  MetricsServer();
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // "127.0.0.1:9464"; fails naming the address when it cannot bind.
  absl::Status Start(const std::string& listen, std::function<std::string()> render);
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace accelpack::service
