// Reports: CSV and JSON for scripts, one self-contained HTML page with SVG charts
// for people.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "common/strings.h"
#include "sim/sim.h"

namespace accelpack::sim {

namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                    "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};

std::string Color(size_t i) { return kPalette[i % std::size(kPalette)]; }

std::string Escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

absl::Status WriteFile(const std::filesystem::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return absl::UnavailableError(Cat(path.string(), ": cannot write"));
  return absl::OkStatus();
}

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;
  // Optional, per point: the spread over seeds (min, max), drawn as a band.
  std::vector<std::pair<double, double>> spread;
  // Optional: reference values (x, y) drawn as open circles in the series' colour.
  std::vector<std::pair<double, double>> marks;
};

// The static charts start at this arrived load (% of GPUs).
constexpr double kChartFromLoad = 95;

// A step of 1, 2 or 5 x 10^k giving about `ticks` intervals over `span`.
double NiceStep(double span, int ticks) {
  const double raw = span / ticks;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

// An axis label without exponents: 20,000 rather than 2e+04.
std::string TickLabel(double v) {
  if (std::abs(v) < 1000 || v != std::floor(v)) return fmt::format("{:g}", v);
  std::string digits = fmt::format("{:.0f}", std::abs(v));
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3)
    digits.insert(static_cast<size_t>(i), ",");
  return (v < 0 ? "-" : "") + digits;
}

// How a line chart's y-axis starts: at 0, or zoomed to the data (from an even tick
// below its lowest value), so that small differences between series show.
enum class YAxis { kFromZero, kZoomed };

// A line chart as inline SVG; x spans the data; ticks at even values.
std::string LineChart(std::string_view title, std::string_view x_label, std::string_view y_label,
                      const std::vector<Series>& series, YAxis y_axis = YAxis::kFromZero) {
  constexpr double kW = 640, kH = 320, kL = 56, kR = 150, kT = 28, kB = 40;
  double x_min = 1e300, x_max = -1e300, y_max = 0, y_low = 1e300;
  for (const auto& s : series) {
    for (const auto& [x, y] : s.points) {
      x_min = std::min(x_min, x);
      x_max = std::max(x_max, x);
    }
  }
  for (const auto& s : series) {
    for (const auto& [x, y] : s.points) {
      y_max = std::max(y_max, y);
      y_low = std::min(y_low, y);
    }
    for (const auto& [low, high] : s.spread) {
      y_max = std::max(y_max, high);
      y_low = std::min(y_low, low);
    }
    for (const auto& [x, y] : s.marks) {
      if (x < x_min || x > x_max) continue;
      y_max = std::max(y_max, y);
      y_low = std::min(y_low, y);
    }
  }
  if (x_min > x_max) x_min = 0, x_max = 1;
  if (x_max == x_min) x_max = x_min + 1;
  if (y_max <= 0) y_max = 1;
  double y_min = 0;
  double y_step = NiceStep(y_max, 5);
  if (y_axis == YAxis::kZoomed && y_low < y_max) {
    y_step = NiceStep(y_max - y_low, 5);
    y_min = std::max(0.0, std::floor(y_low / y_step) * y_step);
  }
  y_max = std::ceil(y_max / y_step) * y_step;
  if (y_max <= y_min) y_max = y_min + y_step;
  double x_step = NiceStep(x_max - x_min, 5);
  // Whole-number x (seeds, loads) gets no ticks between them: there is no seed 1.5.
  bool whole_x = true;
  for (const auto& s : series)
    for (const auto& [x, y] : s.points) whole_x = whole_x && x == std::floor(x);
  if (whole_x) x_step = std::max(1.0, x_step);
  const double pw = kW - kL - kR, ph = kH - kT - kB;
  auto sx = [&](double x) { return kL + (x - x_min) / (x_max - x_min) * pw; };
  auto sy = [&](double y) { return kT + ph - (y - y_min) / (y_max - y_min) * ph; };
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-family='sans-serif' "
      "font-size='11'><text x='{}' y='16' font-size='13' font-weight='bold'>{}</text>",
      kW, kH, kL, Escape(title));
  for (double y = y_min; y <= y_max + 1e-9; y += y_step) {
    svg += fmt::format("<line x1='{:.1f}' x2='{:.1f}' y1='{:.1f}' y2='{:.1f}' stroke='#ddd'/>", kL,
                       kL + pw, sy(y), sy(y));
    svg += fmt::format("<text x='{:.1f}' y='{:.1f}' text-anchor='end'>{}</text>", kL - 4, sy(y) + 4,
                       TickLabel(y));
  }
  for (double x = std::ceil(x_min / x_step) * x_step; x <= x_max + 1e-9; x += x_step) {
    svg += fmt::format("<text x='{:.1f}' y='{:.1f}' text-anchor='middle'>{:g}</text>", sx(x),
                       kT + ph + 14, x);
  }
  svg += fmt::format("<rect x='{}' y='{}' width='{}' height='{}' fill='none' stroke='#888'/>", kL,
                     kT, pw, ph);
  svg += fmt::format("<text x='{:.1f}' y='{:.1f}' text-anchor='middle'>{}</text>", kL + pw / 2,
                     kH - 6, Escape(x_label));
  svg += fmt::format(
      "<text transform='translate(14,{:.1f}) rotate(-90)' text-anchor='middle'>{}</text>",
      kT + ph / 2, Escape(y_label));
  for (size_t i = 0; i < series.size(); ++i) {
    const Series& s = series[i];
    if (s.spread.size() == s.points.size() && !s.points.empty()) {
      std::string band;
      for (size_t k = 0; k < s.points.size(); ++k) {
        band += fmt::format("{}{:.1f},{:.1f}", band.empty() ? "M" : " L", sx(s.points[k].first),
                            sy(s.spread[k].second));
      }
      for (size_t k = s.points.size(); k-- > 0;) {
        band += fmt::format(" L{:.1f},{:.1f}", sx(s.points[k].first), sy(s.spread[k].first));
      }
      svg += fmt::format("<path d='{} Z' fill='{}' fill-opacity='0.15' stroke='none'/>", band,
                         Color(i));
    }
    std::string path;
    for (const auto& [x, y] : s.points) {
      path += fmt::format("{}{:.1f},{:.1f}", path.empty() ? "M" : " L", sx(x), sy(y));
    }
    svg += fmt::format("<path d='{}' fill='none' stroke='{}' stroke-width='1.6'/>", path, Color(i));
    for (const auto& [x, y] : s.marks) {
      if (x < x_min || x > x_max) continue;
      svg += fmt::format(
          "<circle cx='{:.1f}' cy='{:.1f}' r='3.5' fill='white' stroke='{}' stroke-width='1.6'/>",
          sx(x), sy(y), Color(i));
    }
    const double ly = kT + 12 + 16.0 * static_cast<double>(i);
    svg += fmt::format(
        "<line x1='{:.1f}' x2='{:.1f}' y1='{:.1f}' y2='{:.1f}' stroke='{}' stroke-width='3'/>",
        kL + pw + 10, kL + pw + 28, ly - 4, ly - 4, Color(i));
    svg += fmt::format("<text x='{:.1f}' y='{:.1f}'>{}</text>", kL + pw + 32, ly, Escape(s.name));
  }
  return svg + "</svg>";
}

