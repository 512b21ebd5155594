#!/bin/bash
# Build the Cockpit page into OUT (default $AVM_BUILD/cockpit/alacrityvm):
# the page's own files, and PatternFly's CSS with exactly the fonts and
# images it refers to, from the npm package pinned in package-lock.json
# (installed into cockpit/node_modules by `npm ci`; nothing is vendored).
# The packages ship OUT as /usr/share/cockpit/alacrityvm (docs/cockpit.md).
set -euo pipefail

here=$(dirname "$(readlink -f "$0")")
out=${1:-${AVM_BUILD:-$here/../build}/cockpit/alacrityvm}
pf=$here/node_modules/@patternfly/patternfly

# npm ci only when the lock file changed since the last install; its cache
# in the build tree, not in ~/.npm (make leaves the machine as it was).
if [[ ! $here/node_modules/.package-lock.json -nt $here/package-lock.json ]]; then
	npm ci --prefix "$here" --cache "$(dirname "$out")/npm-cache" --no-update-notifier \
		--no-audit --no-fund --loglevel=error
fi

rm -rf "$out"
mkdir -p "$out"
cp "$here/manifest.json" "$here"/src/*.html "$here"/src/*.js "$here"/src/*.css "$out/"
# The source map is not shipped: drop the comment that points to it.
sed '/sourceMappingURL=/d' "$pf/patternfly.min.css" >"$out/patternfly.css"
mapfile -t assets < <(grep -o 'url([^)]*)' "$pf/patternfly.min.css" |
	sed -E 's/^url\(["'\'']?(\.\/)?//; s/["'\'']?\)$//' | grep -v '^data:' | sort -u)
for a in "${assets[@]}"; do
	[[ -f $pf/$a ]] || { echo "build.sh: $a (referenced by patternfly.min.css) missing" >&2; exit 1; }
	install -Dm0644 "$pf/$a" "$out/$a"
done
echo "cockpit: built $out (${#assets[@]} PatternFly assets)"
