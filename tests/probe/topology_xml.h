// Builds small hwloc 2.x XML topologies with PCI devices for the probe's tests.
//
// Sockets hold one NUMA node each and Core/PU objects numbered as Linux does (PU
// os_index = thread * total_cores + core, so a socket's PUs are not contiguous).
// PCI devices hang below a host bridge per socket (or per machine), directly or
// behind a PCIe switch.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace accelpack::probe::testing {

struct PciFunction {
  int bus = 0;  // device 00, function 0 on this bus of domain 0000
  uint16_t vendor_id = 0;
  uint16_t device_id = 0;
  uint16_t class_id = 0;
};

PciFunction H100Sxm(int bus);
PciFunction H100Pcie(int bus);
PciFunction H200Sxm(int bus);
PciFunction Ascend910(int bus);
PciFunction Ascend910B(int bus);
PciFunction Ascend310P(int bus);
PciFunction NvSwitch(int bus);
PciFunction MellanoxNic(int bus);
PciFunction HuaweiNic(int bus);
PciFunction H100Nvl(int bus);
PciFunction V100Sxm2(int bus);
PciFunction IbmcVga(int bus);     // Huawei iBMC VGA, class 0300: not an NPU
PciFunction KunpengZip(int bus);  // Kunpeng ZIP engine, class 1200: not an NPU

class TopologyXmlBuilder {
 public:
  // Where PCI devices attach: a socket's index, or the machine (no CPU locality).
  static constexpr int kMachine = -1;

  TopologyXmlBuilder& HostName(std::string name);
  TopologyXmlBuilder& Cpus(int sockets, int cores_per_socket, int threads_per_core);
  TopologyXmlBuilder& MemoryPerSocketMib(int64_t mib);
  // Devices behind one PCIe switch (a root port bridge and the switch below it).
  TopologyXmlBuilder& Switch(int socket, std::vector<PciFunction> devices);
  // A device directly below the host bridge.
  TopologyXmlBuilder& Direct(int socket, PciFunction device);
  // Writes the old hwloc 1.x layout (NUMA nodes as parents of the packages,
  // <topology> without version), as `lstopo` 1.x exports.
  TopologyXmlBuilder& HwlocV1();
  // A NUMA node without CPUs (POWER9 V100 HBM as hwloc 1.x exports it).
  TopologyXmlBuilder& CpulessNumaNode(int os_index, int64_t mib);
  // NVLinks as hwloc's NVML backend exports them: an NVML OS device below every
  // NVIDIA GPU and the NVLinkBandwidth matrix (25000 MB/s per link) over those OS
  // devices and the NVSwitches (PCI devices) they reach. Buses name the devices.
  TopologyXmlBuilder& NvLink(int gpu_bus, int peer_bus, int links);

  std::string Build() const;

 private:
  struct Attachment {
    int socket = 0;
    bool behind_switch = false;
    std::vector<PciFunction> devices;
  };

  std::string host_name_ = "node01";
  bool hwloc_v1_ = false;
  std::vector<std::pair<int, int64_t>> cpuless_numa_;
  struct NvLinkEntry {
    int gpu_bus;
    int peer_bus;
    int links;
  };
  std::vector<NvLinkEntry> nvlinks_;
  int sockets_ = 1;
  int cores_per_socket_ = 2;
  int threads_per_core_ = 1;
  int64_t memory_per_socket_mib_ = 1024;
  std::vector<Attachment> attachments_;
};

// An HGX board without NVSwitch chips on PCI, its GPUs straight below the root
// complexes: `host`, 2 sockets x 4 cores x `threads_per_core`, 2048 MiB per socket,
// 8 GPUs made by `gpu` (/dev/nvidia0-3 on socket 0, 4-7 on socket 1).
TopologyXmlBuilder DirectHgx(const std::string& host, int threads_per_core,
                             PciFunction (*gpu)(int bus));

// Writes `text` to a fresh file under the test's temporary directory; returns its path.
std::string WriteTempFile(const std::string& name, const std::string& text);

}  // namespace accelpack::probe::testing
