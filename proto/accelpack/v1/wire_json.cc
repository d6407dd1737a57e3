// wire_json.cc: see wire_json.h. SPDX-License-Identifier: GPL-2.0-or-later
#include "accelpack/v1/wire_json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "accelpack/v1/wire_text.h"

namespace accelpack::wire {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

enum class Direction { kToText, kToBase64 };

void Convert(nlohmann::json& value, const FieldDescriptor& field, Direction direction);

// Walks `object` (a message as JSON) with its descriptor, converting bytes fields.
void ConvertMessage(nlohmann::json& object, const Descriptor& descriptor, Direction direction) {
  if (!object.is_object()) return;
  for (auto& [key, value] : object.items()) {
    const FieldDescriptor* field = descriptor.FindFieldByName(key);
    if (field == nullptr) field = descriptor.FindFieldByCamelcaseName(key);
    if (field == nullptr) continue;
    if (field->is_map()) {
      const FieldDescriptor* map_value = field->message_type()->map_value();
      if (value.is_object()) {
        for (auto& [map_key, entry] : value.items()) Convert(entry, *map_value, direction);
      }
    } else if (field->is_repeated() && value.is_array()) {
      for (auto& element : value) Convert(element, *field, direction);
    } else {
      Convert(value, *field, direction);
    }
  }
}

void Convert(nlohmann::json& value, const FieldDescriptor& field, Direction direction) {
  if (field.type() == FieldDescriptor::TYPE_MESSAGE) {
    ConvertMessage(value, *field.message_type(), direction);
    return;
  }
  if (field.type() != FieldDescriptor::TYPE_BYTES || !value.is_string()) return;
  const std::string in = value.get<std::string>();
  std::string out;
  if (direction == Direction::kToBase64) {
    absl::Base64Escape(in, &out);
  } else if (absl::Base64Unescape(in, &out)) {
    out = Printable(out, kMaxNameBytes * 64);
  } else {
    out = in;
  }
  value = out;
}

}  // namespace

std::string ToReadableJson(const google::protobuf::Message& message, bool pretty) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string text;
  if (!google::protobuf::util::MessageToJsonString(message, &text, options).ok()) return "{}";
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) return "{}";
  ConvertMessage(json, *message.GetDescriptor(), Direction::kToText);
  return json.dump(pretty ? 2 : -1) + (pretty ? "\n" : "");
}

absl::Status FromReadableJson(std::string_view text, google::protobuf::Message* message) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) return absl::InvalidArgumentError("not JSON");
  ConvertMessage(json, *message->GetDescriptor(), Direction::kToBase64);
  const auto parsed = google::protobuf::util::JsonStringToMessage(json.dump(), message);
  if (!parsed.ok()) return absl::InvalidArgumentError(std::string(parsed.message()));
  return absl::OkStatus();
}

}  // namespace accelpack::wire
