// SPDX-License-Identifier: GPL-2.0
// alacrityvmd's log lines carry names, paths and messages that users and
// guests chose: the formatter every sink of the daemon uses writes any
// unprintable byte of a message as \xNN, so a log line is always one line
// of printable text whatever was logged.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

namespace avm {

// @s with every byte of a control character (C0, DEL, C1) or of invalid
// UTF-8 as \xNN, and '\' as \\ (so the escapes are unambiguous).
std::string escape_for_log(std::string_view s);

// spdlog's default pattern ("[time] [logger] [level] message") with the
// message escaped by escape_for_log().
std::unique_ptr<spdlog::formatter> escaping_log_formatter();

}  // namespace avm
