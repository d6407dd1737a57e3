// Where a field sits in a snapshot ("nodes[3].accelerators[0].count"), spelled
// out only when an error names it: a snapshot has ~10^5 fields and almost never
// a bad one, so building each path as a string up front costs more than the
// checks themselves.
#pragma once

#include <string>
#include <string_view>

#include "common/strings.h"

namespace accelpack {

class FieldPath {
 public:
  explicit FieldPath(std::string_view name, int index = -1) : name_(name), index_(index) {}
  FieldPath(std::string_view name, size_t index) : FieldPath(name, static_cast<int>(index)) {}
  // The child refers to this path: keep it alive while the child is used.
  FieldPath Child(std::string_view name, int index = -1) const {
    FieldPath child(name, index);
    child.parent_ = this;
    return child;
  }
  FieldPath Child(std::string_view name, size_t index) const {
    return Child(name, static_cast<int>(index));
  }
  std::string ToString() const {
    std::string text = parent_ == nullptr ? "" : Cat(parent_->ToString(), ".");
    text += name_;
    if (index_ >= 0) text += Cat("[", index_, "]");
    return text;
  }

 private:
  const FieldPath* parent_ = nullptr;
  std::string_view name_;
  int index_;
};

}  // namespace accelpack
