// SPDX-License-Identifier: GPL-2.0
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "metrics/metrics.h"

namespace avm::metrics {
namespace {

TEST(Render, HelpTypeAndSamples) {
  const std::vector<Family> fams = {
      {"alacrityvm_venet_tx_packets_total",
       "Packets sent to the guest.",
       "counter",
       {{{{"instance", "vm1"}, {"device", "vm1-net0"}}, 42},
        {{{"instance", "vm2"}, {"device", "vm2-net0"}}, 0}}},
      {"alacrityvm_instances", "Instances.", "gauge", {{{}, 2}}},
  };
  EXPECT_EQ(render(fams),
            "# HELP alacrityvm_venet_tx_packets_total Packets sent to the guest.\n"
            "# TYPE alacrityvm_venet_tx_packets_total counter\n"
            "alacrityvm_venet_tx_packets_total{device=\"vm1-net0\",instance=\"vm1\"} 42\n"
            "alacrityvm_venet_tx_packets_total{device=\"vm2-net0\",instance=\"vm2\"} 0\n"
            "# HELP alacrityvm_instances Instances.\n"
            "# TYPE alacrityvm_instances gauge\n"
            "alacrityvm_instances 2\n");
}

TEST(Render, Escaping) {
  const std::vector<Family> fams = {
      {"x", "a \\ back\nslash \"q\"", "gauge", {{{{"l", "a\\b\n\"c\""}}, 1}}}};
  EXPECT_EQ(render(fams),
            "# HELP x a \\\\ back\\nslash \"q\"\n"
            "# TYPE x gauge\n"
            "x{l=\"a\\\\b\\n\\\"c\\\"\"} 1\n");
}

TEST(Render, Values) {
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<Family> fams = {{"v",
                                     "h",
                                     "gauge",
                                     {{{{"k", "a"}}, 0.5},
                                      {{{"k", "b"}}, -3},
                                      {{{"k", "c"}}, 18446744073709551616.0},
                                      {{{"k", "d"}}, inf},
                                      {{{"k", "e"}}, -inf},
                                      {{{"k", "f"}}, std::nan("")},
                                      {{{"k", "g"}}, 9007199254740993.0}}}};
  EXPECT_EQ(render(fams),
            "# HELP v h\n# TYPE v gauge\n"
            "v{k=\"a\"} 0.5\n"
            "v{k=\"b\"} -3\n"
            "v{k=\"c\"} 18446744073709551616\n"
            "v{k=\"d\"} +Inf\n"
            "v{k=\"e\"} -Inf\n"
            "v{k=\"f\"} NaN\n"
            "v{k=\"g\"} 9007199254740992\n");
}

TEST(Render, EmptyFamilyKeepsItsHeader) {
  EXPECT_EQ(render({{"e_total", "none yet", "counter", {}}}),
            "# HELP e_total none yet\n# TYPE e_total counter\n");
  EXPECT_EQ(render({}), "");
}

TEST(RenderDeathTest, BadNamesAreBugs) {
  EXPECT_DEATH(render({{"1bad", "h", "gauge", {}}}), "valid_name");
  EXPECT_DEATH(render({{"has space", "h", "gauge", {}}}), "valid_name");
  EXPECT_DEATH(render({{"ok", "h", "histogram", {}}}), "counter");
  EXPECT_DEATH(render({{"ok", "h", "gauge", {{{{"a:b", "x"}}, 1}}}}), "valid_name");
  EXPECT_DEATH(render({{"ok", "h", "gauge", {{{{"__name", "x"}}, 1}}}}), "valid_name");
}

}  // namespace
}  // namespace avm::metrics
