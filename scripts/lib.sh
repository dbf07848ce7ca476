# shellcheck shell=bash
# scripts/lib.sh: helpers shared by scripts/test and scripts/demo. Source it;
# it defines functions only and changes no shell options.

# log prints a progress line to stderr.
log() {
	printf '==> %s\n' "$*" >&2
}

# warn prints a warning to stderr.
warn() {
	printf 'warning: %s\n' "$*" >&2
}

# die prints an error to stderr and exits.
die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# as_root runs a command as root: directly when we are root, through sudo
# when it needs no password, and fails otherwise.
as_root() {
	if [[ $EUID -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n "$@"
	else
		return 1
	fi
}

# ensure_tools TOOL:PACKAGE...: installs, with apt-get, the Debian package of
# each tool that is not on PATH. Nothing runs when every tool is present, so
# repeated runs stay fast and need no network.
ensure_tools() {
	local pair tool pkg
	local -a missing=()
	for pair in "$@"; do
		tool=${pair%%:*}
		pkg=${pair#*:}
		if ! command -v "$tool" >/dev/null 2>&1; then
			missing+=("$pkg")
		fi
	done
	if ((${#missing[@]} == 0)); then
		return 0
	fi
	log "installing ${missing[*]}"
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
		! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
		warn "could not install ${missing[*]} (not root, or apt-get failed); tests that need them will fail"
		return 1
	fi
}

# ensure_fuse makes /dev/fuse exist if the kernel can provide it (best
# effort: in a container it is the host's to give).
ensure_fuse() {
	if [[ ! -e /dev/fuse ]]; then
		as_root modprobe fuse >/dev/null 2>&1 || true
	fi
	if [[ ! -e /dev/fuse ]]; then
		warn "/dev/fuse is missing (modprobe fuse failed); mounting will not work"
		return 1
	fi
}

# ensure_go puts a Go toolchain on PATH, or exits saying how to get one. A Go
# of 1.21 or later fetches the version go.mod names from the module proxy by
# itself (GOTOOLCHAIN=auto).
ensure_go() {
	if command -v go >/dev/null 2>&1; then
		return 0
	fi
	local dir
	for dir in /usr/local/go/bin "$HOME/go/bin" /usr/lib/go/bin; do
		if [[ -x $dir/go ]]; then
			PATH=$dir:$PATH
			export PATH
			return 0
		fi
	done
	die "no go command: install Go (https://go.dev/dl/) and put it on PATH"
}

# fuse_mounts_under DIR prints, one a line, the FUSE mount points at or under
# DIR, decoding the octal escapes /proc/mounts uses for spaces and the like.
fuse_mounts_under() {
	local dir=${1%/} mnt fstype
	[[ -r /proc/mounts ]] || return 0
	while read -r _ mnt fstype _; do
		case $fstype in
		fuse | fuse.* | fuseblk) ;;
		*) continue ;;
		esac
		mnt=$(printf '%b' "$mnt")
		if [[ $mnt == "$dir" || $mnt == "$dir"/* ]]; then
			printf '%s\n' "$mnt"
		fi
	done </proc/mounts
}

# lazy_unmount MOUNTPOINT detaches a mount at once whatever state its daemon
# is in (umount -l; fusermount3 -uz when we are not root).
lazy_unmount() {
	as_root umount -l "$1" 2>/dev/null ||
		{ command -v fusermount3 >/dev/null 2>&1 && fusermount3 -uz "$1"; }
}
