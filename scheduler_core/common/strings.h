// String building for messages. Debian's Abseil is built with its own
// absl::string_view (not std::string_view), so absl::StrCat does not take the
// std::string_view the rest of the code uses; these small helpers do.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace accelpack {

// The message of a Status as a std::string_view.
inline std::string_view MessageOf(const absl::Status& status) {
  const absl::string_view message = status.message();
  return {message.data(), message.size()};
}

namespace strings_internal {
template <typename T>
void Append(std::string& out, const T& value) {
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out.append(std::string_view(value));
  } else if constexpr (std::is_same_v<T, absl::string_view>) {
    out.append(value.data(), value.size());
  } else if constexpr (std::is_same_v<T, bool>) {
    out.append(value ? "true" : "false");
  } else {
    fmt::format_to(std::back_inserter(out), "{}", value);
  }
}
}  // namespace strings_internal

template <typename... Args>
std::string Cat(const Args&... args) {
  std::string out;
  (strings_internal::Append(out, args), ...);
  return out;
}

template <typename Range>
std::string Join(const Range& range, std::string_view separator) {
  std::string out;
  bool first = true;
  for (const auto& item : range) {
    if (!first) out.append(separator);
    first = false;
    strings_internal::Append(out, item);
  }
  return out;
}

// "a,b,,c" -> {"a", "b", "", "c"}; views into `text`.
inline std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

// As Split, without the empty parts, as owned strings: "a,,b," -> {"a", "b"}.
inline std::vector<std::string> SplitNonEmpty(std::string_view text, char separator) {
  std::vector<std::string> parts;
  for (std::string_view part : Split(text, separator)) {
    if (!part.empty()) parts.emplace_back(part);
  }
  return parts;
}

}  // namespace accelpack
