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
    text += Cat(text.empty() ? "" : kPhraseTallyItems, n, " ", name);
  }
  return text.empty() ? std::string(kPhraseNoNodes) : text;
}

PendingCode ClassifyDynamic(const ReasonTally& dynamic, std::string_view gang_reason) {
  const int held = dynamic.count(kReasonHeld);
  const int shape = dynamic.count(kReasonNoLegalShape);
  if (held > 0 && held >= dynamic.total() - shape) return PendingCode::kPriority;
  if (shape > 0 && shape == dynamic.total() && gang_reason.empty()) return PendingCode::kTopology;
  return PendingCode::kResources;
}

std::vector<std::string> PendingCauses(std::string_view line) {
  std::vector<std::string> causes;
  auto add = [&](std::string_view cause) {
    if (!cause.empty() && std::find(causes.begin(), causes.end(), cause) == causes.end())
      causes.emplace_back(cause);
  };
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  // "47 too few free devices, 3 node down, drained or reserved" (ReasonTally::Describe).
  auto add_tally = [&](std::string_view tally) {
    if (tally == kPhraseNoNodes) add(kCauseTooFewNodes);
    while (!tally.empty() && is_digit(tally.front())) {
      size_t next = tally.find(kPhraseTallyItems);
      while (next != std::string_view::npos &&
             (next + kPhraseTallyItems.size() >= tally.size() ||
              !is_digit(tally[next + kPhraseTallyItems.size()]))) {
        next = tally.find(kPhraseTallyItems, next + kPhraseTallyItems.size());
      }
      const std::string_view item = tally.substr(0, next);
      if (const size_t space = item.find(' '); space != std::string_view::npos)
        add(item.substr(space + 1));
      if (next == std::string_view::npos) break;
      tally.remove_prefix(next + kPhraseTallyItems.size());
    }
  };
  if (line.starts_with(kPhraseNotEvaluated)) {
    add(kCauseNotEvaluated);
    return causes;
  }
  bool first = true;
  while (!line.empty()) {
    const size_t end = line.find(kPhraseNextPart);
    const std::string_view part = line.substr(0, end);
    line = end == std::string_view::npos ? std::string_view()
                                         : line.substr(end + kPhraseNextPart.size());
    if (first) {
      first = false;
      const size_t fit = part.find(kPhraseNodesFit);
      const std::string_view rest =
          fit == std::string_view::npos ? part : part.substr(fit + kPhraseNodesFit.size());
      if (const size_t but = rest.find(kPhraseGangBut); but != std::string_view::npos) {
        add(rest.substr(but + kPhraseGangBut.size()));
      } else if (const size_t colon = rest.find(kPhraseTally); colon != std::string_view::npos) {
        add_tally(rest.substr(colon + kPhraseTally.size()));
      }
    } else if (part.starts_with(kPhraseReservedStart)) {
      add(kCauseReservedStart);
    } else if (part.starts_with(kPhrasePreempting) || part.starts_with(kPhraseAwaitingPreempted)) {
      add(kCausePreemption);
    } else {
      add_tally(part);  // a gang's tally follows its reason
    }
  }
  return causes;
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
