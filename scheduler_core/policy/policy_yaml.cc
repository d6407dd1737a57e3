// The policy file format (YAML). Every error names file:line:column and the key.
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include "accelpack/v1/wire_text.h"
#include "common/bounded_file.h"
#include "common/strings.h"
#include "model/cluster.h"
#include "policy/policy.h"
#include "policy/registry.h"

namespace accelpack::policy {

namespace {

// Thrown only inside this file and always turned into a Status at the boundary.
struct ParseError {
  std::string message;
};

[[noreturn]] void Fail(const YAML::Mark& mark, std::string_view path, std::string_view problem) {
  throw ParseError{Cat(mark.line + 1, ":", mark.column + 1, ": ", path, ": ", problem)};
}

[[noreturn]] void Fail(const YAML::Node& node, std::string_view path, std::string_view problem) {
  Fail(node.Mark(), path, problem);
}

// What the text holds beyond one plain document, found by walking its events before
// any tree is built: a second document (yaml-cpp's LoadAll never returns on some
// malformed input: ",:a:" yields empty documents without end, eating memory), and
// aliases (a dozen nested `*a` lines of 1 KB name 10^12 paths, which any walk of the
// loaded tree visits one by one: a policy spells its values out).
class DocumentShape final : public YAML::EventHandler {
 public:
  static DocumentShape Of(const std::string& text) {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentShape shape;
    for (int document = 0; document < 2 && parser.HandleNextDocument(shape); ++document) {
    }
    return shape;
  }
  const std::optional<YAML::Mark>& second_document() const { return second_document_; }
  const std::optional<YAML::Mark>& first_alias() const { return first_alias_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (seen_++ == 1) second_document_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    if (!first_alias_) first_alias_ = mark;
  }
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

 private:
  int seen_ = 0;
  std::optional<YAML::Mark> second_document_;
  std::optional<YAML::Mark> first_alias_;
};

template <typename T>
T As(const YAML::Node& node, std::string_view path, std::string_view expected) {
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    Fail(node, path, Cat("expected ", expected));
  }
}

// A number that is a number: NaN and infinities are refused (a NaN weight makes
// every comparison false, so the queue order would be lost).
double Number(const YAML::Node& node, std::string_view path) {
  const double value = As<double>(node, path, "a number");
  if (!std::isfinite(value)) Fail(node, path, "expected a finite number");
  return value;
}

// Refused anywhere in the file: duplicate keys (YAML forbids them, and a reader
// would not know which of the two took effect) and text that is not printable
// UTF-8 (a name with a carriage return or a stray byte shows differently from what
// was written, and the policy as shown would not read back the same).
void RefuseDuplicateKeysAndBadText(const YAML::Node& node, const std::string& path) {
  if (node.IsScalar() && !wire::IsPrintable(node.Scalar())) {
    Fail(node, path,
         Cat("expected printable UTF-8 text, not \"", wire::Printable(node.Scalar(), 80), "\""));
  }
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      RefuseDuplicateKeysAndBadText(node[i], Cat(path, "[", i, "]"));
    }
    return;
  }
  if (!node.IsMap()) return;
  std::set<std::string> seen;
  for (const auto& entry : node) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "?";
    const std::string at =
        path.empty() ? wire::Printable(key) : Cat(path, ".", wire::Printable(key));
    RefuseDuplicateKeysAndBadText(entry.first, at);
    if (!seen.insert(key).second) Fail(entry.first, at, "duplicate key");
    RefuseDuplicateKeysAndBadText(entry.second, at);
  }
}

void ExpectMap(const YAML::Node& node, std::string_view path,
               std::initializer_list<std::string_view> keys) {
  if (!node.IsMap()) Fail(node, path, "expected a mapping");
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      Fail(entry.first, Cat(path, ".", key), "unknown key");
    }
  }
}

model::JobClass ClassAt(const YAML::Node& node, std::string_view path) {
  auto parsed = ParseClass(As<std::string>(node, path, "a class name"));
  if (!parsed.ok()) Fail(node, path, MessageOf(parsed.status()));
  return *parsed;
}

