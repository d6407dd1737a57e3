#include "probe/conf_syntax.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace accelpack::probe {
namespace {

// `text` in quotes for a message, cut short: one line of a file can be megabytes.
std::string Quoted(absl::string_view text) {
  constexpr size_t kShown = 64;
  return absl::StrCat("\"", text.substr(0, kShown), text.size() > kShown ? "...\"" : "\"");
}

absl::Status BadRange(absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat("bad range ", Quoted(text)));
}

bool ParseNumber(absl::string_view text, long long& value) {
  if (text.empty()) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && value >= 0;
}

// Commas that are not inside brackets separate hostlist items.
std::vector<absl::string_view> SplitTopLevel(absl::string_view expr) {
  std::vector<absl::string_view> items;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < expr.size(); ++i) {
    if (expr[i] == '[') ++depth;
    if (expr[i] == ']') --depth;
    if (expr[i] == ',' && depth == 0) {
      items.push_back(expr.substr(start, i - start));
      start = i + 1;
    }
  }
  items.push_back(expr.substr(start));
  return items;
}

std::string Padded(long long value, size_t width) {
  std::string digits = std::to_string(value);
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  return digits;
}

absl::Status ExpandItem(absl::string_view item, size_t limit, std::vector<std::string>& out);

// Expands the first bracket of `item` and recurses on what follows it.
absl::Status ExpandBracket(absl::string_view item, size_t open, size_t limit,
                           std::vector<std::string>& out) {
  const size_t close = item.find(']', open);
  if (close == absl::string_view::npos) return BadRange(item);
  const absl::string_view prefix = item.substr(0, open);
  std::vector<std::string> tails;
  absl::Status status = ExpandItem(item.substr(close + 1), limit, tails);
  if (!status.ok()) return status;
  for (absl::string_view range : absl::StrSplit(item.substr(open + 1, close - open - 1), ',')) {
    const size_t dash = range.find('-');
    const absl::string_view low_text = range.substr(0, dash);
    const absl::string_view high_text =
        dash == absl::string_view::npos ? low_text : range.substr(dash + 1);
    long long low = 0;
    long long high = 0;
    if (!ParseNumber(low_text, low) || !ParseNumber(high_text, high) || high < low) {
      return BadRange(item);
    }
    if (static_cast<unsigned long long>(high - low) >= limit) {
      return absl::InvalidArgumentError(absl::StrCat("range ", Quoted(item), " is too large"));
    }
    for (long long value = low; value <= high; ++value) {
      for (const std::string& tail : tails) {
        if (out.size() >= limit) {
          return absl::InvalidArgumentError(absl::StrCat(Quoted(item), " names too many items"));
        }
        out.push_back(absl::StrCat(prefix, Padded(value, low_text.size()), tail));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ExpandItem(absl::string_view item, size_t limit, std::vector<std::string>& out) {
  // Each bracket is one level of recursion: a line of thousands would use up the stack.
  constexpr size_t kMaxBrackets = 8;
  if (static_cast<size_t>(std::count(item.begin(), item.end(), '[')) > kMaxBrackets) {
    return absl::InvalidArgumentError(
        absl::StrCat(Quoted(item), " has more than ", kMaxBrackets, " bracket ranges"));
  }
  const size_t open = item.find('[');
  if (open == absl::string_view::npos) {
    if (item.find(']') != absl::string_view::npos) return BadRange(item);
    out.emplace_back(item);
    return absl::OkStatus();
  }
  return ExpandBracket(item, open, limit, out);
}

}  // namespace

std::string FormatIndexRanges(std::vector<int> indexes) {
  std::sort(indexes.begin(), indexes.end());
  indexes.erase(std::unique(indexes.begin(), indexes.end()), indexes.end());
  std::string text;
  for (size_t i = 0; i < indexes.size();) {
    size_t last = i;
    while (last + 1 < indexes.size() && indexes[last + 1] == indexes[last] + 1) ++last;
    if (!text.empty()) text += ',';
    absl::StrAppend(&text, indexes[i]);
    if (last > i) absl::StrAppend(&text, "-", indexes[last]);
    i = last + 1;
  }
  return text;
}

absl::StatusOr<std::vector<int>> ParseIndexRanges(absl::string_view text, size_t limit) {
  std::vector<int> indexes;
  for (absl::string_view range : absl::StrSplit(text, ',')) {
    const size_t dash = range.find('-');
    long long low = 0;
    long long high = 0;
    if (!ParseNumber(range.substr(0, dash), low) ||
        !ParseNumber(dash == absl::string_view::npos ? range : range.substr(dash + 1), high) ||
        high < low || high > (1 << 20)) {
      return BadRange(text);
    }
    // Counted before expanding: repeated ranges would otherwise add up without bound.
    if (static_cast<size_t>(high - low) + 1 > limit - std::min(limit, indexes.size())) {
      return absl::InvalidArgumentError(
          absl::StrCat(Quoted(text), " names more than ", limit, " indexes"));
    }
    for (long long value = low; value <= high; ++value) indexes.push_back(static_cast<int>(value));
  }
  std::sort(indexes.begin(), indexes.end());
  indexes.erase(std::unique(indexes.begin(), indexes.end()), indexes.end());
  return indexes;
}

absl::StatusOr<std::vector<std::string>> ExpandHostlist(absl::string_view expr, size_t limit) {
  std::vector<std::string> names;
  for (absl::string_view item : SplitTopLevel(expr)) {
    if (item.empty()) continue;
    absl::Status status = ExpandItem(item, limit, names);
    if (!status.ok()) return status;
  }
  return names;
}

std::vector<ConfLine> LogicalConfLines(absl::string_view text) {
  std::vector<ConfLine> lines;
  std::string pending;
  int first = 0;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (pending.empty()) first = number;
    line = line.substr(0, line.find('#'));
    size_t end = line.size();
    while (end > 0 && std::isspace(static_cast<unsigned char>(line[end - 1]))) --end;
    size_t backslashes = 0;
    while (backslashes < end && line[end - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 1) {
      absl::StrAppend(&pending, line.substr(0, end - 1));
      continue;
    }
    lines.push_back({first, absl::StrCat(pending, line)});
    pending.clear();
  }
  if (!pending.empty()) lines.push_back({first, std::move(pending)});
  return lines;
}

std::vector<ConfParam> ParseConfLine(absl::string_view line) {
  line = line.substr(0, line.find('#'));
  std::vector<ConfParam> params;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    std::string word;
    bool quoted = false;
    for (; i < line.size(); ++i) {
      const char c = line[i];
      if (c == '"') {
        quoted = !quoted;
        continue;
      }
      if (!quoted && std::isspace(static_cast<unsigned char>(c))) break;
      word += c;
    }
    const size_t equals = word.find('=');
    if (equals == std::string::npos || equals == 0) continue;
    params.push_back({absl::AsciiStrToLower(word.substr(0, equals)), word.substr(equals + 1)});
  }
  return params;
}

}  // namespace accelpack::probe
