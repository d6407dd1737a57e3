// The plugin's reading of --constraint (plugin/sched_accelpack/feature_expr.c): what
// every node needs, the alternatives a node needs one of, and Slurm's matching OR
// ("[a|b]": all the job's nodes take one alternative). What it cannot model makes the
// constraint weaker, never stronger. SPDX-License-Identifier: GPL-2.0-or-later
#include "feature_expr.h"

#include <gtest/gtest.h>

#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace accelpack::plugin {
namespace {

struct Read {
  bool ok = false;
  std::string all, any;
  bool matching = false;
  bool operator==(const Read& o) const {
    return ok == o.ok && all == o.all && any == o.any && matching == o.matching;
  }
};

std::ostream& operator<<(std::ostream& os, const Read& r) {
  return os << (r.ok ? "" : "(unread) ") << "all \"" << r.all << "\" any \"" << r.any << "\""
            << (r.matching ? " matching" : "");
}

Read Parse(const char* expr) {
  std::vector<char> buf(2048, 'x');
  feature_expr_t out;
  Read read;
  read.ok = feature_expr_parse(expr, buf.data(), buf.size(), &out);
  read.all = out.all;
  read.any = out.any;
  read.matching = out.matching;
  return read;
}

TEST(FeatureExpr, AndListsEveryNodeNeeds) {
  EXPECT_EQ(Parse("a&b"), (Read{true, "a&b", "", false}));
  EXPECT_EQ(Parse("a,b"), (Read{true, "a&b", "", false}));
  EXPECT_EQ(Parse("cuda"), (Read{true, "cuda", "", false}));
  EXPECT_EQ(Parse(""), (Read{true, "", "", false}));
  EXPECT_EQ(Parse(nullptr), (Read{true, "", "", false}));
}

TEST(FeatureExpr, AlternativesANodeNeedsOneOf) {
  EXPECT_EQ(Parse("a|b"), (Read{true, "", "a|b", false}));
  EXPECT_EQ(Parse("a&b|c"), (Read{true, "", "a&b|c", false}));
}

// Slurm evaluates strictly left to right (node_scheduler.c _match_feature, and the
// sbatch manual from 24.11: "foo|bar&baz" is foo and baz, or bar and baz).
TEST(FeatureExpr, LeftToRightAsSlurmEvaluatesIt) {
  EXPECT_EQ(Parse("a|b&c"), (Read{true, "", "a&c|b&c", false}));
  EXPECT_EQ(Parse("a&b|c&d"), (Read{true, "", "a&b&d|c&d", false}));
  EXPECT_EQ(Parse("a|b,c"), (Read{true, "", "a&c|b&c", false}));
  // Once in every alternative: needed everywhere, a plain list.
  EXPECT_EQ(Parse("a&a|a"), (Read{true, "a", "", false}));
}

TEST(FeatureExpr, ParenthesesGroup) {
  EXPECT_EQ(Parse("a&(b|c)"), (Read{true, "", "a&b|a&c", false}));
  EXPECT_EQ(Parse("(a|b)&(c|d)"), (Read{true, "", "a&c|a&d|b&c|b&d", false}));
  EXPECT_EQ(Parse("x|(a&b)"), (Read{true, "", "x|a&b", false}));
  EXPECT_EQ(Parse("((a))"), (Read{true, "a", "", false}));
  EXPECT_EQ(Parse("(a&b)&c"), (Read{true, "a&b&c", "", false}));
}

TEST(FeatureExpr, BracketedAlternativesAreOneForAllNodes) {
  EXPECT_EQ(Parse("[rack1|rack2|rack3]"), (Read{true, "", "rack1|rack2|rack3", true}));
  // Features outside the brackets are needed everywhere.
  EXPECT_EQ(Parse("cuda&[a|b]"), (Read{true, "cuda", "a|b", true}));
  EXPECT_EQ(Parse("[a|b]&cuda,ib"), (Read{true, "cuda&ib", "a|b", true}));
  EXPECT_EQ(Parse("x&[a|b]&y"), (Read{true, "x&y", "a|b", true}));
}

// Counts and brackets that are not a plain matching OR: weaker, never stronger.
TEST(FeatureExpr, WhatCannotBeModelledOnlyWidens) {
  // A counted feature or group is needed by some nodes, not each: any node.
  EXPECT_EQ(Parse("[a*2&b*4]"), (Read{true, "", "", false}));
  EXPECT_EQ(Parse("cuda&a*2"), (Read{true, "cuda", "", false}));
  EXPECT_EQ(Parse("cuda&(a&b)*2"), (Read{true, "cuda", "", false}));
  EXPECT_EQ(Parse("[(a&b)*2&c*1]"), (Read{true, "", "", false}));
  EXPECT_EQ(Parse("a*2|b"), (Read{true, "", "", false}));
  // Brackets that are not one plain matching OR read as parentheses: per node.
  EXPECT_EQ(Parse("[a|b]&[c|d]"), (Read{true, "", "a&c|a&d|b&c|b&d", false}));
  EXPECT_EQ(Parse("x|[a|b]"), (Read{true, "", "x|a|b", false}));
  EXPECT_EQ(Parse("[(a|b)]&c"), (Read{true, "", "a&c|b&c", false}));
}

TEST(FeatureExpr, MalformedOrTooLargeIsNotRead) {
  for (const char* bad : {"a&", "|a", "a||b", "(a", "a)", "a(b)", "[a|b", "()", "a&&b"}) {
    EXPECT_FALSE(Parse(bad).ok) << bad;
  }
  EXPECT_FALSE(Parse("((((((a))))))").ok);  // deeper than Slurm reads
  // 5 x 5 alternatives: more than 16.
  EXPECT_FALSE(Parse("(a|b|c|d|e)&(f|g|h|i|j)").ok);
  EXPECT_TRUE(Parse("(a|b|c|d)&(f|g|h|i)").ok);
  // Seventeen features in one alternative.
  EXPECT_TRUE(Parse("a&b&c&d&e&f&g&h&i&j&k&l&m&n&o&p").ok);
  EXPECT_FALSE(Parse("a&b&c&d&e&f&g&h&i&j&k&l&m&n&o&p&q").ok);
}

// Slurm's reading, evaluated on one node's features: left to right, parentheses
// grouping (node_scheduler.c _match_feature).
class Reference {
 public:
  Reference(const std::string& expr, unsigned features) : expr_(expr), features_(features) {}
  bool Eval() { return Sequence(); }