void ParseQueue(const YAML::Node& node, QueueOrderConfig& queue) {
  ExpectMap(node, "queue",
            {"priority_weight", "age_weight_per_hour", "default_class", "class_boost",
             "partition_classes", "qos_classes", "max_wait_s"});
  if (node["priority_weight"])
    queue.priority_weight = Number(node["priority_weight"], "queue.priority_weight");
  if (node["age_weight_per_hour"]) {
    queue.age_weight_per_hour = Number(node["age_weight_per_hour"], "queue.age_weight_per_hour");
  }
  if (node["default_class"])
    queue.default_class = ClassAt(node["default_class"], "queue.default_class");
  if (const YAML::Node boost = node["class_boost"]) {
    if (!boost.IsMap()) Fail(boost, "queue.class_boost", "expected a mapping class: number");
    queue.class_boost.clear();
    for (const auto& entry : boost) {
      const std::string path = Cat("queue.class_boost.", entry.first.as<std::string>());
      queue.class_boost[ClassAt(entry.first, path)] = Number(entry.second, path);
    }
  }
  if (const YAML::Node bounds = node["max_wait_s"]) {
    if (!bounds.IsMap()) Fail(bounds, "queue.max_wait_s", "expected a mapping class: seconds");
    queue.max_wait_s.clear();
    for (const auto& entry : bounds) {
      const std::string path = Cat("queue.max_wait_s.", entry.first.as<std::string>());
      const auto seconds = As<int64_t>(entry.second, path, "a whole number of seconds");
      // Up to ten years: beyond that a bound means nothing, and wait arithmetic stays safe.
      if (seconds <= 0 || seconds > int64_t{10} * 365 * 24 * 3600) {
        Fail(entry.second, path, "expected 1 .. 315360000 seconds");
      }
      queue.max_wait_s[ClassAt(entry.first, path)] = seconds;
    }
  }
  for (auto [key, target] : {std::pair{"partition_classes", &queue.partition_classes},
                             std::pair{"qos_classes", &queue.qos_classes}}) {
    const YAML::Node map = node[key];
    if (!map) continue;
    if (!map.IsMap()) Fail(map, Cat("queue.", key), "expected a mapping name: class");
    target->clear();
    for (const auto& entry : map) {
      const std::string name = entry.first.as<std::string>();
      (*target)[name] = ClassAt(entry.second, Cat("queue.", key, ".", name));
    }
  }
}

void ParseScorers(const YAML::Node& node, std::vector<ScorerConfig>& scorers) {
  if (!node.IsSequence()) Fail(node, "scorers", "expected a list");
  scorers.clear();
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string path = Cat("scorers[", i, "]");
    ExpectMap(item, path, {"name", "weight", "args"});
    ScorerConfig scorer;
    if (!item["name"]) Fail(item, path + ".name", "missing");
    scorer.name = As<std::string>(item["name"], path + ".name", "a scorer name");
    if (item["weight"]) {
      scorer.weight = Number(item["weight"], path + ".weight");
      if (scorer.weight < 0) Fail(item["weight"], path + ".weight", "must be >= 0");
    }
    const YAML::Node args = item["args"];
    if (args) {
      if (!args.IsMap()) Fail(args, path + ".args", "expected a mapping");
      for (const auto& entry : args) {
        const std::string key = entry.first.as<std::string>();
        scorer.args[key] = As<std::string>(entry.second, Cat(path, ".args.", key), "a scalar");
      }
    }
    // Built here, not only at the end, so its error points into the file.
    if (auto built = MakeScorer(scorer.name, scorer.args); !built.ok()) {
      Fail(args ? args : item, path, MessageOf(built.status()));
    }
    scorers.push_back(std::move(scorer));
  }
}

template <typename T>
T Bounded(const YAML::Node& node, std::string_view path, T high) {
  const T value = As<T>(node, path, "an integer");
  if (value < 0 || value > high) Fail(node, path, Cat(value, " outside 0..", high));
  return value;
}

