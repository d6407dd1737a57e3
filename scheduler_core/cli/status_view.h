// How `accelpack status` shows the core's answer: a table for people, JSON for scripts.
#pragma once

#include <string>

#include "accelpack/v1/placement.pb.h"

namespace accelpack::cli {

std::string StatusTable(const ::accelpack::v1::GetStatusResponse& status);
// The per-kind rows alone (with an "all" row), for `status -o COLUMNS`.
class Table;
Table KindsTable(const ::accelpack::v1::GetStatusResponse& status);
std::string StatusJson(const ::accelpack::v1::GetStatusResponse& status);

}  // namespace accelpack::cli
