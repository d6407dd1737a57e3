#include "topology_xml.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace accelpack::probe::testing {
namespace {

constexpr uint16_t kNvidia = 0x10de;
constexpr uint16_t kHuawei = 0x19e5;

// hwloc's bitmap syntax: 32-bit words, most significant first, comma separated.
std::string Mask(const std::vector<int>& bits) {
  const int top = bits.empty() ? 0 : *std::max_element(bits.begin(), bits.end());
  std::vector<uint32_t> words(static_cast<size_t>(top / 32 + 1), 0);
  for (int bit : bits) words[static_cast<size_t>(bit / 32)] |= uint32_t{1} << (bit % 32);
  std::vector<std::string> text;
  for (auto it = words.rbegin(); it != words.rend(); ++it) {
    text.push_back(absl::StrFormat("0x%08x", *it));
  }
  return absl::StrJoin(text, ",");
}

std::vector<int> Range(int first, int count) {
  std::vector<int> values;
  for (int i = 0; i < count; ++i) values.push_back(first + i);
  return values;
}

std::string Sets(const std::vector<int>& pus, const std::vector<int>& numa) {
  return absl::StrCat("cpuset=\"", Mask(pus), "\" complete_cpuset=\"", Mask(pus), "\" nodeset=\"",
                      Mask(numa), "\" complete_nodeset=\"", Mask(numa), "\"");
}

std::string BusId(int bus, int device = 0) {
  return absl::StrFormat("0000:%02x:%02x.0", bus, device);
}

std::string PciType(uint16_t class_id, uint16_t vendor, uint16_t device) {
  return absl::StrFormat("%04x [%04x:%04x] [%04x:0000] 00", class_id, vendor, device, vendor);
}

class Writer {
 public:
  // gp_index of the PCI function (and, for NVIDIA GPUs with NVML, its OS device) on
  // each bus.
  std::map<int, int> pci_gp;
  std::map<int, int> nvml_gp;
  bool nvml = false;

  void Line(const std::string& text) { xml_ += std::string(2 * depth_, ' ') + text + "\n"; }
  void Open(const std::string& text) {
    Line(text);
    ++depth_;
  }
  void Close() {
    --depth_;
    Line("</object>");
  }
  int NextGp() { return ++gp_index_; }
  std::string Take() { return std::move(xml_); }

 private:
  std::string xml_;
  size_t depth_ = 0;
  int gp_index_ = 1;  // 1 is the Machine
};

std::pair<int, int> BusSpan(const std::vector<PciFunction>& devices) {
  int low = 0xff;
  int high = 0;
  for (const PciFunction& device : devices) {
    low = std::min(low, device.bus);
    high = std::max(high, device.bus);
  }
  return {low, high};
}

bool IsNvidiaGpu(const PciFunction& device) {
  return device.vendor_id == kNvidia && (device.class_id >> 8) == 0x03;
}

void WriteDevice(Writer& out, const PciFunction& device) {
  const int gp = out.NextGp();
  out.pci_gp[device.bus] = gp;
  const std::string object = absl::StrFormat(
      R"(<object type="PCIDev" gp_index="%d" pci_busid="%s" pci_type="%s" pci_link_speed="0.000000")",
      gp, BusId(device.bus), PciType(device.class_id, device.vendor_id, device.device_id));
  if (!out.nvml || !IsNvidiaGpu(device)) {
    out.Line(object + "/>");
    return;
  }
  out.Open(object + ">");
  const int osdev_gp = out.NextGp();
  out.nvml_gp[device.bus] = osdev_gp;
  out.Open(absl::StrFormat(
      R"(<object type="OSDev" gp_index="%d" name="nvml%d" subtype="NVML" osdev_type="1">)",
      osdev_gp, static_cast<int>(out.nvml_gp.size()) - 1));
  out.Line(R"(<info name="Backend" value="NVML"/>)");
  out.Close();
  out.Close();
}

// A root port on the bus above the switch's devices, as lstopo shows an HGX tray.
void WriteSwitch(Writer& out, const std::vector<PciFunction>& devices) {
  const auto [low, high] = BusSpan(devices);
  out.Open(absl::StrFormat(
      R"(<object type="Bridge" gp_index="%d" bridge_type="1-1" depth="1" bridge_pci="0000:[%02x-%02x]" pci_busid="%s" pci_type="%s" pci_link_speed="0.000000">)",
      out.NextGp(), low, high, BusId(low - 1, 1), PciType(0x0604, 0x1000, 0xc030)));
  for (const PciFunction& device : devices) WriteDevice(out, device);
  out.Close();
}

}  // namespace