void ParseLimits(const YAML::Node& node, engine::EngineLimits& limits) {
  ExpectMap(node, "limits",
            {"max_reservations", "max_jobs_per_cycle", "default_time_limit_s",
             "reservations_hold_whole_nodes", "reservation_window_s", "select_consecutive_runs"});
  constexpr int kMaxCount = std::numeric_limits<int>::max();
  if (node["max_reservations"])
    limits.max_reservations =
        Bounded(node["max_reservations"], "limits.max_reservations", kMaxCount);
  if (node["max_jobs_per_cycle"])
    limits.max_jobs_per_cycle =
        Bounded(node["max_jobs_per_cycle"], "limits.max_jobs_per_cycle", kMaxCount);
  if (node["default_time_limit_s"]) {
    // Bounded as snapshot time limits are (model::kMaxTimeS), so that no end time overflows.
    limits.default_time_limit_s =
        Bounded(node["default_time_limit_s"], "limits.default_time_limit_s", model::kMaxTimeS);
  }
  if (node["reservations_hold_whole_nodes"]) {
    limits.reservations_hold_whole_nodes =
        As<bool>(node["reservations_hold_whole_nodes"], "limits.reservations_hold_whole_nodes",
                 "true or false");
  }
  if (node["reservation_window_s"]) {
    limits.reservation_window_s =
        Bounded(node["reservation_window_s"], "limits.reservation_window_s", model::kMaxTimeS);
  }
  if (node["select_consecutive_runs"]) {
    limits.select_consecutive_runs = As<bool>(node["select_consecutive_runs"],
                                              "limits.select_consecutive_runs", "true or false");
  }
}

std::vector<std::string> Names(const YAML::Node& node, const std::string& path) {
  if (!node.IsSequence()) Fail(node, path, "expected a list of names");
  std::vector<std::string> names;
  for (size_t i = 0; i < node.size(); ++i) {
    names.push_back(As<std::string>(node[i], Cat(path, "[", i, "]"), "a name"));
    if (names.back().empty()) Fail(node[i], Cat(path, "[", i, "]"), "empty name");
  }
  return names;
}

void ParsePreemption(const YAML::Node& node, engine::PreemptionRules& rules) {
  ExpectMap(node, "preemption",
            {"partitions", "qos", "harvest", "reclaim_for", "reclaim_after_s", "min_runtime_s",
             "max_victims_per_job", "max_reclaims_per_cycle"});
  if (node["partitions"]) rules.partitions = Names(node["partitions"], "preemption.partitions");
  if (node["qos"]) rules.qos = Names(node["qos"], "preemption.qos");
  if (node["harvest"])
    rules.harvest = As<bool>(node["harvest"], "preemption.harvest", "true or false");
  if (const YAML::Node classes = node["reclaim_for"]) {
    if (!classes.IsSequence())
      Fail(classes, "preemption.reclaim_for", "expected a list of classes");
    rules.reclaim_for.clear();
    for (size_t i = 0; i < classes.size(); ++i) {
      rules.reclaim_for.push_back(ClassAt(classes[i], Cat("preemption.reclaim_for[", i, "]")));
    }
  }
  constexpr int kMaxCount = std::numeric_limits<int>::max();
  if (node["reclaim_after_s"]) {
    rules.reclaim_after_s =
        Bounded(node["reclaim_after_s"], "preemption.reclaim_after_s", model::kMaxTimeS);
  }
  if (node["min_runtime_s"]) {
    rules.min_runtime_s =
        Bounded(node["min_runtime_s"], "preemption.min_runtime_s", model::kMaxTimeS);
  }
  if (node["max_victims_per_job"]) {
    rules.max_victims_per_job =
        Bounded(node["max_victims_per_job"], "preemption.max_victims_per_job", kMaxCount);
  }
  if (node["max_reclaims_per_cycle"]) {
    rules.max_reclaims_per_cycle =
        Bounded(node["max_reclaims_per_cycle"], "preemption.max_reclaims_per_cycle", kMaxCount);
  }
}