// Grouped bars: one group per category, one bar per series.
std::string BarChart(std::string_view title, std::string_view y_label,
                     const std::vector<std::string>& categories,
                     const std::vector<std::pair<std::string, std::vector<double>>>& series) {
  constexpr double kW = 640, kH = 300, kL = 64, kR = 150, kT = 28, kB = 40;
  double y_max = 0;
  for (const auto& s : series) {
    for (double v : s.second) y_max = std::max(y_max, v);
  }
  if (y_max <= 0) y_max = 1;
  const double y_step = NiceStep(y_max, 4);
  y_max = std::ceil(y_max / y_step) * y_step;
  const double pw = kW - kL - kR, ph = kH - kT - kB;
  const double group = pw / static_cast<double>(std::max<size_t>(1, categories.size()));
  const double bar = group * 0.8 / static_cast<double>(std::max<size_t>(1, series.size()));
  std::string svg = fmt::format(
      "<svg xmlns='http://www.w3.org/2000/svg' width='{}' height='{}' font-family='sans-serif' "
      "font-size='11'><text x='{}' y='16' font-size='13' font-weight='bold'>{}</text>",
      kW, kH, kL, Escape(title));
  for (double v = 0; v <= y_max + 1e-9; v += y_step) {
    const double y = kT + ph - v / y_max * ph;
    svg += fmt::format("<line x1='{:.1f}' x2='{:.1f}' y1='{:.1f}' y2='{:.1f}' stroke='#ddd'/>", kL,
                       kL + pw, y, y);
    svg += fmt::format("<text x='{:.1f}' y='{:.1f}' text-anchor='end'>{}</text>", kL - 4, y + 4,
                       TickLabel(v));
  }
  svg += fmt::format(
      "<text transform='translate(14,{:.1f}) rotate(-90)' text-anchor='middle'>{}</text>",
      kT + ph / 2, Escape(y_label));
  for (size_t c = 0; c < categories.size(); ++c) {
    const double gx = kL + group * static_cast<double>(c) + group * 0.1;
    for (size_t s = 0; s < series.size(); ++s) {
      const double v = c < series[s].second.size() ? series[s].second[c] : 0;
      const double h = v / y_max * ph;
      svg += fmt::format(
          "<rect x='{:.1f}' y='{:.1f}' width='{:.1f}' height='{:.1f}' fill='{}'><title>{}: "
          "{:.1f}</title></rect>",
          gx + bar * static_cast<double>(s), kT + ph - h, bar * 0.95, h, Color(s),
          Escape(series[s].first), v);
    }
    svg += fmt::format("<text x='{:.1f}' y='{:.1f}' text-anchor='middle'>{}</text>",
                       gx + group * 0.4, kT + ph + 14, Escape(categories[c]));
  }
  for (size_t s = 0; s < series.size(); ++s) {
    const double ly = kT + 12 + 16.0 * static_cast<double>(s);
    svg += fmt::format(
        "<rect x='{:.1f}' y='{:.1f}' width='14' height='8' fill='{}'/><text x='{:.1f}' "
        "y='{:.1f}'>{}</text>",
        kL + pw + 10, ly - 8, Color(s), kL + pw + 28, ly, Escape(series[s].first));
  }
  return svg + "</svg>";
}

std::string Page(std::string_view title, std::string_view body) {
  return fmt::format(
      "<!DOCTYPE html><html><head><meta charset='utf-8'><title>{0}</title><style>"
      "body{{font-family:sans-serif;margin:24px;max-width:1400px}}"
      "table{{border-collapse:collapse;margin:8px 0 24px}}td,th{{border:1px solid #ccc;padding:3px "
      "8px;"
      "text-align:right}}th{{background:#f3f3f3}}td.l,th.l{{text-align:left}}.miss{{background:#"
      "fde0e0}}"
      ".charts{{display:flex;flex-wrap:wrap;gap:12px}}</style></head><body><h1>{0}</h1>{1}</body></"
      "html>",
      Escape(title), body);
}

std::string Num(double v, int digits = 2) { return fmt::format("{:.{}f}", v, digits); }

}  // namespace

double Median(std::vector<double> values) { return Percentile(std::move(values), 50); }

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  // Linear interpolation between closest ranks (p50 of an even count is the mean of the middle
  // two).
  const double rank = p / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(rank));
  const size_t hi = std::min(values.size() - 1, lo + 1);
  const double part = rank - static_cast<double>(lo);
  // Exactly on a rank, or equal neighbours: that value (also when it is infinite).
  if (part == 0 || values[hi] == values[lo]) return values[lo];
  return values[lo] + (values[hi] - values[lo]) * part;
}

std::string ReferenceLabel(std::string_view preset) {
  static const std::map<std::string, std::string, std::less<>> kLabels = {
      {"random", "Random"},         {"dotprod", "DotProd"}, {"gpuclustering", "GpuClustering"},
      {"gpupacking", "GpuPacking"}, {"bestfit", "BestFit"}, {"fgd", "FGD"}};
  auto it = kLabels.find(preset);
  return it == kLabels.end() ? "" : it->second;
}

Reference ReferenceFrom(const std::vector<ReferenceRow>& rows) {
  Reference ref;
  for (const auto& row : rows) {
    for (const auto& [label, value] : row.unallocated_pct)
      ref.values[{row.workload, row.arrived_pct, label}] = value;
  }
  return ref;
}

