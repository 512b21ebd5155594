// SPDX-License-Identifier: GPL-2.0
// avmctl's output for people: tables and key/value lists built from the
// daemon's JSON results (docs/control-api.md, "Objects").  Tolerant of
// missing or unexpected fields: they print as "-".
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace avm::avmctl {

using Row = std::vector<std::string>;

// Columns padded to their widest cell, two spaces apart, no trailing blanks.
std::string table(const Row& header, const std::vector<Row>& rows);

// One cell: strings as they are, numbers and booleans as JSON, null or a
// missing value as "-", arrays joined with ",".
std::string cell(const nlohmann::json& v);

// "4194304" bytes as "4M" when it is a whole number of KiB/MiB/GiB.
std::string size_cell(const nlohmann::json& v);

std::string instance_table(const nlohmann::json& instances);
std::string device_table(const nlohmann::json& devices);

// An instance or a device, one "key  value" line each, then its "stats"
// (if present) as dotted counter names.
std::string instance_details(const nlohmann::json& inst);
std::string device_details(const nlohmann::json& dev);

// The `stats` result: INSTANCE OBJECT COUNTER VALUE, one row per counter.
std::string stats_table(const nlohmann::json& stats);

// The `instance.qemu_args` result as one shell-quoted command line.
std::string shell_line(const nlohmann::json& args);

// The `daemon.reload` result: "added: a, b" etc.
std::string reload_summary(const nlohmann::json& result);

// Every leaf of @v as {"a.b.c", value}, in key order.
void flatten(const nlohmann::json& v, const std::string& prefix, std::vector<Row>& out);

}  // namespace avm::avmctl
