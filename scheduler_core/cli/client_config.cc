// SPDX-License-Identifier: GPL-2.0-or-later
#include "cli/client_config.h"

#include <strings.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "common/bounded_file.h"
#include "common/strings.h"
#include "policy/policy.h"

namespace accelpack::cli {

namespace {

// accelpack.conf is a few lines; the plugin reads it with the same bound.
constexpr size_t kMaxConfBytes = kMiB;

std::string Trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(" \t\r");
  return std::string(text.substr(begin, end - begin + 1));
}

bool IsBlankOrComment(std::string_view line) {
  const std::string trimmed = Trim(line);
  return trimmed.empty() || trimmed.front() == '#';
}

// A top-level key starts in column 0 and is not a comment, list item or document marker.
bool StartsSection(std::string_view line) {
  return !line.empty() && line.front() != ' ' && line.front() != '\t' && line.front() != '#' &&
         line.front() != '-' && line.find(':') != std::string_view::npos;
}

}  // namespace

std::string AcceleratorConfPath() {
  if (const char* explicit_path = std::getenv("ACCELPACK_CONF"); explicit_path && *explicit_path)
    return explicit_path;
  if (const char* slurm = std::getenv("SLURM_CONF"); slurm && *slurm)
    return (std::filesystem::path(slurm).parent_path() / "accelpack.conf").string();
  return "/etc/slurm/accelpack.conf";
}

std::string CoreAddressFromConf(const std::string& path, std::string* error) {
  auto text = ReadBoundedFile(path, kMaxConfBytes);
  if (!text.ok()) {
    // No file is no address (the default socket); anything else there is a mistake.
    if (!absl::IsNotFound(text.status())) *error = std::string(MessageOf(text.status()));
    return {};
  }
  std::istringstream in(*text);
  std::string line;
  std::string address;
  while (std::getline(in, line)) {
    if (const size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    const size_t equals = line.find('=');
    if (equals == std::string::npos) continue;
    if (strcasecmp(Trim(line.substr(0, equals)).c_str(), "CoreAddress") == 0)
      address = Trim(line.substr(equals + 1));
  }
  return address;
}

PolicyFileCheck CheckPolicyFile(const std::string& path) {
  PolicyFileCheck check;
  auto read = policy::ReadPolicyFile(path);
  if (!read.ok()) {
    check.problems.emplace_back(MessageOf(read.status()));
    return check;
  }
  check.text = *std::move(read);
  std::vector<std::string> lines;
  std::istringstream in(check.text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (std::all_of(lines.begin(), lines.end(), IsBlankOrComment)) {
    check.problems.push_back(Cat(path,
                                 ": empty policy file: nothing to check (an empty file would run "
                                 "the built-in default; say so with `name: ...` at least)"));
    return check;
  }
  std::vector<size_t> sections;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (StartsSection(lines[i])) sections.push_back(i);
  }
  std::vector<std::string>& problems = check.problems;
  auto add = [&](const std::string& problem) {
    if (std::find(problems.begin(), problems.end(), problem) == problems.end())
      problems.push_back(problem);
  };
  // A policy has at most 7 top-level keys; a file with many more has its problems
  // listed from the first few (each parse costs the whole file, so all would be
  // quadratic), and the whole file's parse names the next.
  constexpr size_t kSectionsCheckedApart = 16;
  if (sections.size() > kSectionsCheckedApart) {
    add(Cat(path, ": ", sections.size(), " top-level keys (a policy has at most 7); the first ",
            kSectionsCheckedApart, " checked one by one"));
  }
  for (size_t s = 0; s < std::min(sections.size(), kSectionsCheckedApart); ++s) {
    const size_t end = s + 1 < sections.size() ? sections[s + 1] : lines.size();
    // Blank lines before it, so that YAML's line numbers are the file's.
    std::string section(sections[s], '\n');
    for (size_t i = sections[s]; i < end; ++i) section.append(lines[i]).push_back('\n');
    auto parsed = policy::ParsePolicyYaml(section, path);
    if (!parsed.ok()) {
      add(std::string(MessageOf(parsed.status())));
      continue;
    }
    if (auto built = policy::BuildPolicy(*parsed); !built.ok())
      add(std::string(MessageOf(built.status())));
  }
  // Problems that only the sections together have (or YAML that splits badly).
  std::string whole;
  for (const auto& line : lines) whole += line + '\n';
  auto parsed = policy::ParsePolicyYaml(whole, path);
  if (!parsed.ok()) {
    // Sections past the first few were not checked apart: this parse names theirs.
    if (problems.empty() || sections.size() > kSectionsCheckedApart)
      add(std::string(MessageOf(parsed.status())));
  } else if (auto built = policy::BuildPolicy(*parsed); !built.ok()) {
    add(std::string(MessageOf(built.status())));
  } else if (problems.empty()) {
    check.name = parsed->name;
  }
  return check;
}

}  // namespace accelpack::cli