absl::Status WriteStaticReport(const std::string& dir, const std::vector<StaticRun>& runs,
                               const Reference& reference, const StaticInputs& inputs,
                               const std::map<std::string, double>& bounds) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(Cat(dir, ": ", ec.message()));
  std::string runs_csv =
      "workload,policy,seed,arrived_pct,unallocated_pct,frag_amount_gpus,frag_rate_pct,placed,"
      "skipped,tasks,seconds\n";
  // (workload, policy) -> runs, in first-seen order.
  std::vector<std::string> workloads, policies;
  std::map<std::pair<std::string, std::string>, std::vector<const StaticRun*>> groups;
  for (const StaticRun& run : runs) {
    if (std::find(workloads.begin(), workloads.end(), run.workload) == workloads.end())
      workloads.push_back(run.workload);
    if (std::find(policies.begin(), policies.end(), run.policy) == policies.end())
      policies.push_back(run.policy);
    groups[{run.workload, run.policy}].push_back(&run);
    for (const StaticPoint& p : run.points) {
      runs_csv +=
          fmt::format("{},{},{},{:.0f},{:.4f},{:.3f},{:.4f},{},{},{},{:.3f}\n", run.workload,
                      run.policy, run.seed, p.arrived_pct, p.unallocated_pct, p.frag_amount_gpus,
                      p.frag_rate_pct, p.placed, p.skipped, run.tasks, run.seconds);
    }
  }
  nlohmann::json json;
  json["runs"] = nlohmann::json::array();
  for (const StaticRun& run : runs) {
    nlohmann::json r = {{"workload", run.workload},
                        {"policy", run.policy},
                        {"seed", run.seed},
                        {"tasks", run.tasks},
                        {"seconds", run.seconds}};
    for (const StaticPoint& p : run.points) {
      r["points"].push_back({{"arrived_pct", p.arrived_pct},
                             {"unallocated_pct", p.unallocated_pct},
                             {"frag_amount_gpus", p.frag_amount_gpus},
                             {"frag_rate_pct", p.frag_rate_pct},
                             {"placed", p.placed},
                             {"skipped", p.skipped}});
    }
    json["runs"].push_back(std::move(r));
  }
  std::string summary_csv =
      "workload,policy,arrived_pct,median_unallocated_pct,published_pct,delta_pp,median_frag_rate_"
      "pct,"
      "median_frag_amount_gpus,seeds,median_seconds\n";
  std::set<uint64_t> seeds;
  for (const StaticRun& run : runs) seeds.insert(run.seed);
  std::vector<std::string> seed_names;
  for (uint64_t seed : seeds) seed_names.push_back(std::to_string(seed));
  std::string body = fmt::format(
      "<p>FGD protocol (ATC'23): the pod list tuned to {:g}x the cluster's GPUs as the "
      "artifact does (every pod once, then random removals or draws), shuffled, placed one by "
      "one, none leaving. Medians over seeds {}; <i>published</i> is the paper artifact's "
      "median (fgd_reference_unallocated.csv). <span class='miss'>Red</span>: more than 1 "
      "point from the published median. Fragmentation rate and amount (GPUs) at 100 % use "
      "the workload's typical shapes.</p>"
      "<p>Inputs: nodes {}; pods {}; published medians {}. Baselines' order among equal "
      "scores (tie-break): {}.</p>{}",
      inputs.max_load, Escape(Join(seed_names, ", ")),
      Escape(inputs.node_file.empty() ? "(not given)" : inputs.node_file),
      Escape(inputs.pod_files.empty() ? "(not given)" : Join(inputs.pod_files, ", ")),
      Escape(inputs.reference_file.empty() ? "none" : inputs.reference_file),
      Escape(inputs.tie_break),
      bounds.empty() ? ""
                     : "<p><i>Above the bound</i>: the policy's median at 100 % minus the LP "
                       "lower bound on what any policy leaves unallocated with the same "
                       "arrived tasks (<code>accelpack-sim bound</code>, median over the same "
                       "seeds): how much is left to gain at most.</p>");
  json["summary"] = nlohmann::json::array();
  for (const std::string& workload : workloads) {
    std::set<double> loads;
    for (const std::string& policy : policies) {
      for (const StaticRun* run : groups[{workload, policy}]) {
        for (const auto& p : run->points) loads.insert(p.arrived_pct);
      }
    }
    std::string table = "<table><tr><th class='l'>policy</th>";
    for (double load : loads) table += fmt::format("<th>{:.0f}% ours</th><th>published</th>", load);
    const auto bound = bounds.find(workload);
    const bool has_bound = bound != bounds.end();
    if (has_bound) table += "<th>above the bound @100%</th>";
    table += "<th>frag rate @100%</th><th>frag amount @100% (GPUs)</th><th>s/run</th></tr>";
    std::vector<Series> curves;
    for (const std::string& policy : policies) {
      const auto& group = groups[{workload, policy}];
      if (group.empty()) continue;
      table += fmt::format("<tr><td class='l'>{}</td>", Escape(policy));
      double frag100 = 0;
      double frag_amount100 = 0;
      std::optional<double> ours100;  // none when the runs stop short of 100 %
      std::vector<double> seconds;
      for (const StaticRun* run : group) seconds.push_back(run->seconds);
      for (double load : loads) {
        std::vector<double> unalloc, rate, amount;
        for (const StaticRun* run : group) {
          for (const auto& p : run->points) {
            if (p.arrived_pct != load) continue;
            unalloc.push_back(p.unallocated_pct);
            rate.push_back(p.frag_rate_pct);
            amount.push_back(p.frag_amount_gpus);
          }
        }
        const double ours = Median(unalloc);
        if (load == 100) {
          ours100 = ours;
          frag100 = Median(rate);
          frag_amount100 = Median(amount);
        }
        const std::string label = ReferenceLabel(policy);
        auto it = reference.values.find({workload, static_cast<int>(std::lround(load)), label});
        const bool has_ref = it != reference.values.end();
        const double published = has_ref ? it->second : 0;
        summary_csv += fmt::format("{},{},{:.0f},{:.3f},{},{},{:.3f},{:.2f},{},{:.3f}\n", workload,
                                   policy, load, ours, has_ref ? Num(published) : "",
                                   has_ref ? Num(ours - published) : "", Median(rate),
                                   Median(amount), unalloc.size(), Median(seconds));
        json["summary"].push_back(
            {{"workload", workload},
             {"policy", policy},
             {"arrived_pct", load},
             {"median_unallocated_pct", ours},
             {"published_pct", has_ref ? nlohmann::json(published) : nlohmann::json()},
             {"median_frag_rate_pct", Median(rate)},
             {"median_frag_amount_gpus", Median(amount)},
             {"seeds", unalloc.size()}});
        const bool miss = has_ref && std::abs(ours - published) > 1.0;
        table += fmt::format("<td{}>{}</td><td>{}</td>", miss ? " class='miss'" : "", Num(ours),
                             has_ref ? Num(published) : "&ndash;");
      }
      if (has_bound) {
        table += fmt::format("<td>{}</td>",
                             ours100 ? Num(*ours100 - bound->second) : std::string("&ndash;"));
      }
      table += fmt::format("<td>{}%</td><td>{}</td><td>{}</td></tr>", Num(frag100, 1),
                           Num(frag_amount100, 1), Num(Median(seconds), 2));
      // Median curve over seeds, point by point (every run samples the same load grid),
      // with the min-max band over seeds; from 95 % arrived, where policies begin to
      // differ (below it every policy places all that arrived).
      size_t length = SIZE_MAX;
      for (const StaticRun* run : group) length = std::min(length, run->curve.size());
      Series series{policy, {}, {}, {}};
      for (size_t i = 0; i < length; ++i) {
        std::vector<double> ys;
        for (const StaticRun* run : group) ys.push_back(run->curve[i].second);
        if (group.front()->curve[i].first < kChartFromLoad) continue;
        series.points.emplace_back(group.front()->curve[i].first, Median(ys));
        series.spread.emplace_back(*std::min_element(ys.begin(), ys.end()),
                                   *std::max_element(ys.begin(), ys.end()));
      }
      for (double load : loads) {
        auto it = reference.values.find(
            {workload, static_cast<int>(std::lround(load)), ReferenceLabel(policy)});
        if (it != reference.values.end()) series.marks.emplace_back(load, it->second);
      }
      curves.push_back(std::move(series));
    }
    if (has_bound) {
      table += "<tr><td class='l'>lower bound (LP)</td>";
      for (double load : loads) {
        table += load == 100 ? fmt::format("<td>{}</td><td>&ndash;</td>", Num(bound->second))
                             : "<td>&ndash;</td><td>&ndash;</td>";
      }
      table += "<td>0.00</td><td>&ndash;</td><td>&ndash;</td><td>&ndash;</td></tr>";
      summary_csv +=
          fmt::format("{},lower-bound,100,{:.3f},,,,,{},\n", workload, bound->second, seeds.size());
      json["bounds"][workload] = bound->second;
    }
    table += "</table>";
    body += fmt::format("<h2>{}</h2><div class='charts'>{}</div>{}", Escape(workload),
                        LineChart(Cat("unallocated GPU % vs arrived load: ", workload),
                                  "arrived load (% of GPUs); band: min-max over seeds; "
                                  "circles: published medians",
                                  "unallocated GPU %", curves, YAxis::kZoomed),
                        table);
  }
  for (auto status : {WriteFile(std::filesystem::path(dir) / "static_runs.csv", runs_csv),
                      WriteFile(std::filesystem::path(dir) / "static_summary.csv", summary_csv),
                      WriteFile(std::filesystem::path(dir) / "static.json", json.dump(1)),
                      WriteFile(std::filesystem::path(dir) / "static.html",
                                Page("accelpack-sim: static placement (FGD protocol)", body))}) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

