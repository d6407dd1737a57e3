// Device naming shared by every output.
#include "probe/probe.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "probe/pci_catalog.h"

namespace accelpack::probe {

std::string Device::DeviceFile() const {
  return numbered() ? absl::StrCat(VendorDevicePath(vendor), index) : std::string();
}

std::string Device::PciId() const {
  return absl::StrCat(absl::Hex(vendor_id, absl::kZeroPad4), ":",
                      absl::Hex(device_id, absl::kZeroPad4));
}

absl::string_view InterconnectName(Interconnect interconnect) {
  switch (interconnect) {
    case Interconnect::kNvSwitch:
      return "nvswitch";
    case Interconnect::kNvLink:
      return "nvlink";
    case Interconnect::kHccs:
      return "hccs";
    case Interconnect::kNone:
      break;
  }
  return "none";
}

}  // namespace accelpack::probe
