#!/bin/bash
# Runs the libFuzzer targets of tests/fuzz (docs/security.md).
#   usage: run.sh fuzz|check BUILD_DIR [TARGET...]
#     fuzz   each target for FUZZ_SECONDS; the growing corpus is kept in
#            BUILD_DIR/work/<target> (seeded from corpus/<target>)
#     check  regression run: replay corpus/<target>, then fuzz for
#            FUZZ_SECONDS from it into a scratch directory
#   BUILD_DIR is a build configured with AVM_FUZZ=ON.  Crashes are written
#   to BUILD_DIR/artifacts/<target>-crash-*; add them to corpus/<target>
#   as regress-<what> once fixed.
#   environment: FUZZ_SECONDS (default 60 for fuzz, 10 for check),
#                FUZZ_ARGS (extra libFuzzer flags, e.g. -jobs=2 -workers=2;
#                the jobs log to BUILD_DIR/logs/fuzz-N.log)
set -euo pipefail

usage() {
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
mode=${1:-}
build=${2:-}
if [[ $mode != fuzz && $mode != check ]] || [[ -z $build ]]; then usage; fi
shift 2
here=$(dirname "$(readlink -f "$0")")
build=$(readlink -f "$build")
default_targets=(ring_fuzz call_fuzz venet_fuzz bridge_fuzz reader_fuzz config_fuzz rpc_fuzz)
targets=("$@")
((${#targets[@]})) || targets=("${default_targets[@]}")
if [[ $mode == fuzz ]]; then seconds=${FUZZ_SECONDS:-60}; else seconds=${FUZZ_SECONDS:-10}; fi
# shellcheck disable=SC2206 # FUZZ_ARGS is a list of flags
extra=(${FUZZ_ARGS:-})

mkdir -p "$build/artifacts" "$build/logs"
failed=()
for t in "${targets[@]}"; do
	bin=$build/tests/fuzz/$t
	seeds=$here/corpus/$t
	[[ -x $bin ]] || { echo "run.sh: $bin not built (AVM_FUZZ=ON?)" >&2; exit 1; }
	log=$build/logs/$t-$mode.log
	if [[ $mode == check ]]; then
		# The seed corpus first: every checked-in input must pass.
		if ! "$bin" -runs=0 "$seeds" >"$log" 2>&1; then
			echo "FAIL $t: seed corpus (log: $log)"
			tail -n 30 "$log" >&2
			failed+=("$t")
			continue
		fi
		work=$build/check-work/$t
		rm -rf "$work"
	else
		work=$build/work/$t
	fi
	mkdir -p "$work"
	status=0
	# From the log directory: with -jobs, libFuzzer writes fuzz-N.log there.
	(cd "$build/logs" && "$bin" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$build/artifacts/$t-" "${extra[@]}" \
		"$work" "$seeds") >>"$log" 2>&1 || status=$?
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || true)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
	if ((status != 0)); then
		echo "FAIL $t: exit $status after ${execs:-?} runs (log: $log)"
		grep -E 'ERROR|invariant|runtime error|Test unit written' "$log" | head -n 10 >&2 || true
		failed+=("$t")
	else
		echo "ok   $t: ${execs:-?} runs in ${seconds}s, $cov, corpus $(find "$work" -type f | wc -l) inputs"
	fi
done
if ((${#failed[@]})); then
	echo "run.sh: failed: ${failed[*]}" >&2
	exit 1
fi