namespace {

// Per class and cause, each policy's count of jobs that waited kLongWaitS or more with
// that cause in the reason that kept them waiting last; within a class the causes
// with the most jobs over all policies first.
std::string CausesTable(
    const std::vector<std::pair<std::string, const WaitCauseCounts*>>& policies) {
  std::map<std::pair<std::string, std::string>, int64_t> totals;
  for (const auto& [policy, counts] : policies)
    for (const auto& [cls, causes] : *counts)
      for (const auto& [cause, jobs] : causes) totals[{cls, cause}] += jobs;
  std::vector<std::pair<std::pair<std::string, std::string>, int64_t>> rows(totals.begin(),
                                                                            totals.end());
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.first.first != b.first.first ? a.first.first < b.first.first : a.second > b.second;
  });
  std::string table = "<table><tr><th class='l'>class</th><th class='l'>cause</th>";
  for (const auto& [policy, counts] : policies) table += fmt::format("<th>{}</th>", Escape(policy));
  table += "</tr>";
  for (const auto& [key, total] : rows) {
    table += fmt::format("<tr><td class='l'>{}</td><td class='l'>{}</td>", Escape(key.first),
                         Escape(key.second));
    for (const auto& [policy, counts] : policies) {
      int64_t jobs = 0;
      if (auto c = counts->find(key.first); c != counts->end()) {
        if (auto it = c->second.find(key.second); it != c->second.end()) jobs = it->second;
      }
      table += fmt::format("<td>{}</td>", jobs);
    }
    table += "</tr>";
  }
  return table + "</table>";
}

}  // namespace

