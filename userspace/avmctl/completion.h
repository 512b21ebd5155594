// SPDX-License-Identifier: GPL-2.0
// avmctl's bash completion, written from its command tree (`avmctl
// completion bash`; the build installs its output).
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <string>

namespace avm::avmctl {

// What completes the value of an option or operand: "@file", "@instance"
// or "@device" (names asked from the daemon), else the allowed words
// ("up down"); an option that takes a value and is not in the map
// completes nothing.
using ValueCompletions = std::map<const CLI::Option*, std::string>;

// A bash completion script for @app: its commands, their options (not the
// hidden ones) and operands, and @values.
std::string bash_completion(const CLI::App& app, const ValueCompletions& values);

}  // namespace avm::avmctl
