#!/bin/bash
# Runs the steps of `make check`, each a make target, one after the other,
# and prints the time of each: "check: STEP: N s wall, N s CPU" after the
# step, and the whole list again at the end (also when a step fails), so the
# log says where the time of a CI run went.  CPU seconds (user + sys) are
# those of the step's processes; on a loaded machine they vary less than the
# wall time.
#
# A step written bg:STEP starts STEP in the background at nice 19 and the
# next step at once: it runs on the CPU the foreground steps leave idle (the
# QEMU tests run one TCG vCPU on two cores) and hardly slows them down.
# Its output goes to $AVM_BUILD/check-logs/STEP.log, printed when the run
# waits for it: at the end, after the foreground steps.  It must not build
# anything a foreground step builds too.
#
# With `make -k check` the remaining steps run after a failure; otherwise
# the first failure stops the run (and a background step).
#   usage: check-steps.sh MAKE STEP|bg:STEP...   (the Makefile's CHECK_STEPS)
set -euo pipefail

usage() {
	sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
(($# >= 2)) || usage
make=$1
shift
logs=${AVM_BUILD:?}/check-logs
mkdir -p "$logs"

tmp=$(mktemp)
# child_cpu FILE: sets cpu to the CPU time (user + sys) of this shell's finished
# children so far, in centiseconds.  `times` runs in this shell (in a
# subshell it would count the subshell's children only) and prints them as
# "XmY.YYYs" (into FILE, which it reads back).
cpu=0
child_cpu() {
	local user sys t s total=0
	times >"$1"
	{ read -r _ && read -r user sys; } <"$1"
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
if [[ $flags != -* && $flags == *k* ]]; then keep_going=1; fi

lines=()
failed=()
start_all=$SECONDS
# record STEP STATUS WALL CPU_CS [NOTE]
record() {
	local line="$1: $3 s wall, $((($4 + 50) / 100)) s CPU${5:+ ($5)}"
	(($2 == 0)) || line+=" (FAILED, exit $2)"
	lines+=("$line")
	echo "check: $line"
	(($2 == 0)) || failed+=("$1")
}

# A background step runs in a grandchild of this shell, so that its CPU
# time is never added to this shell's children (and to a foreground step),
# and in a session of its own (setsid), so that it can be stopped with
# everything it started; it writes "STATUS WALL CPU_CS" to
# $logs/STEP.status when it ends.
bg_steps=()
start_bg() {
	local step=$1
	rm -f "$logs/$step.status" "$logs/$step.pid"
	(
		(
			t0=$SECONDS status=0
			setsid nice -n 19 "$make" --no-print-directory "$step" >"$logs/$step.log" 2>&1 &
			echo "$!" >"$logs/$step.pid"
			wait "$!" || status=$?
			child_cpu "$logs/$step.times"
			rm -f "$logs/$step.times"
			echo "$status $((SECONDS - t0)) $cpu" >"$logs/$step.status.new"
			mv "$logs/$step.status.new" "$logs/$step.status"
		) &
	)
	bg_steps+=("$step")
	echo "check: $step: started in the background (log: $logs/$step.log)"
}
wait_bg() {
	local step status wall cs
	for step in "${bg_steps[@]}"; do
		while [[ ! -e $logs/$step.status ]]; do sleep 2; done
		read -r status wall cs <"$logs/$step.status"
		echo "check: $step (background): its output:"
		cat "$logs/$step.log"
		record "$step" "$status" "$wall" "$cs" "in the background"
	done
	bg_steps=()
}
# stop_bg: stop the background steps still running (their sessions)
stop_bg() {
	local step pid
	for step in "${bg_steps[@]}"; do
		[[ -e $logs/$step.status ]] && continue
		pid=$(cat "$logs/$step.pid" 2>/dev/null) || continue
		kill -TERM -- "-$pid" 2>/dev/null || true
		echo "check: $step: stopped (log: $logs/$step.log)"
	done
}

summary() {
	stop_bg
	rm -f "$tmp"
	echo "check: time per step (wall, CPU user+sys):"
	printf '  %s\n' "${lines[@]}"
	echo "check: total $((SECONDS - start_all)) s${failed[*]:+, failed: ${failed[*]}}"
}
trap summary EXIT

for step in "$@"; do
	if [[ $step == bg:* ]]; then
		start_bg "${step#bg:}"
		continue
	fi
	child_cpu "$tmp"
	cpu0=$cpu t0=$SECONDS status=0
	"$make" --no-print-directory "$step" || status=$?
	child_cpu "$tmp"
	record "$step" "$status" "$((SECONDS - t0))" "$((cpu - cpu0))"
	if ((status != 0 && !keep_going)); then exit "$status"; fi
done
wait_bg
((${#failed[@]} == 0))