absl::Status WriteDynamicReport(const std::string& dir, const Workload& workload,
                                const DynamicOptions& options,
                                const std::vector<DynamicResult>& results) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(Cat(dir, ": ", ec.message()));
  std::set<std::string> kinds, classes;
  for (const auto& r : results) {
    for (const auto& [k, v] : r.allocation_by_kind) kinds.insert(k);
    for (const auto& [c, v] : r.by_class) classes.insert(c);
  }
  std::string csv =
      "policy,allocation_rate,longest_wait_s,makespan_s,unfinished,killed_at_limit,cycles,cycle_"
      "p50_ms,cycle_p99_ms";
  for (const auto& k : kinds)
    csv += Cat(",alloc_", k, ",idle_demanded_h_", k, ",idle_held_h_", k, ",idle_fitting_h_", k,
               ",idle_gang_wait_h_", k, ",idle_gang_short_h_", k);
  for (const auto& c : classes)
    csv += Cat(",wait_p50_s_", c, ",wait_p99_s_", c, ",jct_p50_s_", c, ",jct_mean_s_", c);
  csv += "\n";
  nlohmann::json json;
  json["generator"] = workload.choices;
  json["jobs"] = workload.jobs.size();
  nlohmann::json cluster = nlohmann::json::array();
  for (const auto& g : options.cluster) {
    cluster.push_back({{"kind", g.kind},
                       {"gres_type", g.gres_type},
                       {"nodes", g.nodes},
                       {"devices", g.devices},
                       {"cpus", g.cpus},
                       {"memory_mib", g.memory_mib}});
  }
  json["cluster"] = cluster;
  json["speed"] = options.speed;
  std::string table = "<table><tr><th class='l'>measure</th>";
  for (const auto& r : results) table += fmt::format("<th>{}</th>", Escape(r.policy));
  table += "</tr>";
  std::vector<std::pair<std::string, std::vector<std::string>>> rows;
  auto add_row = [&](std::string name, auto value) {
    std::vector<std::string> cells;
    for (const auto& r : results) cells.push_back(value(r));
    rows.emplace_back(std::move(name), std::move(cells));
  };
  add_row("allocation rate",
          [](const DynamicResult& r) { return Num(100 * r.allocation_rate, 1) + "%"; });
  for (const auto& k : kinds) {
    add_row(Cat("allocation rate ", k), [&](const DynamicResult& r) {
      auto it = r.allocation_by_kind.find(k);
      return it == r.allocation_by_kind.end() ? std::string("-") : Num(100 * it->second, 1) + "%";
    });
    using PerKind = std::map<std::string, double> DynamicResult::*;
    auto hours = [&k](PerKind field) {
      return [&k, field](const DynamicResult& r) {
        auto it = (r.*field).find(k);
        return it == (r.*field).end() ? std::string("-") : Num(it->second, 1);
      };
    };
    add_row(Cat("idle while demanded ", k, " (device-h)"), hours(&DynamicResult::idle_demanded_h));
    // Where it was (the same split as dynamic.csv); the last row cuts across the others.
    add_row("\u2003on held nodes", hours(&DynamicResult::idle_held_h));
    add_row("\u2003elsewhere, where a pending request fits", hours(&DynamicResult::idle_fitting_h));
    add_row("\u2003while only gangs short of nodes wait", hours(&DynamicResult::idle_gang_wait_h));
    add_row("\u2003\u2003of it, too few devices free for any of them",
            hours(&DynamicResult::idle_gang_short_h));
  }
  for (const auto& c : classes) {
    auto stat = [&](auto field, double scale) {
      return [&, field, scale](const DynamicResult& r) {
        auto it = r.by_class.find(c);
        return it == r.by_class.end() ? std::string("-") : Num(it->second.*field / scale, 2);
      };
    };
    add_row(Cat("wait p50 ", c, " (min)"), stat(&ClassStats::wait_p50_s, 60));
    add_row(Cat("wait p99 ", c, " (min)"), stat(&ClassStats::wait_p99_s, 60));
    add_row(Cat("JCT p50 ", c, " (h)"), stat(&ClassStats::jct_p50_s, 3600));
    add_row(Cat("JCT mean ", c, " (h)"), stat(&ClassStats::jct_mean_s, 3600));
  }
  add_row("longest wait (h)",
          [](const DynamicResult& r) { return Num(r.longest_wait_s / 3600, 2); });
  add_row("makespan (h)", [](const DynamicResult& r) { return Num(r.makespan_s / 3600, 2); });
  add_row("unfinished jobs", [](const DynamicResult& r) { return std::to_string(r.unfinished); });
  add_row("killed at time limit",
          [](const DynamicResult& r) { return std::to_string(r.killed_at_limit); });
  add_row("engine cycle p50 / p99 (ms)", [](const DynamicResult& r) {
    return Num(r.cycle_p50_ms, 2) + " / " + Num(r.cycle_p99_ms, 2);
  });
  for (const auto& [name, cells] : rows) {
    table += fmt::format("<tr><td class='l'>{}</td>", Escape(name));
    for (const auto& cell : cells) table += fmt::format("<td>{}</td>", cell);
    table += "</tr>";
  }
  table += "</table>";

  std::vector<Series> util, queue;
  std::vector<std::pair<std::string, std::vector<double>>> idle_bars;
  const std::vector<std::string> kind_list(kinds.begin(), kinds.end());
  for (const auto& r : results) {
    csv += fmt::format("{},{:.5f},{:.0f},{:.0f},{},{},{},{:.3f},{:.3f}", r.policy,
                       r.allocation_rate, r.longest_wait_s, r.makespan_s, r.unfinished,
                       r.killed_at_limit, r.cycles, r.cycle_p50_ms, r.cycle_p99_ms);
    nlohmann::json jr = {{"policy", r.policy},
                         {"allocation_rate", r.allocation_rate},
                         {"allocation_by_kind", r.allocation_by_kind},
                         {"idle_demanded_device_h", r.idle_demanded_h},
                         {"idle_held_device_h", r.idle_held_h},
                         {"idle_fitting_device_h", r.idle_fitting_h},
                         {"idle_gang_wait_device_h", r.idle_gang_wait_h},
                         {"idle_gang_short_device_h", r.idle_gang_short_h},
                         {"long_wait_causes", r.long_wait_causes},
                         {"longest_wait_s", r.longest_wait_s},
                         {"makespan_s", r.makespan_s},
                         {"unfinished", r.unfinished},
                         {"killed_at_limit", r.killed_at_limit},
                         {"cycles", r.cycles},
                         {"cycle_p50_ms", r.cycle_p50_ms},
                         {"cycle_p99_ms", r.cycle_p99_ms}};
    for (const auto& k : kinds) {
      auto of = [&](const std::map<std::string, double>& m) {
        auto it = m.find(k);
        return it == m.end() ? 0.0 : it->second;
      };
      csv += fmt::format(",{:.5f},{:.2f},{:.2f},{:.2f},{:.2f},{:.2f}", of(r.allocation_by_kind),
                         of(r.idle_demanded_h), of(r.idle_held_h), of(r.idle_fitting_h),
                         of(r.idle_gang_wait_h), of(r.idle_gang_short_h));
    }
    for (const auto& c : classes) {
      const ClassStats s = r.by_class.count(c) ? r.by_class.at(c) : ClassStats{};
      csv += fmt::format(",{:.0f},{:.0f},{:.0f},{:.0f}", s.wait_p50_s, s.wait_p99_s, s.jct_p50_s,
                         s.jct_mean_s);
      jr["classes"][c] = {{"jobs", s.jobs},
                          {"started", s.started},
                          {"wait_mean_s", s.wait_mean_s},
                          {"wait_p50_s", s.wait_p50_s},
                          {"wait_p99_s", s.wait_p99_s},
                          {"jct_mean_s", s.jct_mean_s},
                          {"jct_p50_s", s.jct_p50_s},
                          {"jct_p99_s", s.jct_p99_s}};
    }
    csv += "\n";
    Series total{r.policy, {}, {}, {}}, q{r.policy, {}, {}, {}};
    for (const auto& p : r.series) {
      double devices = 0, used = 0;
      for (const auto& g : options.cluster) {
        devices += g.nodes * g.devices;
        auto it = p.utilization.find(g.kind);
        if (it != p.utilization.end()) used += it->second * g.nodes * g.devices;
      }
      total.points.emplace_back(p.t_h, devices > 0 ? 100 * used / devices : 0);
      q.points.emplace_back(p.t_h, static_cast<double>(p.queued));
      jr["series"].push_back(
          {{"t_h", p.t_h}, {"utilization", p.utilization}, {"queued", p.queued}});
    }
    util.push_back(std::move(total));
    queue.push_back(std::move(q));
    std::vector<double> idle;
    for (const auto& k : kind_list)
      idle.push_back(r.idle_demanded_h.count(k) ? r.idle_demanded_h.at(k) : 0.0);
    idle_bars.emplace_back(r.policy, std::move(idle));
    json["results"].push_back(std::move(jr));
  }
  std::vector<std::pair<std::string, const WaitCauseCounts*>> causes;
  for (const auto& r : results) causes.emplace_back(r.policy, &r.long_wait_causes);
  const std::string causes_table = CausesTable(causes);
  std::string choices = "<table>";
  for (const auto& [k, v] : workload.choices) {
    choices +=
        fmt::format("<tr><td class='l'>{}</td><td class='l'>{}</td></tr>", Escape(k), Escape(v));
  }
  choices += "</table>";
  const std::string body = fmt::format(
      "<div class='charts'>{}{}{}</div><h2>Measures</h2>{}"
      "<h2>Why jobs waited a minute or more</h2><p>Jobs that waited {} s or more (or never "
      "started), by the causes in the engine's reason in the last cycle each waited "
      "(<code>wait_reason</code> in <code>dynamic_outcomes.csv</code>); a job counts once "
      "under each cause its reason names; the reason names every node that turned the job "
      "down, so causes that say where it may never run (such as no allowed accelerator "
      "type, for pinned work) are counted too.</p>{}<h2>Workload generator</h2>{}",
      LineChart("allocated devices over time", "time (h)", "allocated %", util),
      LineChart("queue length over time", "time (h)", "pending jobs", queue),
      BarChart("idle while demanded, per kind", "device-hours", kind_list, idle_bars), table,
      kLongWaitS, causes_table, choices);
  std::string jobs_csv =
      "id,source,class,submit_s,base_duration_s,time_limit_s,nodes,devices_per_node,fraction_milli,"
      "cpus_milli,memory_mib,allowed_types\n";
  for (const SimJob& j : workload.jobs) {
    jobs_csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{}\n", j.id, j.source,
                            model::JobClassName(j.job_class), j.submit, j.base_duration,
                            j.time_limit, j.nodes, j.devices_per_node, j.fraction_milli,
                            j.cpus_per_node, j.memory_mib, Join(j.allowed_types, "|"));
  }
  // Each policy's start, end and nodes per job, to follow one job through the replay.
  std::map<uint32_t, const SimJob*> by_id;
  for (const SimJob& j : workload.jobs) by_id[j.id] = &j;
  std::string outcomes_csv =
      "policy,id,source,class,submit_s,wait_s,start_s,end_s,kind,nodes,wait_reason\n";
  auto quoted = [](std::string_view text) {
    std::string out = "\"";
    for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
  };
  for (const auto& r : results) {
    for (const JobOutcome& o : r.outcomes) {
      const auto job = by_id.find(o.id);
      if (job == by_id.end()) continue;
      const SimJob& j = *job->second;
      const bool started = o.first_start_s >= 0;
      outcomes_csv += fmt::format(
          "{},{},{},{},{},{},{},{},{},{},{}\n", r.policy, o.id, j.source,
          model::JobClassName(j.job_class), j.submit,
          started ? std::to_string(o.first_start_s - j.submit) : std::string(),
          started ? std::to_string(o.first_start_s) : std::string(),
          o.end_s >= 0 ? std::to_string(o.end_s) : std::string(), o.kind, Join(o.nodes, "|"),
          o.wait_reason.empty() ? std::string() : quoted(o.wait_reason));
    }
  }
  for (auto status : {WriteFile(std::filesystem::path(dir) / "dynamic.csv", csv),
                      WriteFile(std::filesystem::path(dir) / "dynamic_jobs.csv", jobs_csv),
                      WriteFile(std::filesystem::path(dir) / "dynamic_outcomes.csv", outcomes_csv),
                      WriteFile(std::filesystem::path(dir) / "dynamic.json", json.dump(1)),
                      WriteFile(std::filesystem::path(dir) / "dynamic.html",
                                Page("accelpack-sim: dynamic replay", body))}) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

