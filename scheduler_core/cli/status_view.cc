#include "cli/status_view.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/operator_views.h"

namespace accelpack::cli {

namespace {

double Percent(uint32_t part, uint32_t whole) { return whole == 0 ? 0.0 : 100.0 * part / whole; }

}  // namespace

std::string StatusTable(const v1::GetStatusResponse& status) {
  std::string out =
      fmt::format("accelpackd {}  policy \"{}\"\n", status.version(), status.policy_name());
  if (!status.has_cycle()) {
    out += "no scheduling cycle yet (is the Slurm plugin connected?)\n";
    return out;
  }
  out += fmt::format("last cycle: {} us in the core, {} cycles so far, {} rejected snapshots\n",
                     status.last_cycle_latency_us(), status.cycles_total(),
                     status.rejected_snapshots_total());
  out += fmt::format("nodes: {}   pending jobs: {}   running jobs: {}   started last cycle: {}\n\n",
                     status.nodes(), status.pending_jobs(), status.running_jobs(),
                     status.started_last_cycle());
  return out + KindsTable(status).Render("", true).value();
}

Table KindsTable(const v1::GetStatusResponse& status) {
  Table table({"KIND", "TOTAL", "ALLOCATED", "IDLE", "ALLOC%", "UNUSABLE", "IDLE-WHILE-WANTED"});
  uint32_t total = 0, allocated = 0, idle = 0, unusable = 0, wanted = 0;
  auto add = [&](const std::string& kind, uint32_t t, uint32_t a, uint32_t i, uint32_t u,
                 uint32_t w) {
    table.Add({kind, fmt::format("{}", t), fmt::format("{}", a), fmt::format("{}", i),
               fmt::format("{:.1f}", Percent(a, t)), fmt::format("{}", u), fmt::format("{}", w)});
  };
  for (const auto& kind : status.kinds()) {
    add(kind.kind(), kind.devices_total(), kind.devices_allocated(), kind.devices_idle(),
        kind.devices_unusable(), kind.devices_idle_while_demanded());
    total += kind.devices_total();
    allocated += kind.devices_allocated();
    idle += kind.devices_idle();
    unusable += kind.devices_unusable();
    wanted += kind.devices_idle_while_demanded();
  }
  add("all", total, allocated, idle, unusable, wanted);
  return table;
}

std::string StatusJson(const v1::GetStatusResponse& status) {
  nlohmann::json kinds = nlohmann::json::array();
  for (const auto& kind : status.kinds()) {
    kinds.push_back({{"kind", kind.kind()},
                     {"devices_total", kind.devices_total()},
                     {"devices_allocated", kind.devices_allocated()},
                     {"devices_idle", kind.devices_idle()},
                     {"devices_unusable", kind.devices_unusable()},
                     {"devices_idle_while_demanded", kind.devices_idle_while_demanded()}});
  }
  nlohmann::json json = {{"version", status.version()},
                         {"policy", status.policy_name()},
                         {"has_cycle", status.has_cycle()},
                         {"last_cycle_unix", status.last_cycle_unix()},
                         {"cycles_total", status.cycles_total()},
                         {"last_cycle_latency_us", status.last_cycle_latency_us()},
                         {"rejected_snapshots_total", status.rejected_snapshots_total()},
                         {"nodes", status.nodes()},
                         {"pending_jobs", status.pending_jobs()},
                         {"running_jobs", status.running_jobs()},
                         {"started_last_cycle", status.started_last_cycle()},
                         {"kinds", kinds}};
  // Kind and policy names come from the daemon: bad UTF-8 prints as U+FFFD, no throw.
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace accelpack::cli
