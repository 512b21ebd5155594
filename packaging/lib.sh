# shellcheck shell=bash
# Shared helpers for packaging/*.sh and tests/packaging/*.sh: messages, the
# one version, the directories and the signing key environment.
#
# Environment (all optional):
#   AVM_BUILD          build directory            (default: <top>/build)
#   AVM_DIST           output directory           (default: <top>/dist)
#   GNUPGHOME          gpg home holding the signing key; with AVM_SIGNING_KEY
#   AVM_SIGNING_KEY    key id / fingerprint that signs packages and repos;
#                      unset: a development key is generated in
#                      $AVM_BUILD/packaging/gnupg (NOT FOR PRODUCTION)
#   AVM_REPO_URL       base URL the shipped .repo / .sources point at

AVM_PKG_DIR=$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")
AVM_TOP=$(dirname "$AVM_PKG_DIR")
AVM_BUILD=${AVM_BUILD:-$AVM_TOP/build}
AVM_DIST=${AVM_DIST:-$AVM_TOP/dist}
AVM_PKG_BUILD=$AVM_BUILD/packaging
AVM_VERSION=$(head -n1 "$AVM_TOP/VERSION")
AVM_REPO_URL=${AVM_REPO_URL:-https://packages.alacrityvm.example}
AVM_DEV_UID="AlacrityVM development key (NOT FOR PRODUCTION) <dev@alacrityvm.invalid>"
export AVM_TOP AVM_BUILD AVM_DIST AVM_VERSION AVM_REPO_URL

info() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "${0##*/}" "$*" >&2
	exit 1
}

[[ $AVM_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
	die "VERSION '$AVM_VERSION' is not MAJOR.MINOR.PATCH"

# Per-step timing: `timed NAME cmd...` prints "time: NAME: N s".
timed() {
	local name=$1 start=$SECONDS
	shift
	"$@"
	info "time: $name: $((SECONDS - start)) s"
}

# at_exit CMD: run CMD (a string for eval) when the script exits, in the
# order added; for scripts that source this file instead of `trap ... EXIT`,
# so that several clean-ups can share the one EXIT trap.
avm_at_exit=()
avm_run_at_exit() {
	local cmd
	for cmd in "${avm_at_exit[@]}"; do
		eval "$cmd" || true
	done
}
at_exit() {
	avm_at_exit+=("$1")
	trap avm_run_at_exit EXIT
}

# Select the signing key; sets and exports GNUPGHOME, AVM_SIGNING_KEY (full
# fingerprint) and AVM_KEY_KIND (production|development).  A key given in
# the environment must have its secret part in GNUPGHOME; without one, the
# development key in $AVM_PKG_BUILD/gnupg is used, generated on first use.
signing_env() {
	if [[ -n ${AVM_SIGNING_KEY:-} ]]; then
		AVM_KEY_KIND=production
		export GNUPGHOME=${GNUPGHOME:-$HOME/.gnupg}
	else
		AVM_KEY_KIND=development
		export GNUPGHOME=$AVM_PKG_BUILD/gnupg
		if ! gpg --batch --list-secret-keys "$AVM_DEV_UID" >/dev/null 2>&1; then
			info "generating the development signing key (NOT FOR PRODUCTION)"
			mkdir -p "$GNUPGHOME"
			chmod 700 "$GNUPGHOME"
			gpg --batch --quiet --passphrase '' \
				--quick-generate-key "$AVM_DEV_UID" rsa3072 sign never
		fi
		AVM_SIGNING_KEY=$AVM_DEV_UID
		# gpg starts a gpg-agent for this GNUPGHOME, which would outlive the
		# build; it is the build's own, so it goes when the script ends (a
		# production GNUPGHOME's agent is the user's and may hold a preset
		# passphrase: it is left alone)
		at_exit "gpgconf --kill gpg-agent"
	fi
	local fpr
	fpr=$(gpg --batch --with-colons --list-secret-keys "$AVM_SIGNING_KEY" 2>/dev/null |
		awk -F: '$1 == "fpr" { print $10; exit }') ||
		true
	[[ -n $fpr ]] || die "no secret key '$AVM_SIGNING_KEY' in GNUPGHOME=$GNUPGHOME"
	AVM_SIGNING_KEY=$fpr
	export AVM_SIGNING_KEY AVM_KEY_KIND
}