namespace {

double AllKinds(const std::map<std::string, double>& hours_by_kind) {
  double total = 0;
  for (const auto& [kind, hours] : hours_by_kind) total += hours;
  return total;
}

double IdleDemanded(const DynamicResult& r) { return AllKinds(r.idle_demanded_h); }

Spread SpreadOf(const std::vector<double>& values) {
  if (values.empty()) return {};
  const auto [low, high] = std::minmax_element(values.begin(), values.end());
  return {Median(values), *low, *high};
}

nlohmann::json SpreadJson(const Spread& s) {
  return {{"median", s.median}, {"min", s.min}, {"max", s.max}};
}

std::string SpreadText(const Spread& s, double scale, int digits) {
  return fmt::format("{} [{}\u2013{}]", Num(s.median / scale, digits), Num(s.min / scale, digits),
                     Num(s.max / scale, digits));
}

}  // namespace

absl::StatusOr<std::vector<SeedSummary>> SummariseSeeds(const std::vector<SeedResults>& runs,
                                                        double p99_slack_s) {
  if (runs.empty()) return std::vector<SeedSummary>{};
  const std::vector<DynamicResult>& first_run = runs.front().results;
  for (const SeedResults& run : runs) {
    bool same = run.results.size() == first_run.size();
    for (size_t p = 0; same && p < first_run.size(); ++p)
      same = run.results[p].policy == first_run[p].policy;
    if (!same) {
      return absl::InvalidArgumentError(
          Cat("seed ", run.seed, ": not the policies of seed ", runs.front().seed));
    }
  }
  std::vector<SeedSummary> out;
  for (size_t p = 0; p < first_run.size(); ++p) {
    SeedSummary summary;
    summary.policy = first_run[p].policy;
    summary.seeds = static_cast<int>(runs.size());
    std::vector<double> idle, allocation, ratio, other_waiting, gangs_spread, gangs_short,
        after_arrivals;
    std::map<std::string, std::vector<double>> p99;
    for (const SeedResults& run : runs) {
      const DynamicResult& r = run.results[p];
      const DynamicResult& baseline = run.results.front();
      idle.push_back(IdleDemanded(r));
      const double gang_wait = AllKinds(r.idle_gang_wait_h);
      other_waiting.push_back(idle.back() - gang_wait);
      gangs_short.push_back(AllKinds(r.idle_gang_short_h));
      gangs_spread.push_back(gang_wait - gangs_short.back());
      after_arrivals.push_back(r.idle_demanded_after_arrivals_h);
      allocation.push_back(r.allocation_rate);
      for (const auto& [cls, causes] : r.long_wait_causes)
        for (const auto& [cause, jobs] : causes) summary.long_wait_causes[cls][cause] += jobs;
      if (p > 0) {
        const double baseline_idle = IdleDemanded(baseline);
        // Both idle nothing: level. The baseline alone idles nothing: infinitely more
        // (such a seed must not drop out of the median).
        if (baseline_idle > 0) {
          ratio.push_back(idle.back() / baseline_idle);
        } else {
          ratio.push_back(idle.back() == 0 ? 1 : std::numeric_limits<double>::infinity());
        }
        summary.seeds_idle_lower += idle.back() < baseline_idle ? 1 : 0;
      }
      for (const auto& [job_class, stats] : r.by_class) {
        if (stats.started == 0) continue;  // no wait to take a percentile of
        p99[job_class].push_back(stats.wait_p99_s);
        const auto theirs = baseline.by_class.find(job_class);
        if (p > 0 && theirs != baseline.by_class.end() && theirs->second.started > 0) {
          summary.seeds_p99_within[job_class] +=
              stats.wait_p99_s <= theirs->second.wait_p99_s + p99_slack_s ? 1 : 0;
        }
      }
    }
    summary.idle_demanded_h = SpreadOf(idle);
    summary.idle_other_waiting_h = SpreadOf(other_waiting);
    summary.idle_gangs_spread_h = SpreadOf(gangs_spread);
    summary.idle_gangs_short_h = SpreadOf(gangs_short);
    summary.idle_after_arrivals_h = SpreadOf(after_arrivals);
    summary.allocation_rate = SpreadOf(allocation);
    for (const auto& [job_class, values] : p99) summary.wait_p99_s[job_class] = SpreadOf(values);
    if (!ratio.empty()) summary.idle_ratio_median = Median(ratio);
    out.push_back(std::move(summary));
  }
  return out;
}

