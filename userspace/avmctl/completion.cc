// SPDX-License-Identifier: GPL-2.0
#include "avmctl/completion.h"

#include <vector>

namespace avm::avmctl {

namespace {

// The part that does not depend on the commands: walks the words typed so
// far to the command path and the operand being completed, then asks the
// generated tables below (_avmctl_subs, _avmctl_opts, _avmctl_value,
// _avmctl_operand).
// clang-format off
constexpr const char* kDriver = R"SH(
# Names of $1 (instance or device) from the daemon on the socket given so far.
_avmctl_names() {
	local kind=$1 i sock=()
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		case ${COMP_WORDS[i]} in
		-s | --socket) sock=(--socket "${COMP_WORDS[i + 1]}") ;;
		--socket=*) sock=("${COMP_WORDS[i]}") ;;
		esac
	done
	"${COMP_WORDS[0]}" "${sock[@]}" --timeout 2 "$kind" list --names 2>/dev/null
}

# COMPREPLY for the value kind $1 (see _avmctl_value).
_avmctl_reply() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	case $1 in
	@file) mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
	@instance | @device) mapfile -t COMPREPLY < <(compgen -W "$(_avmctl_names "${1#@}")" -- "$cur") ;;
	*) mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur") ;;
	esac
}

_avmctl() {
	local cur=${COMP_WORDS[COMP_CWORD]} path="" npos=0 i w kind
	COMPREPLY=()
	# The command path and how many operands come before cur.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--*=*) ;;
		-*) _avmctl_value "$path" "$w" >/dev/null && ((i++)) ;;
		*)
			if ((npos == 0)) && [[ " $(_avmctl_subs "$path") " == *" $w "* ]]; then
				path=${path:+$path }$w
			else
				((npos++))
			fi
			;;
		esac
	done
	if ((COMP_CWORD > 1)) && kind=$(_avmctl_value "$path" "${COMP_WORDS[COMP_CWORD - 1]}"); then
		_avmctl_reply "$kind"
	elif [[ $cur == -* ]]; then
		_avmctl_reply "$(_avmctl_opts "$path")"
	elif ((npos == 0)) && [[ -n $(_avmctl_subs "$path") ]]; then
		_avmctl_reply "$(_avmctl_subs "$path")"
	elif kind=$(_avmctl_operand "$path" "$npos"); then
		_avmctl_reply "$kind"
	fi
}
complete -F _avmctl avmctl
)SH";
// clang-format on

struct Command {
  std::string path;  // "" for avmctl itself, "instance create"
  const CLI::App* app;
};

void walk(const CLI::App* app, const std::string& path, std::vector<Command>& out) {
  out.push_back({path, app});
  for (const CLI::App* sub : app->get_subcommands([](const CLI::App*) { return true; })) {
    walk(sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), out);
  }
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) {
    out += (out.empty() ? "" : " ") + w;
  }
  return out;
}

// A case arm: `"PATTERN") echo "WORDS" ;;`.
std::string arm(const std::string& pattern, const std::string& words) {
  return "\t\"" + pattern + "\") echo \"" + words + "\" ;;\n";
}

std::string function(const std::string& name, const std::string& comment,
                     const std::string& subject, const std::string& arms) {
  return "\n# " + comment + "\n" + name + "() {\n\tcase " + subject + " in\n" + arms +
         "\t*) return 1 ;;\n\tesac\n}\n";
}

}  // namespace

std::string bash_completion(const CLI::App& app, const ValueCompletions& values) {
  std::vector<Command> commands;
  walk(&app, "", commands);
  std::string subs;
  std::string opts;
  std::string value;
  std::string operand;
  for (const Command& c : commands) {
    std::vector<std::string> names;
    for (const CLI::App* sub : c.app->get_subcommands([](const CLI::App*) { return true; })) {
      names.push_back(sub->get_name());
    }
    if (!names.empty()) {
      subs += arm(c.path, join(names));
    }
    std::vector<std::string> flags;
    int npos = 0;
    for (const CLI::Option* o : c.app->get_options()) {
      const auto it = values.find(o);
      const std::string kind = it == values.end() ? "" : it->second;
      if (!o->nonpositional()) {
        operand += arm(c.path + "|" + std::to_string(npos++), kind);
        continue;
      }
      if (o->get_group().empty()) {
        continue;  // hidden
      }
      flags.push_back(o->get_lnames().empty() ? "-" + o->get_snames().front()
                                              : "--" + o->get_lnames().front());
      if (o->get_items_expected_min() > 0) {
        for (const std::string& s : o->get_snames()) {
          value += arm(c.path + "|-" + s, kind);
        }
        for (const std::string& l : o->get_lnames()) {
          value += arm(c.path + "|--" + l, kind);
        }
      }
    }
    opts += arm(c.path, join(flags));
  }
  return "# bash completion for avmctl(8)                              -*- shell-script -*-\n"
         "# Written by `avmctl completion bash` from avmctl's commands and the\n"
         "# daemon's field tables; do not edit.\n" +
         function("_avmctl_subs", "The subcommands of the command path $1.", "$1", subs) +
         function("_avmctl_opts", "The options of the command path $1.", "$1", opts) +
         function("_avmctl_value",
                  "What completes the value of option $2 of the command path $1 (see\n"
                  "# _avmctl_reply); fails for an option that takes none.",
                  "\"$1|$2\"", value + "\t\"$1\"*) [[ -n $1 ]] && _avmctl_value \"\" \"$2\" ;;\n") +
         function("_avmctl_operand", "What completes operand $2 (from 0) of the command path $1.",
                  "\"$1|$2\"", operand) +
         kDriver;
}

}  // namespace avm::avmctl
