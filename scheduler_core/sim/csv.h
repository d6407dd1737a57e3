// A small CSV reader for trace files that knows where every field came from, so
// a bad value is reported as "file:line:column: expected ..., got ...".
//
// Fields are split on commas; surrounding spaces are trimmed (some traces write
// ", "); no quoting (none of the supported traces quote). Thread-safety: a
// CsvFile is an immutable value after Parse.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace accelpack::sim {

class CsvFile {
 public:
  struct Row {
    int line = 0;
    std::vector<std::string_view> fields;
    std::vector<int> columns;  // 1-based column where each field starts
  };

  // Parses `text`; `name` (a file name) prefixes every error. The first line is
  // the header. Every row must have as many fields as the header.
  static absl::StatusOr<CsvFile> Parse(std::string text, std::string name);
  static absl::StatusOr<CsvFile> Read(const std::string& path);

  const std::string& name() const { return name_; }
  const std::vector<Row>& rows() const { return rows_; }
  const std::vector<std::string_view>& header() const { return header_; }

  // Index of a header column; the error lists the header.
  absl::StatusOr<int> Column(std::string_view header) const;
  // Index of a header column, or -1 when the file does not have it.
  int OptionalColumn(std::string_view header) const;

  // Typed fields; errors carry file:line:column and what was expected.
  absl::StatusOr<int64_t> Int(const Row& row, int column, int64_t min, int64_t max) const;
  absl::StatusOr<double> Number(const Row& row, int column, double min, double max) const;
  // An integer written as a number ("8.0" is 8); fractional values are errors.
  absl::StatusOr<int64_t> WholeNumber(const Row& row, int column, int64_t min, int64_t max) const;
  std::string_view Text(const Row& row, int column) const {
    return row.fields[static_cast<size_t>(column)];
  }
  std::string Where(const Row& row, int column) const;

 private:
  CsvFile(std::string text, std::string name)
      : text_(std::make_shared<const std::string>(std::move(text))), name_(std::move(name)) {}

  // Rows and header view into it. On the heap, so that moving or copying a CsvFile
  // never moves the characters: a short std::string keeps them inside itself (SSO)
  // and a move would leave every view dangling.
  std::shared_ptr<const std::string> text_;
  std::string name_;
  std::vector<std::string_view> header_;
  std::vector<Row> rows_;
};

}  // namespace accelpack::sim
