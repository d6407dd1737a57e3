// The bits of Slurm configuration syntax the probe writes and reads back: index
// ranges ("0-3,8"), hostlists ("gpu[01-08]", "/dev/nvidia[0-7]") and Key=Value lines.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace accelpack::probe {

// Sorted, distinct indexes as Slurm ranges: {0,1,2,3,8} -> "0-3,8".
std::string FormatIndexRanges(std::vector<int> indexes);

// "0-3,8" -> {0,1,2,3,8}. Refuses bounds above 2^20 and lists of more than `limit`
// indexes (repeats counted), before expanding them.
absl::StatusOr<std::vector<int>> ParseIndexRanges(absl::string_view text, size_t limit = 1 << 16);

// Every name a hostlist expression stands for: "gpu[01-02],cpu1" -> gpu01 gpu02 cpu1.
// Zero padding follows the range's first bound. Refuses expressions of more than
// `limit` names rather than exhausting memory on a typo like [0-999999999].
absl::StatusOr<std::vector<std::string>> ExpandHostlist(absl::string_view expr,
                                                        size_t limit = 1 << 16);

struct ConfParam {
  std::string key;  // lower case: Slurm keys are case-insensitive
  std::string value;
};

// A file's logical lines as Slurm reads them (parse_config.c): comments ('#') cut,
// and a line ending in an odd number of backslashes (trailing blanks after them
// allowed) continued by the next, the last backslash dropped. Each with the number of
// its first physical line.
struct ConfLine {
  int number = 0;
  std::string text;
};
std::vector<ConfLine> LogicalConfLines(absl::string_view text);

// The Key=Value parameters of one configuration line, comments ('#') removed and
// double quotes around values dropped. Words without '=' are ignored.
std::vector<ConfParam> ParseConfLine(absl::string_view line);

}  // namespace accelpack::probe