void ParseKinds(const YAML::Node& node, std::vector<model::GresKindMapping>& kinds) {
  if (!node.IsSequence()) Fail(node, "kinds", "expected a list");
  model::Catalog catalog = model::Catalog::BuiltIn();
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    const std::string path = Cat("kinds[", i, "]");
    ExpectMap(item, path, {"gres", "kind"});
    if (!item["gres"] || !item["kind"]) Fail(item, path, "needs gres: NAME:TYPE and kind: KIND");
    const std::string gres = As<std::string>(item["gres"], path + ".gres", "NAME:TYPE");
    const size_t colon = gres.find(':');
    if (colon == std::string::npos || colon == 0)
      Fail(item["gres"], path + ".gres", "expected NAME:TYPE");
    kinds.push_back({gres.substr(0, colon), gres.substr(colon + 1),
                     As<std::string>(item["kind"], path + ".kind", "a kind name")});
    if (absl::Status status = catalog.MapGres(kinds.back()); !status.ok()) {
      Fail(item["kind"], path + ".kind", MessageOf(status));
    }
  }
}

PolicyConfig ParseDocument(const YAML::Node& root) {
  PolicyConfig config = DefaultPolicy();
  if (!root || root.IsNull()) return config;
  RefuseDuplicateKeysAndBadText(root, "");
  ExpectMap(root, "policy",
            {"name", "queue", "filters", "scorers", "limits", "kinds", "preemption"});
  if (root["name"]) config.name = As<std::string>(root["name"], "name", "a string");
  if (root["queue"]) ParseQueue(root["queue"], config.queue);
  if (const YAML::Node filters = root["filters"]) {
    if (!filters.IsSequence()) Fail(filters, "filters", "expected a list of filter names");
    config.filters.clear();
    for (size_t i = 0; i < filters.size(); ++i) {
      const std::string path = Cat("filters[", i, "]");
      config.filters.push_back(As<std::string>(filters[i], path, "a filter name"));
      if (auto built = MakeFilter(config.filters.back()); !built.ok()) {
        Fail(filters[i], path, MessageOf(built.status()));
      }
    }
  }
  if (root["scorers"]) ParseScorers(root["scorers"], config.scorers);
  if (root["limits"]) ParseLimits(root["limits"], config.limits);
  if (root["kinds"]) ParseKinds(root["kinds"], config.kinds);
  if (root["preemption"]) ParsePreemption(root["preemption"], config.preemption);
  return config;
}

}  // namespace

absl::StatusOr<PolicyConfig> ParsePolicyYaml(std::string_view text, std::string_view source) {
  PolicyConfig config;
  try {
    const std::string owned(text);
    const DocumentShape shape = DocumentShape::Of(owned);
    // One document: a second one (after "---") would be silently ignored otherwise.
    if (shape.second_document()) {
      Fail(*shape.second_document(), "policy",
           "a policy file holds one YAML document, found more (remove the extra \"---\")");
    }
    if (shape.first_alias()) {
      Fail(*shape.first_alias(), "policy",
           "a policy file uses no YAML aliases (*name): write the value out where it is used");
    }
    config = ParseDocument(YAML::Load(owned));
  } catch (const ParseError& error) {
    return absl::InvalidArgumentError(Cat(source, ":", error.message));
  } catch (const YAML::Exception& error) {
    return absl::InvalidArgumentError(
        Cat(source, ":", error.mark.line + 1, ":", error.mark.column + 1, ": ", error.msg));
  }
  // Building proves every plugin name and argument before the policy is accepted.
  auto built = BuildPolicy(config);
  if (!built.ok()) return absl::InvalidArgumentError(Cat(source, ": ", built.status().message()));
  return config;
}

absl::StatusOr<std::string> ReadPolicyFile(const std::string& path) {
  // The reload runs on the daemon's signal thread: a FIFO at the path must be refused,
  // not waited on.
  return ReadBoundedFile(path, kMaxPolicyBytes, "policy file");
}

absl::StatusOr<PolicyConfig> LoadPolicyFile(const std::string& path) {
  auto text = ReadPolicyFile(path);
  if (!text.ok()) return text.status();
  return ParsePolicyYaml(*text, path);
}