 private:
  bool Sequence() {
    bool value = Operand();
    while (at_ < expr_.size() && expr_[at_] != ')') {
      const char op = expr_[at_++];
      const bool next = Operand();
      value = op == '|' ? (value || next) : (value && next);
    }
    return value;
  }
  bool Operand() {
    if (expr_[at_] == '(') {
      ++at_;
      const bool value = Sequence();
      ++at_;  // ')'
      return value;
    }
    return (features_ >> (expr_[at_++] - 'a') & 1U) != 0;
  }
  const std::string& expr_;
  unsigned features_;
  size_t at_ = 0;
};

std::string RandomExpression(std::mt19937& rng, int depth) {
  std::string out;
  const int operands = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < operands; ++i) {
    if (i > 0) out += "&,|"[rng() % 3];
    if (depth < 3 && rng() % 4 == 0) {
      out += "(" + RandomExpression(rng, depth + 1) + ")";
    } else {
      out += static_cast<char>('a' + rng() % 4);
    }
  }
  return out;
}

bool Satisfies(const Read& read, unsigned features) {
  auto clause_holds = [&](const std::string& clause) {
    std::stringstream names(clause);
    for (std::string name; std::getline(names, name, '&');) {
      if (name.size() != 1 || (features >> (name[0] - 'a') & 1U) == 0) return false;
    }
    return true;
  };
  if (!read.all.empty() && !clause_holds(read.all)) return false;
  if (read.any.empty()) return true;
  std::stringstream clauses(read.any);
  for (std::string clause; std::getline(clauses, clause, '|');) {
    if (clause_holds(clause)) return true;
  }
  return false;
}

// Every node a random expression admits in Slurm's reading, and only those.
TEST(FeatureExpr, AgreesWithSlurmsLeftToRightReadingOnEveryNode) {
  std::mt19937 rng(7);
  int read = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string expr = RandomExpression(rng, 0);
    const Read parsed = Parse(expr.c_str());
    if (!parsed.ok) continue;  // too many alternatives: no constraint, allowed
    ++read;
    for (unsigned features = 0; features < 16; ++features) {
      ASSERT_EQ(Satisfies(parsed, features), Reference(expr, features).Eval())
          << expr << " read as " << parsed << " on features " << features;
    }
  }
  EXPECT_GT(read, 2500);
}

TEST(FeatureExpr, ABufferTooSmallReadsNothing) {
  char buf[4];
  feature_expr_t out;
  EXPECT_FALSE(feature_expr_parse("[a|b]&cuda", buf, sizeof buf, &out));
  EXPECT_STREQ(out.all, "");
  EXPECT_STREQ(out.any, "");
  EXPECT_FALSE(out.matching);
}

}  // namespace
}  // namespace accelpack::plugin
