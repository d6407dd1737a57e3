// SPDX-License-Identifier: GPL-2.0-or-later
#include "service/metrics.h"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "accelpack/v1/wire_text.h"
#include "common/strings.h"

namespace accelpack::service {

namespace {

// Label values are UTF-8 (a node name that is not is shown escaped: one such name
// must not make Prometheus drop the whole scrape), with backslash, quote and newline
// escaped (exposition format).
std::string Escape(std::string_view raw) {
  const std::string value = wire::Utf8Shown(raw);
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Number(double value) {
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    return Cat(static_cast<int64_t>(value));
  return fmt::format("{:.9g}", value);
}

}  // namespace

void MetricsText::Family(std::string_view name, std::string_view type, std::string_view help) {
  text_ += Cat("# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

void MetricsText::Sample(std::string_view name, const Labels& labels, double value) {
  text_ += name;
  if (!labels.empty()) {
    text_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      text_ += Cat(i == 0 ? "" : ",", labels[i].first, "=\"", Escape(labels[i].second), "\"");
    }
    text_ += '}';
  }
  text_ += Cat(" ", Number(value), "\n");
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double seconds) {
  std::lock_guard lock(mu_);
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), seconds) - bounds_.begin());
  ++counts_[bucket];
  sum_ += seconds;
  ++count_;
}

void Histogram::WriteTo(MetricsText& out, std::string_view name) const {
  std::lock_guard lock(mu_);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const double le = i < bounds_.size() ? bounds_[i] : std::numeric_limits<double>::infinity();
    out.Sample(Cat(name, "_bucket"), {{"le", Number(le)}}, static_cast<double>(cumulative));
  }
  out.Sample(Cat(name, "_sum"), {}, sum_);
  out.Sample(Cat(name, "_count"), {}, static_cast<double>(count_));
}

struct MetricsServer::Impl {
  httplib::Server server;
};

MetricsServer::MetricsServer() : impl_(std::make_unique<Impl>()) {}
MetricsServer::~MetricsServer() { Stop(); }

absl::Status MetricsServer::Start(const std::string& listen, std::function<std::string()> render) {
  const size_t colon = listen.rfind(':');
  int port = -1;
  if (colon != std::string::npos) {
    try {
      size_t used = 0;
      port = std::stoi(listen.substr(colon + 1), &used);
      if (used != listen.size() - colon - 1) port = -1;
    } catch (const std::exception&) {
      port = -1;
    }
  }
  if (colon == std::string::npos || colon == 0 || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        Cat("--metrics-listen ", listen, ": expected HOST:PORT, e.g. 127.0.0.1:9464"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  impl_->server.Get("/metrics", [render = std::move(render)](const httplib::Request&,
                                                             httplib::Response& response) {
    response.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  if (!impl_->server.bind_to_port(host, port)) {
    return absl::UnavailableError(Cat("--metrics-listen ", listen, ": cannot listen there"));
  }
  thread_ = std::thread([this] { impl_->server.listen_after_bind(); });
  return absl::OkStatus();
}

void MetricsServer::Stop() {
  if (!thread_.joinable()) return;
  impl_->server.stop();
  thread_.join();
}

}  // namespace accelpack::service
