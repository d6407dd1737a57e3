// The probe on topologies these tests build: exact gres.conf, NodeName and JSON.
#include "probe/probe.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "probe/report_json.h"
#include "topology_xml.h"

namespace accelpack::probe {
namespace {

using nlohmann::json;
using testing::TopologyXmlBuilder;

NodeInventory Probe(const TopologyXmlBuilder& builder, const ProbeOptions& options = {}) {
  absl::StatusOr<NodeInventory> node = ProbeXmlText(builder.Build(), "test.xml", options);
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? *node : NodeInventory{};
}

// One expected device of the JSON report.
struct Expected {
  int index;
  std::string kind;
  std::string pci_bus_id;
  std::string pci_id;
  json numa_nodes;
  json cores;
  json pcie_switch = nullptr;
  json link_group = nullptr;
};

json NvidiaDevice(const Expected& e, const std::string& model, const std::string& gres) {
  return {{"index", e.index},
          {"kind", e.kind},
          {"vendor", "nvidia"},
          {"model", e.kind == "unknown" ? json(nullptr) : json(model)},
          {"gres", e.kind == "unknown" ? json(nullptr) : json(gres)},
          {"file", "/dev/nvidia" + std::to_string(e.index)},
          {"pci_bus_id", e.pci_bus_id},
          {"pci_id", e.pci_id},
          {"numa_nodes", e.numa_nodes},
          {"cores", e.cores},
          {"pcie_switch", e.pcie_switch},
          {"link_group", e.link_group}};
}

json AscendDevice(const Expected& e, const std::string& model, const std::string& gres) {
  json device = NvidiaDevice(e, model, gres);
  device["vendor"] = "huawei";
  device["file"] = "/dev/davinci" + std::to_string(e.index);
  return device;
}

json Cpu(int sockets, int cores_per_socket, int threads_per_core, int memory_mib) {
  return {{"sockets", sockets},
          {"cores_per_socket", cores_per_socket},
          {"threads_per_core", threads_per_core},
          {"real_memory_mib", memory_mib}};
}

json Numa(int os_index, int memory_mib, json cores) {
  return {{"os_index", os_index}, {"memory_mib", memory_mib}, {"cores", cores}};
}

// --- 2 sockets, 8x H100 SXM on four PCIe switches, NVSwitch board ----------

TopologyXmlBuilder HgxH100() {
  using namespace testing;
  TopologyXmlBuilder builder;
  // Switch members and switches out of bus order: the probe must sort.
  builder.HostName("gpu01.cluster.example").Cpus(2, 4, 2).MemoryPerSocketMib(2048);
  builder.Switch(0, {H100Sxm(0x2b), H100Sxm(0x2a)}).Switch(0, {H100Sxm(0x19), H100Sxm(0x1a)});
  builder.Direct(0, MellanoxNic(0x3a));
  builder.Switch(1, {H100Sxm(0x9a), H100Sxm(0x99), MellanoxNic(0x9b)});
  builder.Switch(1, {H100Sxm(0xaa), H100Sxm(0xab)});
  builder.Switch(TopologyXmlBuilder::kMachine,
                 {NvSwitch(0x05), NvSwitch(0x06), NvSwitch(0x07), NvSwitch(0x08)});
  return builder;
}

// Links= as Slurm's NVML autodetect writes it: it counts only NVLinks whose far end
// is another GPU, and on HGX 8-GPU boards every NVLink ends at an NVSwitch.
TEST(ProbeHgxH100, GresConf) {
  EXPECT_EQ(RenderGresConf(Probe(HgxH100())),
            "# gres.conf lines for gpu01 (accelpack-probe)\n"
            "NodeName=gpu01 AutoDetect=off Name=gpu Type=h100 File=/dev/nvidia0 Cores=0-3 "
            "Links=-1,0,0,0,0,0,0,0\n"
            "NodeName=gpu01 Name=gpu Type=h100 File=/dev/nvidia1 Cores=0-3 "
            "Links=0,-1,0,0,0,0,0,0\n"
            "NodeName=gpu01 Name=gpu Type=h100 File=/dev/nvidia2 Cores=0-3 "
            "Links=0,0,-1,0,0,0,0,0\n"
            "NodeName=gpu01 Name=gpu Type=h100 File=/dev/nvidia3 Cores=0-3 "
            "Links=0,0,0,-1,0,0,0,0\n"
            "NodeName=gpu01 Name=gpu Type=h100 File=/dev/nvidia4 Cores=4-7 "
            "Links=0,0,0,0,-1,0,0,0\n"
            "NodeName=gpu01 Name=gpu Type=h100 File=/dev/nvidia5 Cores=4-7 "
            "Links=0,0,0,0,0,-1,0,0\n"
            "NodeName=gpu01 Name=gpu Type=h100 File=/dev/nvidia6 Cores=4-7 "
            "Links=0,0,0,0,0,0,-1,0\n"
            "NodeName=gpu01 Name=gpu Type=h100 File=/dev/nvidia7 Cores=4-7 "
            "Links=0,0,0,0,0,0,0,-1\n");
}

TEST(ProbeHgxH100, NodeName) {
  // 2 sockets x 4 cores x 2 threads, 2 x 2048 MiB.
  EXPECT_EQ(RenderNodeNameLine(Probe(HgxH100())),
            "NodeName=gpu01 Sockets=2 CoresPerSocket=4 ThreadsPerCore=2 RealMemory=4096 "
            "Gres=gpu:h100:8\n");
}

TEST(ProbeHgxH100, Report) {
  const std::string sxm = "NVIDIA H100 SXM5";
  const std::string gres = "gpu:h100";
  const json socket0 = {0, 1, 2, 3};
  const json socket1 = {4, 5, 6, 7};
  const json expected = {
      {"schema", "accelpack.probe/v1"},
      {"node", "gpu01"},
      {"cpu", Cpu(2, 4, 2, 4096)},
      {"numa_nodes", {Numa(0, 2048, socket0), Numa(1, 2048, socket1)}},
      {"kinds", {{{"kind", "h100"}, {"gres", gres}, {"count", 8}, {"interconnect", "nvswitch"}}}},
      {"devices",
       {
           NvidiaDevice({0, "h100", "0000:19:00.0", "10de:2330", {0}, socket0, 0, 0}, sxm, gres),
           NvidiaDevice({1, "h100", "0000:1a:00.0", "10de:2330", {0}, socket0, 0, 0}, sxm, gres),
           NvidiaDevice({2, "h100", "0000:2a:00.0", "10de:2330", {0}, socket0, 1, 0}, sxm, gres),
           NvidiaDevice({3, "h100", "0000:2b:00.0", "10de:2330", {0}, socket0, 1, 0}, sxm, gres),
           NvidiaDevice({4, "h100", "0000:99:00.0", "10de:2330", {1}, socket1, 2, 0}, sxm, gres),
           NvidiaDevice({5, "h100", "0000:9a:00.0", "10de:2330", {1}, socket1, 2, 0}, sxm, gres),
           NvidiaDevice({6, "h100", "0000:aa:00.0", "10de:2330", {1}, socket1, 3, 0}, sxm, gres),
           NvidiaDevice({7, "h100", "0000:ab:00.0", "10de:2330", {1}, socket1, 3, 0}, sxm, gres),
       }},
      {"pcie_switch_groups", {{0, 1}, {2, 3}, {4, 5}, {6, 7}}},
      {"link_groups", {{0, 1, 2, 3, 4, 5, 6, 7}}},
      {"notes", json::array()},
  };
  EXPECT_EQ(BuildReport(Probe(HgxH100())), expected);
}

// --- 8x H200 SXM attached straight to the root complexes --------------------

TopologyXmlBuilder HgxH200() {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("h200-07").Cpus(2, 2, 1).MemoryPerSocketMib(1000);
  for (int bus : {0x18, 0x2a, 0x3a, 0x5d}) builder.Direct(0, H200Sxm(bus));
  for (int bus : {0x9a, 0xab, 0xba, 0xdb}) builder.Direct(1, H200Sxm(bus));
  return builder;
}

TEST(ProbeHgxH200, GresConfAndNodeName) {
  const NodeInventory node = Probe(HgxH200());
  EXPECT_EQ(RenderGresConf(node),
            "# gres.conf lines for h200-07 (accelpack-probe)\n"
            "NodeName=h200-07 AutoDetect=off Name=gpu Type=h200 File=/dev/nvidia0 Cores=0-1 "
            "Links=-1,0,0,0,0,0,0,0\n"
            "NodeName=h200-07 Name=gpu Type=h200 File=/dev/nvidia1 Cores=0-1 "
            "Links=0,-1,0,0,0,0,0,0\n"
            "NodeName=h200-07 Name=gpu Type=h200 File=/dev/nvidia2 Cores=0-1 "
            "Links=0,0,-1,0,0,0,0,0\n"
            "NodeName=h200-07 Name=gpu Type=h200 File=/dev/nvidia3 Cores=0-1 "
            "Links=0,0,0,-1,0,0,0,0\n"
            "NodeName=h200-07 Name=gpu Type=h200 File=/dev/nvidia4 Cores=2-3 "
            "Links=0,0,0,0,-1,0,0,0\n"
            "NodeName=h200-07 Name=gpu Type=h200 File=/dev/nvidia5 Cores=2-3 "
            "Links=0,0,0,0,0,-1,0,0\n"
            "NodeName=h200-07 Name=gpu Type=h200 File=/dev/nvidia6 Cores=2-3 "
            "Links=0,0,0,0,0,0,-1,0\n"
            "NodeName=h200-07 Name=gpu Type=h200 File=/dev/nvidia7 Cores=2-3 "
            "Links=0,0,0,0,0,0,0,-1\n");
  EXPECT_EQ(RenderNodeNameLine(node),
            "NodeName=h200-07 Sockets=2 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=2000 "
            "Gres=gpu:h200:8\n");
}

TEST(ProbeHgxH200, Report) {
  const std::string model = "NVIDIA H200 SXM";
  const std::string gres = "gpu:h200";
  const json s0 = {0, 1};
  const json s1 = {2, 3};
  const json expected = {
      {"schema", "accelpack.probe/v1"},
      {"node", "h200-07"},
      {"cpu", Cpu(2, 2, 1, 2000)},
      {"numa_nodes", {Numa(0, 1000, s0), Numa(1, 1000, s1)}},
      {"kinds", {{{"kind", "h200"}, {"gres", gres}, {"count", 8}, {"interconnect", "nvswitch"}}}},
      {"devices",
       {
           NvidiaDevice({0, "h200", "0000:18:00.0", "10de:2335", {0}, s0, nullptr, 0}, model, gres),
           NvidiaDevice({1, "h200", "0000:2a:00.0", "10de:2335", {0}, s0, nullptr, 0}, model, gres),
           NvidiaDevice({2, "h200", "0000:3a:00.0", "10de:2335", {0}, s0, nullptr, 0}, model, gres),
           NvidiaDevice({3, "h200", "0000:5d:00.0", "10de:2335", {0}, s0, nullptr, 0}, model, gres),
           NvidiaDevice({4, "h200", "0000:9a:00.0", "10de:2335", {1}, s1, nullptr, 0}, model, gres),
           NvidiaDevice({5, "h200", "0000:ab:00.0", "10de:2335", {1}, s1, nullptr, 0}, model, gres),
           NvidiaDevice({6, "h200", "0000:ba:00.0", "10de:2335", {1}, s1, nullptr, 0}, model, gres),
           NvidiaDevice({7, "h200", "0000:db:00.0", "10de:2335", {1}, s1, nullptr, 0}, model, gres),
       }},
      {"pcie_switch_groups", json::array()},
      {"link_groups", {{0, 1, 2, 3, 4, 5, 6, 7}}},
      {"notes", json::array()},
  };
  EXPECT_EQ(BuildReport(Probe(HgxH200())), expected);
}

// --- 8x Ascend 910B (Atlas 800T A2): one HCCS group of 8 ---------------------

TopologyXmlBuilder Atlas800TA2() {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("npu-a2-01").Cpus(2, 2, 1).MemoryPerSocketMib(512);
  for (int bus : {0x41, 0x01, 0x42, 0x02}) builder.Direct(0, Ascend910B(bus));
  builder.Direct(0, HuaweiNic(0x3d));  // the board's RoCE NIC: not an accelerator
  for (int bus : {0xc1, 0x81, 0xc2, 0x82}) builder.Direct(1, Ascend910B(bus));
  return builder;
}

TEST(ProbeAscend910B, GresConfAndNodeName) {
  const NodeInventory node = Probe(Atlas800TA2());
  EXPECT_EQ(RenderGresConf(node),
            "# gres.conf lines for npu-a2-01 (accelpack-probe)\n"
            "# /dev/davinciN numbered in PCI bus order; compare with `npu-smi info -m`\n"
            "NodeName=npu-a2-01 AutoDetect=off Name=npu Type=910b File=/dev/davinci0 Cores=0-1 "
            "Links=-1,1,1,1,1,1,1,1\n"
            "NodeName=npu-a2-01 Name=npu Type=910b File=/dev/davinci1 Cores=0-1 "
            "Links=1,-1,1,1,1,1,1,1\n"
            "NodeName=npu-a2-01 Name=npu Type=910b File=/dev/davinci2 Cores=0-1 "
            "Links=1,1,-1,1,1,1,1,1\n"
            "NodeName=npu-a2-01 Name=npu Type=910b File=/dev/davinci3 Cores=0-1 "
            "Links=1,1,1,-1,1,1,1,1\n"
            "NodeName=npu-a2-01 Name=npu Type=910b File=/dev/davinci4 Cores=2-3 "
            "Links=1,1,1,1,-1,1,1,1\n"
            "NodeName=npu-a2-01 Name=npu Type=910b File=/dev/davinci5 Cores=2-3 "
            "Links=1,1,1,1,1,-1,1,1\n"
            "NodeName=npu-a2-01 Name=npu Type=910b File=/dev/davinci6 Cores=2-3 "
            "Links=1,1,1,1,1,1,-1,1\n"
            "NodeName=npu-a2-01 Name=npu Type=910b File=/dev/davinci7 Cores=2-3 "
            "Links=1,1,1,1,1,1,1,-1\n");
  EXPECT_EQ(RenderNodeNameLine(node),
            "NodeName=npu-a2-01 Sockets=2 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=1024 "
            "Gres=npu:910b:8\n");
}

TEST(ProbeAscend910B, Report) {
  const std::string model = "Huawei Ascend 910B";
  const std::string gres = "npu:910b";
  const json s0 = {0, 1};
  const json s1 = {2, 3};
  const json expected = {
      {"schema", "accelpack.probe/v1"},
      {"node", "npu-a2-01"},
      {"cpu", Cpu(2, 2, 1, 1024)},
      {"numa_nodes", {Numa(0, 512, s0), Numa(1, 512, s1)}},
      {"kinds", {{{"kind", "ascend910b"}, {"gres", gres}, {"count", 8}, {"interconnect", "hccs"}}}},
      {"devices",
       {
           AscendDevice({0, "ascend910b", "0000:01:00.0", "19e5:d802", {0}, s0, nullptr, 0}, model,
                        gres),
           AscendDevice({1, "ascend910b", "0000:02:00.0", "19e5:d802", {0}, s0, nullptr, 0}, model,
                        gres),
           AscendDevice({2, "ascend910b", "0000:41:00.0", "19e5:d802", {0}, s0, nullptr, 0}, model,
                        gres),
           AscendDevice({3, "ascend910b", "0000:42:00.0", "19e5:d802", {0}, s0, nullptr, 0}, model,
                        gres),
           AscendDevice({4, "ascend910b", "0000:81:00.0", "19e5:d802", {1}, s1, nullptr, 0}, model,
                        gres),
           AscendDevice({5, "ascend910b", "0000:82:00.0", "19e5:d802", {1}, s1, nullptr, 0}, model,
                        gres),
           AscendDevice({6, "ascend910b", "0000:c1:00.0", "19e5:d802", {1}, s1, nullptr, 0}, model,
                        gres),
           AscendDevice({7, "ascend910b", "0000:c2:00.0", "19e5:d802", {1}, s1, nullptr, 0}, model,
                        gres),
       }},
      {"pcie_switch_groups", json::array()},
      {"link_groups", {{0, 1, 2, 3, 4, 5, 6, 7}}},
      {"notes", json::array()},
  };
  EXPECT_EQ(BuildReport(Probe(Atlas800TA2())), expected);
}

// --- Ascend 910 (Atlas 800 first generation): two HCCS rings of 4 -----------

TopologyXmlBuilder Atlas800() {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("npu-910-01").Cpus(2, 2, 1).MemoryPerSocketMib(512);
  builder.Switch(0, {Ascend910(0x3d), Ascend910(0x3e), Ascend910(0x3f), Ascend910(0x40)});
  builder.Switch(1, {Ascend910(0xbd), Ascend910(0xbe), Ascend910(0xbf), Ascend910(0xc0)});
  return builder;
}

TEST(ProbeAscend910, GresConfHasTwoRings) {
  EXPECT_EQ(RenderGresConf(Probe(Atlas800())),
            "# gres.conf lines for npu-910-01 (accelpack-probe)\n"
            "# /dev/davinciN numbered in PCI bus order; compare with `npu-smi info -m`\n"
            "NodeName=npu-910-01 AutoDetect=off Name=npu Type=910 File=/dev/davinci0 Cores=0-1 "
            "Links=-1,1,1,1,0,0,0,0\n"
            "NodeName=npu-910-01 Name=npu Type=910 File=/dev/davinci1 Cores=0-1 "
            "Links=1,-1,1,1,0,0,0,0\n"
            "NodeName=npu-910-01 Name=npu Type=910 File=/dev/davinci2 Cores=0-1 "
            "Links=1,1,-1,1,0,0,0,0\n"
            "NodeName=npu-910-01 Name=npu Type=910 File=/dev/davinci3 Cores=0-1 "
            "Links=1,1,1,-1,0,0,0,0\n"
            "NodeName=npu-910-01 Name=npu Type=910 File=/dev/davinci4 Cores=2-3 "
            "Links=0,0,0,0,-1,1,1,1\n"
            "NodeName=npu-910-01 Name=npu Type=910 File=/dev/davinci5 Cores=2-3 "
            "Links=0,0,0,0,1,-1,1,1\n"
            "NodeName=npu-910-01 Name=npu Type=910 File=/dev/davinci6 Cores=2-3 "
            "Links=0,0,0,0,1,1,-1,1\n"
            "NodeName=npu-910-01 Name=npu Type=910 File=/dev/davinci7 Cores=2-3 "
            "Links=0,0,0,0,1,1,1,-1\n");
}

TEST(ProbeAscend910, Report) {
  const std::string model = "Huawei Ascend 910";
  const std::string gres = "npu:910";
  const json s0 = {0, 1};
  const json s1 = {2, 3};
  const json expected = {
      {"schema", "accelpack.probe/v1"},
      {"node", "npu-910-01"},
      {"cpu", Cpu(2, 2, 1, 1024)},
      {"numa_nodes", {Numa(0, 512, s0), Numa(1, 512, s1)}},
      {"kinds", {{{"kind", "ascend910"}, {"gres", gres}, {"count", 8}, {"interconnect", "hccs"}}}},
      {"devices",
       {
           AscendDevice({0, "ascend910", "0000:3d:00.0", "19e5:d801", {0}, s0, 0, 0}, model, gres),
           AscendDevice({1, "ascend910", "0000:3e:00.0", "19e5:d801", {0}, s0, 0, 0}, model, gres),
           AscendDevice({2, "ascend910", "0000:3f:00.0", "19e5:d801", {0}, s0, 0, 0}, model, gres),
           AscendDevice({3, "ascend910", "0000:40:00.0", "19e5:d801", {0}, s0, 0, 0}, model, gres),
           AscendDevice({4, "ascend910", "0000:bd:00.0", "19e5:d801", {1}, s1, 1, 1}, model, gres),
           AscendDevice({5, "ascend910", "0000:be:00.0", "19e5:d801", {1}, s1, 1, 1}, model, gres),
           AscendDevice({6, "ascend910", "0000:bf:00.0", "19e5:d801", {1}, s1, 1, 1}, model, gres),
           AscendDevice({7, "ascend910", "0000:c0:00.0", "19e5:d801", {1}, s1, 1, 1}, model, gres),
       }},
      {"pcie_switch_groups", {{0, 1, 2, 3}, {4, 5, 6, 7}}},
      {"link_groups", {{0, 1, 2, 3}, {4, 5, 6, 7}}},
      {"notes", json::array()},
  };
  EXPECT_EQ(BuildReport(Probe(Atlas800())), expected);
}

// --- no accelerators (a NIC only) --------------------------------------------

TopologyXmlBuilder CpuNode() {
  testing::TopologyXmlBuilder builder;
  builder.HostName("cpu01").Cpus(1, 2, 1).MemoryPerSocketMib(1024);
  builder.Direct(0, testing::MellanoxNic(0x01));
  return builder;
}

TEST(ProbeCpuNode, NoAcceleratorsStillGivesNodeName) {
  const NodeInventory node = Probe(CpuNode());
  EXPECT_EQ(RenderGresConf(node),
            "# gres.conf lines for cpu01 (accelpack-probe)\n"
            "# no accelerators found\n");
  EXPECT_EQ(RenderNodeNameLine(node),
            "NodeName=cpu01 Sockets=1 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=1024\n");
  EXPECT_EQ(BuildReport(node), R"({
    "schema": "accelpack.probe/v1", "node": "cpu01",
    "cpu": {"sockets": 1, "cores_per_socket": 2, "threads_per_core": 1, "real_memory_mib": 1024},
    "numa_nodes": [{"os_index": 0, "memory_mib": 1024, "cores": [0, 1]}],
    "kinds": [], "devices": [], "pcie_switch_groups": [], "link_groups": [], "notes": []
  })"_json);
}

// --- mixed vendors, unknown devices, a device with no CPU locality ----------

TopologyXmlBuilder MixedNode() {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("mixed01").Cpus(2, 2, 1).MemoryPerSocketMib(256);
  builder.Direct(0, H100Pcie(0x21));
  builder.Direct(0, {0x11, 0x10de, 0x20b5, 0x0302});  // an A100: NVIDIA, not in the catalog
  builder.Direct(1, Ascend310P(0x81));
  builder.Direct(1, {0x82, 0x19e5, 0xd999, 0x1200});  // a future Ascend
  builder.Direct(1, HuaweiNic(0x83));
  builder.Direct(TopologyXmlBuilder::kMachine, H100Pcie(0x05));
  return builder;
}

TEST(ProbeMixedNode, GresConfSkipsUnknownDevices) {
  const NodeInventory node = Probe(MixedNode());
  // The A100 still takes /dev/nvidia1: the driver numbers every NVIDIA GPU.
  EXPECT_EQ(RenderGresConf(node),
            "# gres.conf lines for mixed01 (accelpack-probe)\n"
            "# /dev/davinciN numbered in PCI bus order; compare with `npu-smi info -m`\n"
            "NodeName=mixed01 AutoDetect=off Name=gpu Type=h100 File=/dev/nvidia0 Cores=0-3\n"
            "# skipped /dev/nvidia1 (0000:11:00.0): nvidia device 10de:20b5 is not in "
            "accelpack's PCI catalog\n"
            "NodeName=mixed01 Name=gpu Type=h100 File=/dev/nvidia2 Cores=0-1\n"
            "NodeName=mixed01 Name=npu Type=310p File=/dev/davinci0 Cores=2-3\n"
            "# skipped 0000:82:00.0: huawei device 19e5:d999 is not in accelpack's PCI "
            "catalog; no /dev/davinci number given to it (if it is an NPU, number it with "
            "--npu-map)\n");
  EXPECT_EQ(RenderNodeNameLine(node),
            "NodeName=mixed01 Sockets=2 CoresPerSocket=2 ThreadsPerCore=1 RealMemory=512 "
            "Gres=gpu:h100:2,npu:310p:1\n");
}

TEST(ProbeMixedNode, Report) {
  const std::string pcie = "NVIDIA H100 PCIe";
  const json all = {0, 1, 2, 3};
  const json s0 = {0, 1};
  const json s1 = {2, 3};
  const json none = json::array();
  json expected = {
      {"schema", "accelpack.probe/v1"},
      {"node", "mixed01"},
      {"cpu", Cpu(2, 2, 1, 512)},
      {"numa_nodes", {Numa(0, 256, s0), Numa(1, 256, s1)}},
      {"kinds",
       {{{"kind", "h100"}, {"gres", "gpu:h100"}, {"count", 2}, {"interconnect", "none"}},
        {{"kind", "ascend310p"}, {"gres", "npu:310p"}, {"count", 1}, {"interconnect", "none"}}}},
      {"devices",
       {
           // Attached to the whole machine: every core, no NUMA node closer than another.
           NvidiaDevice({0, "h100", "0000:05:00.0", "10de:2331", none, all}, pcie, "gpu:h100"),
           NvidiaDevice({1, "unknown", "0000:11:00.0", "10de:20b5", {0}, s0}, "", ""),
           NvidiaDevice({2, "h100", "0000:21:00.0", "10de:2331", {0}, s0}, pcie, "gpu:h100"),
           AscendDevice({0, "ascend310p", "0000:81:00.0", "19e5:d500", {1}, s1},
                        "Huawei Ascend 310P", "npu:310p"),
       }},
      {"pcie_switch_groups", json::array()},
      {"link_groups", json::array()},
      {"notes", json::array()},
  };
  // A Huawei device outside the catalog has no device file: listed apart.
  json unnumbered = AscendDevice({0, "unknown", "0000:82:00.0", "19e5:d999", {1}, s1}, "", "");
  unnumbered["index"] = nullptr;
  unnumbered["file"] = nullptr;
  // Spelled as an array: a one-element braced list is an object to some compilers.
  expected["unnumbered_devices"] = nlohmann::json::array({unnumbered});
  EXPECT_EQ(BuildReport(Probe(MixedNode())), expected);
}

// Half an HGX 8-GPU board (NVSwitches seen, 4 GPUs passed through): the probe does
// not invent links for it.
TEST(ProbePartialBoard, NoLinksAndANote) {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("half01").Cpus(1, 2, 1);
  for (int bus : {0x18, 0x2a, 0x3a, 0x5d}) builder.Direct(0, H100Sxm(bus));
  builder.Switch(TopologyXmlBuilder::kMachine, {NvSwitch(0x05), NvSwitch(0x06)});
  const NodeInventory node = Probe(builder);
  EXPECT_EQ(RenderGresConf(node),
            "# gres.conf lines for half01 (accelpack-probe)\n"
            "# note: 4 NVIDIA H100 SXM5 devices are not whole boards of 8 or 4 (NVSwitch "
            "seen): links left unknown\n"
            "NodeName=half01 AutoDetect=off Name=gpu Type=h100 File=/dev/nvidia0 Cores=0-1\n"
            "NodeName=half01 Name=gpu Type=h100 File=/dev/nvidia1 Cores=0-1\n"
            "NodeName=half01 Name=gpu Type=h100 File=/dev/nvidia2 Cores=0-1\n"
            "NodeName=half01 Name=gpu Type=h100 File=/dev/nvidia3 Cores=0-1\n");
  EXPECT_EQ(BuildReport(node)["notes"],
            json({"4 NVIDIA H100 SXM5 devices are not whole boards of 8 or 4 (NVSwitch seen): "
                  "links left unknown"}));
}

// One GPU of a board passed to a VM (the common cloud node): no peer, so nothing
// about links is unknown and the gres.conf carries no note.
TEST(ProbePartialBoard, OneGpuHasNoLinkNote) {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("vm1").Cpus(1, 2, 1).Direct(0, H100Sxm(0x06));
  const NodeInventory node = Probe(builder);
  EXPECT_EQ(RenderGresConf(node),
            "# gres.conf lines for vm1 (accelpack-probe)\n"
            "NodeName=vm1 AutoDetect=off Name=gpu Type=h100 File=/dev/nvidia0 Cores=0-1\n");
  EXPECT_EQ(BuildReport(node)["notes"], json::array());
}

// On the live machine the NVIDIA driver's own numbers name /dev/nvidiaN; a GPU the
// driver does not list (bound to vfio-pci) gets no device file and no gres.conf line.
TEST(ProbeNvidiaMinors, DriverNumbersWinOverBusOrder) {
  using namespace testing;
  TopologyXmlBuilder builder;
  builder.HostName("gpu07").Cpus(1, 4, 1);
  for (int bus : {0x18, 0x2a, 0x3a, 0x5d}) builder.Direct(0, H100Sxm(bus));
  ProbeOptions options;
  options.nvidia_minors =
      NvidiaMinors{{"0000:2a:00.0", 0}, {"0000:18:00.0", 1}, {"0000:5d:00.0", 2}};
  const NodeInventory node = Probe(builder, options);
  ASSERT_EQ(node.devices.size(), 4u);
  EXPECT_EQ(node.devices[0].pci_bus_id, "0000:2a:00.0");
  EXPECT_EQ(node.devices[0].DeviceFile(), "/dev/nvidia0");
  EXPECT_EQ(node.devices[1].pci_bus_id, "0000:18:00.0");
  EXPECT_EQ(node.devices[2].DeviceFile(), "/dev/nvidia2");
  EXPECT_FALSE(node.devices[3].numbered());
  const std::string gres = RenderGresConf(node);
  EXPECT_NE(gres.find("# skipped 0000:3a:00.0: NVIDIA H100 SXM5 10de:2330 has no /dev/nvidia "
                      "file: the NVIDIA driver does not list it"),
            std::string::npos)
      << gres;
  EXPECT_NE(RenderNodeNameLine(node).find(" Gres=gpu:h100:3"), std::string::npos);
  // Without the driver's numbers (an export) the same GPUs go in bus order.
  const NodeInventory exported = Probe(builder);
  EXPECT_EQ(exported.devices[0].pci_bus_id, "0000:18:00.0");
  EXPECT_EQ(exported.devices[3].DeviceFile(), "/dev/nvidia3");
}

// Every builder topology is one hwloc accepts (the same check as `lstopo -i`).
TEST(TopologyXmlBuilder, BuildsXmlThatHwlocLoads) {
  for (const TopologyXmlBuilder& builder :
       {HgxH100(), HgxH200(), Atlas800TA2(), Atlas800(), CpuNode(), MixedNode()}) {
    EXPECT_TRUE(ProbeXmlText(builder.Build(), "test.xml").ok());
  }
}

}  // namespace
}  // namespace accelpack::probe
