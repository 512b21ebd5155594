#!/bin/bash
# Runs the steps of `make check` one after the other, each a make target, and
# prints the time of each: "check: STEP: N s wall, N s CPU (user+sys)" after
# the step, and the whole list again at the end (also when a step fails), so
# the log says where the time of a CI run went.  CPU seconds are those of the
# step's processes (bash's `times`); on a loaded machine they vary less than
# the wall time.  With `make -k check` the remaining steps run after a
# failure; otherwise the first failure stops the run.
#   usage: check-steps.sh MAKE STEP...   (the Makefile's CHECK_STEPS)
set -euo pipefail

usage() {
	sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
(($# >= 2)) || usage
make=$1
shift

tmp=$(mktemp)
# cpu: the CPU seconds (user + sys) of this shell's finished children so
# far, in centiseconds.  `times` runs in this shell (in a subshell it would
# count the subshell's children only) and prints them as "XmY.YYYs".
cpu=0
child_cpu() {
	local user sys t s total=0
	times >"$tmp"
	{ read -r _ && read -r user sys; } <"$tmp"
	for t in "$user" "$sys"; do
		s=${t#*m}
		s=${s%s}
		total=$((total + 10#${t%%m*} * 6000 + 10#${s%.*} * 100 + 10#${s#*.} / 10))
	done
	cpu=$total
}

keep_going=0
flags=${MAKEFLAGS:-}
flags=${flags%% *}
[[ $flags != -* && $flags == *k* ]] && keep_going=1

lines=()
failed=()
start_all=$SECONDS
summary() {
	local total=$((SECONDS - start_all))
	echo "check: time per step (wall, CPU user+sys):"
	printf '  %s\n' "${lines[@]}"
	echo "check: total $total s${failed[*]:+, failed: ${failed[*]}}"
}
trap 'summary; rm -f "$tmp"' EXIT

for step in "$@"; do
	child_cpu
	cpu0=$cpu t0=$SECONDS
	status=0
	"$make" --no-print-directory "$step" || status=$?
	child_cpu
	line="$step: $((SECONDS - t0)) s wall, $(((cpu - cpu0 + 50) / 100)) s CPU"
	((status == 0)) || line+=" (FAILED, exit $status)"
	lines+=("$line")
	echo "check: $line"
	if ((status != 0)); then
		failed+=("$step")
		((keep_going)) || exit "$status"
	fi
done
((${#failed[@]} == 0))
