// Plugins by the names policy files use. To add a scorer, write it beside the
// others and add one line to the table in registry.cc.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/framework.h"

namespace accelpack::policy {

using PluginArgs = std::map<std::string, std::string>;
using ScorerFactory =
    std::function<absl::StatusOr<std::unique_ptr<engine::Scorer>>(const PluginArgs& args)>;

absl::StatusOr<std::unique_ptr<engine::Filter>> MakeFilter(std::string_view name);
absl::StatusOr<std::unique_ptr<engine::Scorer>> MakeScorer(std::string_view name,
                                                           const PluginArgs& args);
std::vector<std::string> FilterNames();
std::vector<std::string> ScorerNames();

// The finite number `text` spells out in full ("1.5", "2e3"), or nothing ("nan", "inf").
std::optional<double> ParseNumber(std::string_view text);

// A number argument of a plugin, or `fallback` when absent.
absl::StatusOr<double> NumberArg(const PluginArgs& args, const std::string& key, double fallback);

}  // namespace accelpack::policy
