#!/bin/bash
# Export the public half of the signing key (packaging/lib.sh signing_env):
#   $AVM_DIST/keys/alacrityvm-archive-keyring.gpg   binary (apt signed-by)
#   $AVM_DIST/keys/RPM-GPG-KEY-alacrityvm           ASCII armour (rpm, dnf)
# and the same two files in $AVM_PKG_BUILD/keys for the package builds.
set -euo pipefail
. "$(dirname "$(readlink -f "$0")")/lib.sh"

usage() {
	cat <<USAGE
usage: ${0##*/}

Export the signing key's public half to \$AVM_DIST/keys and
\$AVM_PKG_BUILD/keys.  Environment: GNUPGHOME, AVM_SIGNING_KEY (see
packaging/lib.sh); without them a development key is generated.
USAGE
}
[[ $# -eq 0 ]] || { usage >&2; exit 2; }

signing_env
for dir in "$AVM_PKG_BUILD/keys" "$AVM_DIST/keys"; do
	mkdir -p "$dir"
	gpg --batch --yes --export "$AVM_SIGNING_KEY" >"$dir/alacrityvm-archive-keyring.gpg"
	gpg --batch --yes --armor --export "$AVM_SIGNING_KEY" >"$dir/RPM-GPG-KEY-alacrityvm"
done
info "$AVM_KEY_KIND key $AVM_SIGNING_KEY exported to $AVM_DIST/keys"