absl::Status WriteSeedsReport(const std::string& dir, const DynamicOptions& options,
                              const std::vector<SeedResults>& runs) {
  auto summaries = SummariseSeeds(runs, static_cast<double>(options.cycle_interval_s));
  if (!summaries.ok()) return summaries.status();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(Cat(dir, ": ", ec.message()));
  std::set<std::string> classes;
  // Waits in minutes, or in hours for a class whose p99 reaches ten hours on some seed.
  std::map<std::string, std::pair<double, std::string>> unit;
  for (const SeedSummary& s : *summaries) {
    for (const auto& [job_class, spread] : s.wait_p99_s) {
      classes.insert(job_class);
      auto& [scale, name] = unit[job_class];
      if (name.empty()) scale = 60, name = "min";
      if (spread.max >= 36000) scale = 3600, name = "h";
    }
  }
  std::string csv =
      "seed,policy,idle_demanded_h,idle_gang_wait_h,idle_gang_short_h,"
      "idle_demanded_after_arrivals_h,allocation_rate";
  for (const auto& c : classes) csv += Cat(",wait_p99_s_", c);
  csv += "\n";
  nlohmann::json json;
  json["seeds"] = nlohmann::json::array();
  std::vector<Series> idle_chart(summaries->size());
  std::map<std::string, std::vector<Series>> p99_charts;
  for (const auto& c : classes) p99_charts[c].resize(summaries->size());
  for (size_t p = 0; p < summaries->size(); ++p) {
    idle_chart[p].name = (*summaries)[p].policy;
    for (auto& [c, chart] : p99_charts) chart[p].name = (*summaries)[p].policy;
  }
  for (const SeedResults& run : runs) {
    json["seeds"].push_back(run.seed);
    const double x = static_cast<double>(run.seed);
    for (size_t p = 0; p < run.results.size(); ++p) {
      const DynamicResult& r = run.results[p];
      csv +=
          fmt::format("{},{},{:.2f},{:.2f},{:.2f},{:.2f},{:.5f}", run.seed, r.policy,
                      IdleDemanded(r), AllKinds(r.idle_gang_wait_h), AllKinds(r.idle_gang_short_h),
                      r.idle_demanded_after_arrivals_h, r.allocation_rate);
      idle_chart[p].points.emplace_back(x, IdleDemanded(r));
      for (const auto& c : classes) {
        const auto it = r.by_class.find(c);
        const bool waited = it != r.by_class.end() && it->second.started > 0;
        csv += waited ? fmt::format(",{:.0f}", it->second.wait_p99_s) : std::string(",");
        if (waited) p99_charts[c][p].points.emplace_back(x, it->second.wait_p99_s / unit[c].first);
      }
      csv += "\n";
    }
  }
  // Every seed is a point: the line between seeds only guides the eye.
  for (Series& s : idle_chart) s.marks = s.points;
  for (auto& [c, chart] : p99_charts) {
    for (Series& s : chart) s.marks = s.points;
  }
  const std::string slack = Num(static_cast<double>(options.cycle_interval_s), 0);
  std::string table =
      "<table><tr><th class='l'>policy</th><th>idle while demanded, device-h: median "
      "[min\u2013max]</th><th>idle / first policy's, per seed: median</th><th>seeds with less "
      "idle</th><th>allocation %</th>";
  for (const auto& c : classes) {
    table += fmt::format(
        "<th>wait p99 {}, {}: median [min\u2013max]</th><th>seeds with p99 \u2264 first's + {} "
        "s</th>",
        Escape(c), unit[c].second, slack);
  }
  table += "</tr>";
  for (size_t p = 0; p < summaries->size(); ++p) {
    const SeedSummary& s = (*summaries)[p];
    nlohmann::json js = {{"policy", s.policy},
                         {"seeds", s.seeds},
                         {"idle_demanded_h", SpreadJson(s.idle_demanded_h)},
                         {"idle_split_h",
                          {{"other_work_waiting", SpreadJson(s.idle_other_waiting_h)},
                           {"gangs_spread", SpreadJson(s.idle_gangs_spread_h)},
                           {"gangs_short", SpreadJson(s.idle_gangs_short_h)}}},
                         {"idle_after_last_arrival_h", SpreadJson(s.idle_after_arrivals_h)},
                         {"allocation_rate_median", s.allocation_rate.median},
                         {"long_wait_causes", s.long_wait_causes}};
    const bool first = p == 0;
    if (!first) {
      // null: more than a first policy that idled nothing
      js["idle_ratio_to_first_median"] = std::isinf(s.idle_ratio_median)
                                             ? nlohmann::json(nullptr)
                                             : nlohmann::json(s.idle_ratio_median);
      js["seeds_idle_lower"] = s.seeds_idle_lower;
    }
    table += fmt::format("<tr><td class='l'>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                         Escape(s.policy), SpreadText(s.idle_demanded_h, 1, 0),
                         first                             ? std::string("(first)")
                         : std::isinf(s.idle_ratio_median) ? std::string("more (first: 0)")
                                                           : Num(s.idle_ratio_median, 2) + "x",
                         first ? std::string("\u2013") : Cat(s.seeds_idle_lower, " of ", s.seeds),
                         SpreadText(s.allocation_rate, 0.01, 1));
    for (const auto& c : classes) {
      const auto it = s.wait_p99_s.find(c);
      table += fmt::format("<td>{}</td>", it == s.wait_p99_s.end()
                                              ? std::string("\u2013")
                                              : SpreadText(it->second, unit.at(c).first, 1));
      const auto within = s.seeds_p99_within.find(c);
      table += fmt::format(
          "<td>{}</td>",
          first ? std::string("\u2013")
                : Cat(within == s.seeds_p99_within.end() ? 0 : within->second, " of ", s.seeds));
      if (it != s.wait_p99_s.end()) {
        js["wait_p99_s"][c] = SpreadJson(it->second);
        if (!first && within != s.seeds_p99_within.end())
          js["seeds_p99_within_first"][c] = within->second;
      }
    }
    table += "</tr>";
    json["policies"].push_back(std::move(js));
  }
  table += "</table>";
  // Where the idle was: what placement could change, and what only the queue could.
  std::string split =
      "<h2>Where the idle was, all kinds</h2><p>Device-hours idle while demanded, by what "
      "was waiting, median [min\u2013max] over the seeds (the parts' medians need not add up "
      "to the total's): while some job other than a multi-node gang short of nodes waited; "
      "while only such gangs waited and the free devices were enough for one of them but on "
      "too few nodes (what placement could have changed); while too few devices were free for "
      "any of them (the gangs wait for running work to end). Across those: the part from the "
      "last arrival on, while the replay drains what was queued then (nothing new arrives; "
      "a finite workload's end, not a steady state).</p><table><tr><th "
      "class='l'>policy</th><th>other work waiting</th><th>only gangs, devices spread</th>"
      "<th>only gangs, too few devices free</th><th>after the last arrival</th></tr>";
  for (const SeedSummary& s : *summaries) {
    split +=
        fmt::format("<tr><td class='l'>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    Escape(s.policy), SpreadText(s.idle_other_waiting_h, 1, 0),
                    SpreadText(s.idle_gangs_spread_h, 1, 0), SpreadText(s.idle_gangs_short_h, 1, 0),
                    SpreadText(s.idle_after_arrivals_h, 1, 0));
  }
  split += "</table>";
  std::string inputs;
  for (const auto& g : options.cluster) {
    inputs += Cat(inputs.empty() ? "" : ", ", g.kind, ":", g.nodes);
  }
  json["cluster"] = inputs;
  json["jobs"] = options.jobs;
  json["load"] = options.load;
  // As given: a comma list need not be a range.
  std::vector<std::string> seed_names;
  for (const SeedResults& run : runs) seed_names.push_back(std::to_string(run.seed));
  const std::string seeds_text =
      runs.empty() ? std::string("none") : Cat(runs.size(), " (", Join(seed_names, ", "), ")");
  std::string body = fmt::format(
      "<p>Cluster {}, {} jobs per seed at offered load {}, cycle interval {} s; seeds {}. Each "
      "seed generates its own workload, and every policy replays that same one, so the policies "
      "are compared seed by seed against the first: one seed's idle device-hours can move by a "
      "third with almost any change of placement. Each seed's full report: "
      "<code>seed-N/dynamic.html</code>.</p>{}<div class='charts'>{}",
      Escape(inputs), options.jobs, Num(options.load, 2), options.cycle_interval_s,
      Escape(seeds_text), table,
      LineChart("idle while demanded, per seed", "seed", "device-hours", idle_chart));
  for (const auto& [c, chart] : p99_charts) {
    body += LineChart(Cat("wait p99 per seed: ", c), "seed",
                      unit[c].second == "h" ? "hours" : "minutes", chart);
  }
  body += "</div>" + split;
  std::vector<std::pair<std::string, const WaitCauseCounts*>> causes;
  for (const SeedSummary& s : *summaries) causes.emplace_back(s.policy, &s.long_wait_causes);
  body += fmt::format(
      "<h2>Why jobs waited a minute or more, all seeds</h2><p>Jobs that waited {} s or more (or "
      "never started), summed over the seeds, by the causes in the engine's reason in the last "
      "cycle each waited, as in each seed's report.</p>{}",
      kLongWaitS, CausesTable(causes));
  for (auto status : {WriteFile(std::filesystem::path(dir) / "seeds.csv", csv),
                      WriteFile(std::filesystem::path(dir) / "seeds.json", json.dump(1)),
                      WriteFile(std::filesystem::path(dir) / "seeds.html",
                                Page("accelpack-sim: dynamic replay over seeds", body))}) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace accelpack::sim
