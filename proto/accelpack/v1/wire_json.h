// wire_json.h: JSON for people and scripts. Protobuf's JSON writes `bytes` fields as
// base64; the names Slurm gives us travel as `bytes` (they may not be UTF-8), and an
// operator reading `accelpack explain --json` wants "h100-1", not "aDEwMC0x". These
// convert with bytes fields as text: printable (escaped) when written, taken as is when
// read. SPDX-License-Identifier: GPL-2.0-or-later
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace accelpack::wire {

// Field names as in the .proto; every field printed, defaults included.
std::string ToReadableJson(const google::protobuf::Message& message, bool pretty = true);

// Accepts what ToReadableJson writes (and protobuf's own names); bytes fields as text.
absl::Status FromReadableJson(std::string_view text, google::protobuf::Message* message);

}  // namespace accelpack::wire
