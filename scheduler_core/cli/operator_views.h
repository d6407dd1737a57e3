// SPDX-License-Identifier: GPL-2.0-or-later
// How the operators' commands show the core's answers: aligned tables like
// sinfo/squeue (columns chosen with --format), JSON for scripts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "accelpack/v1/placement.pb.h"

namespace accelpack::cli {

namespace v1 = ::accelpack::v1;

// Rows of named columns, printed aligned; numbers right-aligned.
class Table {
 public:
  explicit Table(std::vector<std::string> columns) : columns_(std::move(columns)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // `format`: comma-separated column names (case-insensitive); empty: all.
  // Fails naming an unknown column and listing the known ones.
  absl::StatusOr<std::string> Render(const std::string& format, bool header) const;

 private:
  std::vector<std::string> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// The message as JSON with the proto's field names, every field present.
std::string ToJson(const google::protobuf::Message& message);

std::string ExplainText(const v1::ExplainResponse& explain);
Table NodesTable(const v1::ListNodesResponse& nodes);
Table DecisionsTable(const v1::ListDecisionsResponse& decisions);
std::string DiffText(const v1::DiffPolicyResponse& diff);
std::string StatsText(const v1::GetStatsResponse& stats);

// `decisions --since`: "10m", "2h", "90s", "1d" before `now`, or Unix seconds; empty and
// 0 mean everything, as does a span reaching back before 1970. nullopt: not one of these.
std::optional<int64_t> ParseSince(std::string_view text, int64_t now);

}  // namespace accelpack::cli
