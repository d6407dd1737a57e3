// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/operator_views.h"

#include <fmt/format.h>
#include <google/protobuf/util/json_util.h>
#include <strings.h>

#include <algorithm>
#include <charconv>

#include "accelpack/v1/wire_json.h"
#include "common/strings.h"
#include "engine/explain.h"

namespace accelpack::cli {

namespace {

std::string Utc(int64_t unix_seconds) {
  return unix_seconds <= 0 ? "-" : engine::UtcTime(unix_seconds);
}

bool LooksNumeric(const std::string& cell) {
  return !cell.empty() && cell.find_first_not_of("0123456789.-") == std::string::npos;
}

std::string CodeName(v1::PendingReasonCode code) {
  switch (code) {
    case v1::PENDING_REASON_RESOURCES:
      return "Resources";
    case v1::PENDING_REASON_PRIORITY:
      return "Priority";
    case v1::PENDING_REASON_NEVER_FITS:
      return "NeverFits";
    case v1::PENDING_REASON_TOPOLOGY:
      return "Topology";
    case v1::PENDING_REASON_CYCLE_LIMIT:
      return "CycleLimit";
    default:
      return "-";
  }
}

std::string Milli(double value) { return fmt::format("{:.1f}", value); }

}  // namespace

absl::StatusOr<std::string> Table::Render(const std::string& format, bool header) const {
  std::vector<size_t> picked;
  if (format.empty()) {
    for (size_t c = 0; c < columns_.size(); ++c) picked.push_back(c);
  } else {
    for (const std::string& name : SplitNonEmpty(format, ',')) {
      auto it = std::find_if(columns_.begin(), columns_.end(), [&](const std::string& column) {
        return strcasecmp(column.c_str(), name.c_str()) == 0;
      });
      if (it == columns_.end()) {
        return absl::InvalidArgumentError(
            Cat("--format: unknown column \"", name, "\"; columns: ", Join(columns_, ",")));
      }
      picked.push_back(static_cast<size_t>(it - columns_.begin()));
    }
  }
  std::vector<size_t> width(picked.size(), 0);
  std::vector<bool> numeric(picked.size(), true);
  for (size_t i = 0; i < picked.size(); ++i) {
    if (header) width[i] = columns_[picked[i]].size();
    for (const auto& row : rows_) {
      width[i] = std::max(width[i], row[picked[i]].size());
      numeric[i] = numeric[i] && (LooksNumeric(row[picked[i]]) || row[picked[i]] == "-");
    }
  }
  std::string out;
  auto line = [&](auto cell_of) {
    std::string text;
    for (size_t i = 0; i < picked.size(); ++i) {
      const std::string cell = cell_of(picked[i]);
      const bool last = i + 1 == picked.size();
      if (numeric[i]) {
        text += fmt::format("{:>{}}", cell, width[i]);
      } else {
        text += last ? cell : fmt::format("{:<{}}", cell, width[i]);
      }
      if (!last) text += "  ";
    }
    out += text + "\n";
  };
  if (header) line([&](size_t c) { return columns_[c]; });
  for (const auto& row : rows_) line([&](size_t c) { return row[c]; });
  return out;
}

std::string ToJson(const google::protobuf::Message& message) {
  return wire::ToReadableJson(message);
}

std::string ExplainText(const v1::ExplainResponse& e) {
  std::string out = fmt::format("job {}: {}\n", e.job_id(), e.request());
  out += fmt::format(
      "  queue position   {} of {} (effective priority {:.1f}, Slurm priority {}, class {})\n",
      e.queue_position(), e.queue_length(), e.effective_priority(), e.slurm_priority(),
      e.job_class());
  out += fmt::format("  reason           {}: {}\n", CodeName(e.code()), e.reason());
  if (!e.rejections().empty()) {
    out += fmt::format("  nodes            {} in the cluster; turned down by:\n", e.nodes_total());
    for (const auto& r : e.rejections()) {
      out += fmt::format("    {:>5}  {}{}\n", r.nodes(), r.reason(),
                         r.never() ? "  (never)" : "  (now)");
    }
  }
  if (!e.candidates().empty()) {
    out += "  best candidates  (score per scorer x weight; ignoring reservations)\n";
    for (const auto& c : e.candidates()) {
      std::vector<std::string> parts;
      for (const auto& s : c.scores())
        parts.push_back(fmt::format("{} {:.1f}x{:g}", s.scorer(), s.score(), s.weight()));
      std::vector<std::string> devices;
      for (uint32_t d : c.devices()) devices.push_back(std::to_string(d));
      out += fmt::format("    {:<12} {:<12} devices [{}]  total {:.1f}: {}\n", c.node(),
                         c.kind().empty() ? "-" : c.kind(), Join(devices, ","), c.total(),
                         Join(parts, ", "));
    }
  }
  if (e.has_reservation()) {
    out += fmt::format("  reservation      {} on {}\n", Utc(e.reservation().planned_start_unix()),
                       Join(e.reservation().nodes(), ","));
  }
  out += fmt::format("  what must change {}\n", e.what_must_change());
  out += fmt::format("  (snapshot of {})\n", Utc(e.snapshot_unix()));
  return out;
}

Table NodesTable(const v1::ListNodesResponse& nodes) {
  Table table({"NODE", "STATE", "PARTITIONS", "CPUS(F/T)", "MEM_GB(F/T)", "KIND", "DEVICES", "USED",
               "FREE", "SHARED", "STRANDED", "FRAG"});
  for (const auto& node : nodes.nodes()) {
    const std::string cpus = Cat(node.cpus_free(), "/", node.cpus_total());
    const std::string memory =
        Cat(node.memory_free_mib() / 1024, "/", node.memory_total_mib() / 1024);
    const std::string partitions = Join(node.partitions(), ",");
    if (node.pools().empty()) {
      table.Add({node.name(), node.state(), partitions, cpus, memory, "-", "0", "0", "0", "0",
                 "0.0", "0.0"});
    }
    for (const auto& pool : node.pools()) {
      table.Add({node.name(), node.state(), partitions, cpus, memory, pool.kind(),
                 Cat(pool.devices()), Cat(pool.used()), Cat(pool.free()), Cat(pool.shared()),
                 Milli(pool.stranded()), Milli(pool.fragmentation())});
    }
  }
  return table;
}

Table DecisionsTable(const v1::ListDecisionsResponse& decisions) {
  Table table({"TIME", "CYCLE", "JOB", "WHAT", "DETAIL"});
  for (const auto& d : decisions.decisions()) {
    table.Add({Utc(d.cycle_unix()), Cat(d.cycle()), Cat(d.job_id()), d.what(), d.detail()});
  }
  return table;
}

std::string DiffText(const v1::DiffPolicyResponse& diff) {
  std::string out =
      fmt::format("running policy \"{}\" vs \"{}\" on the snapshot of {}\n", diff.running_policy(),
                  diff.other_policy(), Utc(diff.snapshot_unix()));
  out += fmt::format("starts: {} vs {}\n", diff.starts_running(), diff.starts_other());
  if (diff.starts().empty() && diff.reasons().empty() &&
      std::all_of(diff.kinds().begin(), diff.kinds().end(), [](const auto& k) {
        return k.idle_running() == k.idle_other() && k.stranded_running() == k.stranded_other();
      })) {
    out += "no difference: both policies plan the same starts, idle devices and reasons\n";
  }
  Table kinds({"KIND", "IDLE(RUNNING)", "IDLE(OTHER)", "STRANDED(RUNNING)", "STRANDED(OTHER)"});
  for (const auto& k : diff.kinds()) {
    kinds.Add({k.kind(), Cat(k.idle_running()), Cat(k.idle_other()), Milli(k.stranded_running()),
               Milli(k.stranded_other())});
  }
  out += "\n" + kinds.Render("", true).value();
  if (!diff.starts().empty()) {
    Table starts({"JOB", "RUNNING", "OTHER"});
    for (const auto& s : diff.starts()) {
      starts.Add({Cat(s.job_id()), s.running().empty() ? "(pending)" : s.running(),
                  s.other().empty() ? "(pending)" : s.other()});
    }
    out += "\nstarts that differ:\n" + starts.Render("", true).value();
  }
  if (!diff.reasons().empty()) {
    out += "\nreasons that differ:\n";
    for (const auto& r : diff.reasons()) {
      out += fmt::format("  job {}\n    running: {}\n    other:   {}\n", r.job_id(), r.running(),
                         r.other());
    }
  }
  return out;
}

std::string StatsText(const v1::GetStatsResponse& s) {
  std::string out;
  out += fmt::format("cycles                  {}\n", s.cycles_total());
  out += fmt::format("last cycle              {} ({:.1f} s ago)\n", Utc(s.last_cycle_unix()),
                     s.seconds_since_last_cycle());
  out += fmt::format(
      "core latency (engine)   last {} us, p50 {} us, p99 {} us, max {} us (last 1000 cycles)\n",
      s.last_engine_latency_us(), s.engine_latency_p50_us(), s.engine_latency_p99_us(),
      s.engine_latency_max_us());
  out += fmt::format("core call (whole)       last {} us\n", s.last_cycle_latency_us());
  out += fmt::format("starts planned          {}\n", s.starts_total());
  out += fmt::format("rejected snapshots      {}\n", s.rejected_snapshots_total());
  out += fmt::format("policy reloads          {} ok, {} refused\n", s.policy_reloads_total(),
                     s.policy_reload_failures_total());
  if (s.has_controller_stats()) {
    out += fmt::format("lock hold (controller)  {} us (longest, last cycle)\n",
                       s.controller().lock_hold_us());
    out += fmt::format("snapshot copy           {} us\n", s.controller().snapshot_us());
    out += fmt::format("fallback cycles         {}\n", s.controller().fallback_cycles_total());
    out += fmt::format("dropped decisions       {}\n", s.controller().dropped_decisions_total());
  } else {
    out += "lock hold, fallback cycles, dropped decisions: not reported by the plugin yet\n";
  }
  return out;
}

std::optional<int64_t> ParseSince(std::string_view text, int64_t now) {
  if (text.empty()) return 0;
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end == text.data() || value < 0) return std::nullopt;
  const std::string_view unit(end, static_cast<size_t>(text.data() + text.size() - end));
  if (unit.empty()) return value;
  const int64_t scale = unit == "s"   ? 1
                        : unit == "m" ? 60
                        : unit == "h" ? 3600
                        : unit == "d" ? 86400
                                      : 0;
  if (scale == 0) return std::nullopt;
  // Spans past the epoch mean everything; checked before multiplying, which could overflow.
  if (now <= 0 || value > (now - 1) / scale) return 0;
  return now - value * scale;
}

}  // namespace accelpack::cli
