// SPDX-License-Identifier: GPL-2.0
// The rules for every kind of string alacrityvmd takes from a user: one
// function per kind, applied alike by the config file, the JSON-RPC
// methods, state.json and the command line (docs/control-api.md,
// "Names and paths").  Each returns "" if @s is fine, else why not (without
// the field's name, which the caller puts first).
#pragma once

#include <sys/un.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace avm {

// sun_path's room for a path and its NUL.
inline constexpr size_t kMaxSocketPath = sizeof(sockaddr_un::sun_path) - 1;
// PATH_MAX with its NUL.
inline constexpr size_t kMaxPath = 4095;
// IFNAMSIZ with its NUL.
inline constexpr size_t kMaxIfName = 15;
// NAME_MAX: a network namespace is a file in /run/netns.
inline constexpr size_t kMaxNetnsName = 255;

// Instances and devices: [a-z0-9][a-z0-9_-]{0,31}.
std::string name_problem(std::string_view s);
bool valid_name(std::string_view s);
// An interface (TAP, bridge): 1..15 printable ASCII characters, not "."
// or "..", none of '/', ':', '%' (the kernel's dev_valid_name, and no
// interface is ever called "%"-something: the kernel numbers such names).
std::string ifname_problem(std::string_view s);
// A network namespace (ip-netns): one file name in /run/netns, not "." or
// "..", no '/', 1..255 bytes of printable text.
std::string netns_problem(std::string_view s);
// An absolute path of printable text, at most @max_bytes long.
std::string path_problem(std::string_view s, size_t max_bytes = kMaxPath);
// Any other free text (a group name, a listen address): valid UTF-8
// without control characters.
std::string text_problem(std::string_view s);

// The length of the character @s starts with if it is printable: valid
// UTF-8 and no C0/C1 control character or DEL; 0 if it is not (or @s is
// empty).
size_t printable_char_length(std::string_view s);

}  // namespace avm