std::string PolicyToYaml(const PolicyConfig& config) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "name" << YAML::Value << config.name;
  out << YAML::Key << "queue" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "priority_weight" << YAML::Value << config.queue.priority_weight;
  out << YAML::Key << "age_weight_per_hour" << YAML::Value << config.queue.age_weight_per_hour;
  out << YAML::Key << "default_class" << YAML::Value
      << std::string(ClassName(config.queue.default_class));
  out << YAML::Key << "class_boost" << YAML::Value << YAML::BeginMap;
  for (const auto& [cls, boost] : config.queue.class_boost)
    out << YAML::Key << std::string(ClassName(cls)) << YAML::Value << boost;
  out << YAML::EndMap;
  out << YAML::Key << "max_wait_s" << YAML::Value << YAML::BeginMap;
  for (const auto& [cls, seconds] : config.queue.max_wait_s)
    out << YAML::Key << std::string(ClassName(cls)) << YAML::Value << seconds;
  out << YAML::EndMap;
  for (auto [key, map] : {std::pair{"partition_classes", &config.queue.partition_classes},
                          std::pair{"qos_classes", &config.queue.qos_classes}}) {
    out << YAML::Key << key << YAML::Value << YAML::BeginMap;
    for (const auto& [name, cls] : *map)
      out << YAML::Key << name << YAML::Value << std::string(ClassName(cls));
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  out << YAML::Key << "filters" << YAML::Value << YAML::Flow << config.filters;
  out << YAML::Key << "scorers" << YAML::Value << YAML::BeginSeq;
  for (const auto& scorer : config.scorers) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << scorer.name
        << YAML::Key << "weight" << YAML::Value << scorer.weight;
    if (!scorer.args.empty()) out << YAML::Key << "args" << YAML::Value << scorer.args;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap << YAML::Key << "max_reservations"
      << YAML::Value << config.limits.max_reservations << YAML::Key << "max_jobs_per_cycle"
      << YAML::Value << config.limits.max_jobs_per_cycle << YAML::Key << "default_time_limit_s"
      << YAML::Value << config.limits.default_time_limit_s << YAML::Key
      << "reservations_hold_whole_nodes" << YAML::Value
      << config.limits.reservations_hold_whole_nodes << YAML::Key << "reservation_window_s"
      << YAML::Value << config.limits.reservation_window_s << YAML::Key << "select_consecutive_runs"
      << YAML::Value << config.limits.select_consecutive_runs << YAML::EndMap;
  out << YAML::Key << "kinds" << YAML::Value << YAML::BeginSeq;
  for (const auto& kind : config.kinds) {
    out << YAML::Flow << YAML::BeginMap << YAML::Key << "gres" << YAML::Value
        << Cat(kind.gres_name, ":", kind.gres_type) << YAML::Key << "kind" << YAML::Value
        << kind.kind << YAML::EndMap;
  }
  out << YAML::EndSeq;
  const engine::PreemptionRules& preemption = config.preemption;
  out << YAML::Key << "preemption" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "partitions" << YAML::Value << YAML::Flow << preemption.partitions;
  out << YAML::Key << "qos" << YAML::Value << YAML::Flow << preemption.qos;
  out << YAML::Key << "harvest" << YAML::Value << preemption.harvest;
  out << YAML::Key << "reclaim_for" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (model::JobClass job_class : preemption.reclaim_for) out << std::string(ClassName(job_class));
  out << YAML::EndSeq;
  out << YAML::Key << "reclaim_after_s" << YAML::Value << preemption.reclaim_after_s;
  out << YAML::Key << "min_runtime_s" << YAML::Value << preemption.min_runtime_s;
  out << YAML::Key << "max_victims_per_job" << YAML::Value << preemption.max_victims_per_job;
  out << YAML::Key << "max_reclaims_per_cycle" << YAML::Value << preemption.max_reclaims_per_cycle;
  out << YAML::EndMap << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace accelpack::policy