PciFunction H100Sxm(int bus) { return {bus, kNvidia, 0x2330, 0x0302}; }
PciFunction H100Pcie(int bus) { return {bus, kNvidia, 0x2331, 0x0302}; }
PciFunction H200Sxm(int bus) { return {bus, kNvidia, 0x2335, 0x0302}; }
PciFunction Ascend910(int bus) { return {bus, kHuawei, 0xd801, 0x1200}; }
PciFunction Ascend910B(int bus) { return {bus, kHuawei, 0xd802, 0x1200}; }
PciFunction Ascend310P(int bus) { return {bus, kHuawei, 0xd500, 0x1200}; }
PciFunction NvSwitch(int bus) { return {bus, kNvidia, 0x22a3, 0x0680}; }
PciFunction MellanoxNic(int bus) { return {bus, 0x15b3, 0x1021, 0x0207}; }
PciFunction HuaweiNic(int bus) { return {bus, kHuawei, 0xa222, 0x0200}; }

PciFunction H100Nvl(int bus) { return {bus, kNvidia, 0x2321, 0x0302}; }
PciFunction V100Sxm2(int bus) { return {bus, kNvidia, 0x1db1, 0x0302}; }
PciFunction IbmcVga(int bus) { return {bus, kHuawei, 0x1711, 0x0300}; }
PciFunction KunpengZip(int bus) { return {bus, kHuawei, 0xa250, 0x1200}; }

TopologyXmlBuilder& TopologyXmlBuilder::HwlocV1() {
  hwloc_v1_ = true;
  return *this;
}

TopologyXmlBuilder& TopologyXmlBuilder::CpulessNumaNode(int os_index, int64_t mib) {
  cpuless_numa_.emplace_back(os_index, mib);
  return *this;
}

TopologyXmlBuilder& TopologyXmlBuilder::NvLink(int gpu_bus, int peer_bus, int links) {
  nvlinks_.push_back({gpu_bus, peer_bus, links});
  return *this;
}

TopologyXmlBuilder DirectHgx(const std::string& host, int threads_per_core,
                             PciFunction (*gpu)(int bus)) {
  TopologyXmlBuilder builder;
  builder.HostName(host).Cpus(2, 4, threads_per_core).MemoryPerSocketMib(2048);
  for (int bus : {0x18, 0x2a, 0x3a, 0x5d}) builder.Direct(0, gpu(bus));
  for (int bus : {0x9a, 0xab, 0xba, 0xdb}) builder.Direct(1, gpu(bus));
  return builder;
}

TopologyXmlBuilder& TopologyXmlBuilder::HostName(std::string name) {
  host_name_ = std::move(name);
  return *this;
}

TopologyXmlBuilder& TopologyXmlBuilder::Cpus(int sockets, int cores_per_socket,
                                             int threads_per_core) {
  sockets_ = sockets;
  cores_per_socket_ = cores_per_socket;
  threads_per_core_ = threads_per_core;
  return *this;
}

TopologyXmlBuilder& TopologyXmlBuilder::MemoryPerSocketMib(int64_t mib) {
  memory_per_socket_mib_ = mib;
  return *this;
}

TopologyXmlBuilder& TopologyXmlBuilder::Switch(int socket, std::vector<PciFunction> devices) {
  attachments_.push_back({socket, true, std::move(devices)});
  return *this;
}

TopologyXmlBuilder& TopologyXmlBuilder::Direct(int socket, PciFunction device) {
  attachments_.push_back({socket, false, {device}});
  return *this;
}

