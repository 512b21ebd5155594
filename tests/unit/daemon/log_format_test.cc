// SPDX-License-Identifier: GPL-2.0
#include "daemon/log_format.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>
#include <string>

namespace avm {
namespace {

using namespace std::string_literals;

TEST(LogFormat, EscapesWhatIsNotPrintable) {
  EXPECT_EQ(escape_for_log("instance vm1 created: socket /run/x caf\xc3\xa9 \xe2\x82\xac"),
            "instance vm1 created: socket /run/x caf\xc3\xa9 \xe2\x82\xac");
  EXPECT_EQ(escape_for_log("/tmp/a.sock\0/evil"s), "/tmp/a.sock\\x00/evil");
  EXPECT_EQ(escape_for_log("a\nb\r\tc\x1b[31m\x7f"), "a\\x0ab\\x0d\\x09c\\x1b[31m\\x7f");
  EXPECT_EQ(escape_for_log("c1 \xc2\x9b"), "c1 \\xc2\\x9b");      // U+009B, CSI
  EXPECT_EQ(escape_for_log("bad \xff\xc3("), "bad \\xff\\xc3(");  // invalid UTF-8
  EXPECT_EQ(escape_for_log("cut \xe2\x82"), "cut \\xe2\\x82");    // cut off
  EXPECT_EQ(escape_for_log("a\\x00b"), "a\\\\x00b");              // unambiguous
}

// What the daemon's loggers write: one printable line per message.
TEST(LogFormat, TheFormatterEscapesTheMessage) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sink->set_formatter(escaping_log_formatter());
  spdlog::logger logger("alacrityvmd", sink);
  logger.info("instance {} created: socket {}", "vm1", "/tmp/a\0b\nc"s);
  const std::string line = out.str();
  EXPECT_TRUE(line.starts_with("[")) << line;
  EXPECT_TRUE(
      line.ends_with("] [alacrityvmd] [info] instance vm1 created: socket "
                     "/tmp/a\\x00b\\x0ac\n"))
      << line;
  EXPECT_EQ(line.find('\0'), std::string::npos);
}

}  // namespace
}  // namespace avm
