#include "engine/reason.h"

#include <algorithm>
#include <ctime>

#include "common/strings.h"

namespace accelpack::engine {

void ReasonTally::Add(std::string_view reason, int count) {
  total_ += count;
  for (auto& [name, n] : counts_) {
    // Reasons are mostly the filters' own constants: one pointer compare, not a memcmp.
    if ((name.data() == reason.data() && name.size() == reason.size()) || name == reason) {
      n += count;
      return;
    }
  }
  counts_.emplace_back(reason, count);
}

void ReasonTally::Merge(const ReasonTally& other) {
  for (const auto& [name, n] : other.counts_) Add(name, n);
}

int ReasonTally::count(std::string_view reason) const {
  for (const auto& [name, n] : counts_) {
    if (name == reason) return n;
  }
  return 0;
}

std::vector<std::pair<std::string_view, int>> ReasonTally::Sorted() const {
  auto sorted = counts_;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return sorted;
}

std::string ReasonTally::Describe() const {
  std::string text;
  for (const auto& [name, n] : Sorted()) {
    text += Cat(text.empty() ? "" : ", ", n, " ", name);
  }
  return text.empty() ? "no nodes" : text;
}

PendingCode ClassifyDynamic(const ReasonTally& dynamic, std::string_view gang_reason) {
  const int held = dynamic.count(kReasonHeld);
  const int shape = dynamic.count(kReasonNoLegalShape);
  if (held > 0 && held >= dynamic.total() - shape) return PendingCode::kPriority;
  if (shape > 0 && shape == dynamic.total() && gang_reason.empty()) return PendingCode::kTopology;
  return PendingCode::kResources;
}

std::string UtcTime(int64_t unix_seconds) {
  const std::time_t time = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  if (gmtime_r(&time, &parts) == nullptr) return Cat(unix_seconds);
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

std::string_view PendingCodeName(PendingCode code) {
  switch (code) {
    case PendingCode::kResources:
      return "Resources";
    case PendingCode::kPriority:
      return "Priority";
    case PendingCode::kNeverFits:
      return "NeverFits";
    case PendingCode::kTopology:
      return "Topology";
    case PendingCode::kCycleLimit:
      return "CycleLimit";
  }
  return "Unknown";
}

}  // namespace accelpack::engine