std::string TopologyXmlBuilder::Build() const {
  Writer out;
  out.nvml = !nvlinks_.empty();
  const int total_cores = sockets_ * cores_per_socket_;
  const std::vector<int> all_pus = Range(0, total_cores * threads_per_core_);
  std::vector<int> all_numa = Range(0, sockets_);
  for (const auto& [os_index, mib] : cpuless_numa_) all_numa.push_back(os_index);

  // One host bridge per attachment point, holding its switches and direct devices.
  auto write_host_bridge = [&](int socket) {
    std::vector<PciFunction> all;
    for (const Attachment& attachment : attachments_) {
      if (attachment.socket != socket) continue;
      all.insert(all.end(), attachment.devices.begin(), attachment.devices.end());
    }
    if (all.empty()) return;
    const auto [low, high] = BusSpan(all);
    out.Open(absl::StrFormat(
        R"(<object type="Bridge" gp_index="%d" bridge_type="0-1" depth="0" bridge_pci="0000:[%02x-%02x]">)",
        out.NextGp(), low - 1, high));
    for (const Attachment& attachment : attachments_) {
      if (attachment.socket != socket) continue;
      if (attachment.behind_switch) {
        WriteSwitch(out, attachment.devices);
      } else {
        WriteDevice(out, attachment.devices.front());
      }
    }
    out.Close();
  };

  out.Line(R"(<?xml version="1.0" encoding="UTF-8"?>)");
  if (hwloc_v1_) {
    out.Line(R"(<!DOCTYPE topology SYSTEM "hwloc.dtd">)");
    out.Line(R"(<topology>)");
  } else {
    out.Line(R"(<!DOCTYPE topology SYSTEM "hwloc2.dtd">)");
    out.Line(R"(<topology version="2.0">)");
  }
  out.Open(absl::StrCat(R"(<object type="Machine" os_index="0" )", Sets(all_pus, all_numa),
                        " allowed_cpuset=\"", Mask(all_pus), "\" allowed_nodeset=\"",
                        Mask(all_numa), "\" gp_index=\"1\">"));
  out.Line(absl::StrCat(R"(<info name="HostName" value=")", host_name_, R"("/>)"));
  for (int socket = 0; socket < sockets_; ++socket) {
    std::vector<int> socket_pus;
    for (int core = 0; core < cores_per_socket_; ++core) {
      for (int thread = 0; thread < threads_per_core_; ++thread) {
        socket_pus.push_back(thread * total_cores + socket * cores_per_socket_ + core);
      }
    }
    const std::vector<int> numa = {socket};
    const std::string numa_object = absl::StrFormat(
        R"(<object type="NUMANode" os_index="%d" %s gp_index="%d" local_memory="%d")", socket,
        Sets(socket_pus, numa), out.NextGp(), memory_per_socket_mib_ * 1024 * 1024);
    // hwloc 1.x: the NUMA node is the package's parent; 2.x: a memory child of it.
    if (hwloc_v1_) out.Open(numa_object + ">");
    out.Open(absl::StrFormat(R"(<object type="Package" os_index="%d" %s gp_index="%d">)", socket,
                             Sets(socket_pus, numa), out.NextGp()));
    if (!hwloc_v1_) out.Line(numa_object + "/>");
    for (int core = 0; core < cores_per_socket_; ++core) {
      std::vector<int> core_pus;
      for (int thread = 0; thread < threads_per_core_; ++thread) {
        core_pus.push_back(thread * total_cores + socket * cores_per_socket_ + core);
      }
      out.Open(absl::StrFormat(R"(<object type="Core" os_index="%d" %s gp_index="%d">)", core,
                               Sets(core_pus, numa), out.NextGp()));
      for (int pu : core_pus) {
        out.Line(absl::StrFormat(R"(<object type="PU" os_index="%d" %s gp_index="%d"/>)", pu,
                                 Sets({pu}, numa), out.NextGp()));
      }
      out.Close();
    }
    write_host_bridge(socket);
    out.Close();
    if (hwloc_v1_) out.Close();
  }
  for (const auto& [os_index, mib] : cpuless_numa_) {
    // hwloc 1.x writes an empty cpuset; hwloc 2.x the parent's, and marks GPU memory.
    out.Line(absl::StrFormat(
        R"(<object type="NUMANode" os_index="%d" cpuset="%s" complete_cpuset="%s" nodeset="%s" complete_nodeset="%s" gp_index="%d" local_memory="%d"%s/>)",
        os_index, hwloc_v1_ ? "0x0" : Mask(all_pus), hwloc_v1_ ? "0x0" : Mask(all_pus),
        Mask({os_index}), Mask({os_index}), out.NextGp(), mib * 1024 * 1024,
        hwloc_v1_ ? "" : R"( subtype="GPUMemory")"));
  }
  write_host_bridge(kMachine);
  out.Close();
  if (!nvlinks_.empty()) {
    // The matrix hwloc's NVML backend writes: GPUs by their OS device, other peers
    // (NVSwitches) by their PCI device; 25000 MB/s per link, 1000000 on the diagonal.
    std::vector<std::pair<std::string, int>> objects;  // "type:gp", bus
    auto index_of = [&](int bus) {
      const bool gpu = out.nvml_gp.contains(bus);
      const std::string name = gpu ? absl::StrCat("OSDev:", out.nvml_gp.at(bus))
                                   : absl::StrCat("PCIDev:", out.pci_gp.at(bus));
      for (size_t i = 0; i < objects.size(); ++i) {
        if (objects[i].first == name) return i;
      }
      objects.emplace_back(name, bus);
      return objects.size() - 1;
    };
    for (const auto& [bus, gp] : out.nvml_gp) index_of(bus);
    for (const NvLinkEntry& link : nvlinks_) index_of(link.peer_bus);
    const size_t size = objects.size();
    std::vector<uint64_t> values(size * size, 0);
    for (size_t i = 0; i < size; ++i) values[i * size + i] = 1000000;
    for (const NvLinkEntry& link : nvlinks_) {
      const size_t a = index_of(link.gpu_bus);
      const size_t b = index_of(link.peer_bus);
      values[a * size + b] += 25000 * static_cast<uint64_t>(link.links);
      values[b * size + a] += 25000 * static_cast<uint64_t>(link.links);
    }
    // hwloc writes objects of one type as <distances2 type=...> with bare gp indexes,
    // mixed types (GPUs and NVSwitches) as <distances2hetero> with "type:gp".
    const bool only_gpus = std::all_of(objects.begin(), objects.end(), [](const auto& object) {
      return absl::StartsWith(object.first, "OSDev:");
    });
    std::vector<std::string> names;
    for (const auto& [name, bus] : objects) {
      names.push_back(only_gpus ? name.substr(name.find(':') + 1) : name);
    }
    const std::string indexes = absl::StrJoin(names, " ");
    const std::string numbers = absl::StrJoin(values, " ");
    const std::string tag = only_gpus ? "distances2" : "distances2hetero";
    out.Line(absl::StrFormat(R"(<%s%s nbobjs="%d" kind="9" name="NVLinkBandwidth"%s>)", tag,
                             only_gpus ? R"( type="OSDev")" : "", size,
                             only_gpus ? R"( indexing="gp")" : ""));
    out.Line(absl::StrFormat(R"(<indexes length="%d">%s</indexes>)", indexes.size(), indexes));
    out.Line(absl::StrFormat(R"(<u64values length="%d">%s</u64values>)", numbers.size(), numbers));
    out.Line(absl::StrCat("</", tag, ">"));
  }
  out.Line("</topology>");
  return out.Take();
}

std::string WriteTempFile(const std::string& name, const std::string& text) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::filesystem::path dir = tmp != nullptr ? tmp : std::filesystem::temp_directory_path();
  dir /= absl::StrCat("accelpack-probe-test-", getpid());
  std::filesystem::create_directories(dir);
  const std::filesystem::path path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace accelpack::probe::testing
