#include "sim/csv.h"

#include <charconv>
#include <cmath>

#include "common/bounded_file.h"
#include "common/strings.h"

namespace accelpack::sim {

namespace {

// The public traces are a few MiB; a bound keeps a wrong path (a disk image) cheap.
constexpr size_t kMaxTraceBytes = 1024 * kMiB;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Splits one line into trimmed fields with their 1-based start columns.
void SplitLine(std::string_view line, std::vector<std::string_view>& fields,
               std::vector<int>& columns) {
  size_t start = 0;
  while (true) {
    size_t end = line.find(',', start);
    if (end == std::string_view::npos) end = line.size();
    size_t b = start;
    size_t e = end;
    while (b < e && IsSpace(line[b])) ++b;
    while (e > b && IsSpace(line[e - 1])) --e;
    fields.push_back(line.substr(b, e - b));
    columns.push_back(static_cast<int>(b) + 1);
    if (end == line.size()) break;
    start = end + 1;
  }
}

}  // namespace

absl::StatusOr<CsvFile> CsvFile::Read(const std::string& path) {
  auto text = ReadBoundedFile(path, kMaxTraceBytes, "trace");
  if (!text.ok()) return text.status();
  return Parse(*std::move(text), path);
}

absl::StatusOr<CsvFile> CsvFile::Parse(std::string text, std::string name) {
  CsvFile file(std::move(text), std::move(name));
  std::string_view all = *file.text_;
  if (all.starts_with("\xEF\xBB\xBF")) all.remove_prefix(3);  // UTF-8 byte order mark
  int line_number = 0;
  bool header_done = false;
  while (!all.empty()) {
    const size_t end = all.find('\n');
    std::string_view line = all.substr(0, end);
    all.remove_prefix(end == std::string_view::npos ? all.size() : end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank line
    Row row;
    row.line = line_number;
    SplitLine(line, row.fields, row.columns);
    if (!header_done) {
      file.header_ = std::move(row.fields);
      header_done = true;
      continue;
    }
    if (row.fields.size() != file.header_.size()) {
      const int column = row.fields.size() > file.header_.size()
                             ? row.columns[file.header_.size()]
                             : static_cast<int>(line.size()) + 1;
      return absl::InvalidArgumentError(Cat(file.name_, ":", line_number, ":", column,
                                            ": expected ", file.header_.size(),
                                            " fields as in the header, got ", row.fields.size()));
    }
    file.rows_.push_back(std::move(row));
  }
  if (!header_done)
    return absl::InvalidArgumentError(
        Cat(file.name_, ":1:1: expected a header line, got an empty file"));
  return file;
}

int CsvFile::OptionalColumn(std::string_view header) const {
  for (size_t i = 0; i < header_.size(); ++i) {
    if (header_[i] == header) return static_cast<int>(i);
  }
  return -1;
}

absl::StatusOr<int> CsvFile::Column(std::string_view header) const {
  const int column = OptionalColumn(header);
  if (column >= 0) return column;
  return absl::InvalidArgumentError(Cat(name_, ":1:1: expected a column \"", header,
                                        "\" in the header (", Join(header_, ","), ")"));
}

std::string CsvFile::Where(const Row& row, int column) const {
  return Cat(name_, ":", row.line, ":", row.columns[static_cast<size_t>(column)]);
}

absl::StatusOr<int64_t> CsvFile::Int(const Row& row, int column, int64_t min, int64_t max) const {
  const std::string_view text = Text(row, column);
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return absl::InvalidArgumentError(
        Cat(Where(row, column), ": ", header_[static_cast<size_t>(column)],
            ": expected an integer in ", min, "..", max, ", got \"", text, "\""));
  }
  return value;
}

absl::StatusOr<double> CsvFile::Number(const Row& row, int column, double min, double max) const {
  const std::string_view text = Text(row, column);
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value) || value < min || value > max) {
    return absl::InvalidArgumentError(
        Cat(Where(row, column), ": ", header_[static_cast<size_t>(column)],
            ": expected a number in ", min, "..", max, ", got \"", text, "\""));
  }
  return value;
}

absl::StatusOr<int64_t> CsvFile::WholeNumber(const Row& row, int column, int64_t min,
                                             int64_t max) const {
  auto value = Number(row, column, static_cast<double>(min), static_cast<double>(max));
  if (!value.ok()) return value.status();
  if (*value != std::floor(*value)) {
    return absl::InvalidArgumentError(
        Cat(Where(row, column), ": ", header_[static_cast<size_t>(column)],
            ": expected a whole number, got \"", Text(row, column), "\""));
  }
  return static_cast<int64_t>(*value);
}

}  // namespace accelpack::sim
