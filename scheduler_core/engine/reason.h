// Why nodes turned a job down: counted per reason, told in one squeue line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/plan.h"

namespace accelpack::engine {

// Reasons the engine itself gives (filters give their own).
inline constexpr std::string_view kReasonTooFewFreeDevices = "too few free devices";
inline constexpr std::string_view kReasonNoLegalShape =
    "free devices not in a legal topology shape";
inline constexpr std::string_view kReasonHeld = "held for a reserved job";
inline constexpr std::string_view kReasonAdvancedReservation =
    "in an advanced reservation during the job's run";
inline constexpr std::string_view kReasonRequiredNodeBusy = "a required node (-w) cannot host it";
inline constexpr std::string_view kReasonGangDoesNotFit = "no single kind/SuperPoD holds the gang";
inline constexpr std::string_view kReasonNoAlternativeHoldsTheGang =
    "no one feature alternative ([a|b]) has nodes for the whole gang";

// The phrases that join a pending line's parts, shared by the engine that writes the
// line and PendingCauses that reads it back, e.g.
//   "0/64 nodes fit: 47 too few free devices, 17 too few free CPUs; reserved to start by T"
//   "2/8 nodes fit (need 2), but <gang reason>; <tally>"
inline constexpr std::string_view kPhraseNodesFit = " nodes fit";
inline constexpr std::string_view kPhraseTally = ": ";
inline constexpr std::string_view kPhraseTallyItems = ", ";     // between "<count> <reason>"s
inline constexpr std::string_view kPhraseNoNodes = "no nodes";  // a tally of none
inline constexpr std::string_view kPhraseGangBut = ", but ";
inline constexpr std::string_view kPhraseNextPart = "; ";
inline constexpr std::string_view kPhraseReservedStart = "reserved to start by ";
inline constexpr std::string_view kPhrasePreempting = "preempting ";
inline constexpr std::string_view kPhraseAwaitingPreempted = "waiting for ";
inline constexpr std::string_view kPhraseNotEvaluated = "not evaluated: ";

// The causes PendingCauses names beside the reasons nodes give.
inline constexpr std::string_view kCauseReservedStart = "reserved a start";
inline constexpr std::string_view kCausePreemption = "making room by preemption";
inline constexpr std::string_view kCauseNotEvaluated = "not evaluated";
// No node turned it down, yet too few fit: the cluster has fewer than it needs.
inline constexpr std::string_view kCauseTooFewNodes = "fewer nodes than it needs";

class ReasonTally {
 public:
  void Add(std::string_view reason, int count = 1);
  void Merge(const ReasonTally& other);
  int total() const { return total_; }
  int count(std::string_view reason) const;
  // (reason, nodes), most frequent first.
  std::vector<std::pair<std::string_view, int>> Sorted() const;
  // "8 too few free devices, 4 not in partition": most frequent first.
  std::string Describe() const;

 private:
  std::vector<std::pair<std::string_view, int>> counts_;
  int total_ = 0;
};

// The pending code for a job that passed the static filters somewhere but did
// not fit now.
PendingCode ClassifyDynamic(const ReasonTally& dynamic, std::string_view gang_reason);

std::string_view PendingCodeName(PendingCode code);

// The causes a pending line names, each once and without its node count, in the
// line's order: the nodes' reasons, a gang's reason, kCauseReservedStart,
// kCausePreemption, kCauseNotEvaluated or kCauseTooFewNodes. e.g. the first example above ->
// {"too few free devices", "too few free CPUs", "reserved a start"}. A reason may hold
// commas ("node down, drained or reserved"): a new one starts at ", " and a count.
std::vector<std::string> PendingCauses(std::string_view line);

// "2026-11-29T04:00:00Z": a pure conversion, no clock read (reasons name absolute
// times so the line stays the same from one cycle to the next).
std::string UtcTime(int64_t unix_seconds);

}  // namespace accelpack::engine
