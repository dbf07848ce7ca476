# shellcheck shell=bash
# servers.sh: local object-store servers for the blobstore backend tests.
#
# Source it, then call start_servers and (always, e.g. from an EXIT trap)
# stop_servers:
#
#   source scripts/servers.sh
#   trap stop_servers EXIT
#   start_servers
#   SYNCFS_REQUIRE_SERVERS=1 go test ./blobstore/...
#
# or run one command with the servers up:  bash scripts/servers.sh run CMD ARGS...
#
# start_servers installs what is missing (once; later runs reuse the cache),
# starts each server on 127.0.0.1 only, waits for it to answer (bounded) and
# exports the variables the tests read. It is safe under `set -euo pipefail`,
# and every step checks its own status, so it also works inside `if`, where
# bash ignores `set -e`.
#
# Servers:
#   s3     versitygw (posix backend on a temp dir), built from tools/go.mod
#   gcs    fake-gcs-server (in-memory), built from tools/go.mod
#   azure  Azurite's blob service (in-memory), installed with npm
#
# Variables read (all optional):
#   SYNCFS_SERVERS       which to start, default "s3 gcs azure"
#   SYNCFS_TOOLS_DIR     install cache, default $HOME/.cache/syncfs-tools
#   SYNCFS_TOOLS_BIN     where the Go tools are built, default $SYNCFS_TOOLS_DIR/bin
#   SYNCFS_S3_PORT       first port tried for versitygw, default 17300
#   SYNCFS_GCS_PORT      first port tried for fake-gcs-server, default 17310
#   SYNCFS_AZURE_PORT    first port tried for Azurite, default 17320
#                        (a busy port, or one another run grabs first, is
#                        skipped for the next one above it)
#   SYNCFS_SERVER_WAIT   seconds to wait for each server to answer, default 60
#
# Variables exported by start_servers:
#   SYNCFS_TEST_S3_ENDPOINT              http://127.0.0.1:PORT (path-style)
#   SYNCFS_TEST_S3_ACCESS_KEY            random root access key of this run
#   SYNCFS_TEST_S3_SECRET_KEY            random root secret key of this run
#   SYNCFS_TEST_S3_REGION                us-east-1
#   STORAGE_EMULATOR_HOST                127.0.0.1:PORT, as the GCS SDK defines it
#   SYNCFS_TEST_AZURE_CONNECTION_STRING  Azurite's well-known dev account
#   SYNCFS_TEST_SERVERS_DIR              temp dir with the servers' logs and data
#
# Server logs go to $SYNCFS_TEST_SERVERS_DIR/*.log and are printed when a
# server fails to start. stop_servers kills each server's process group and
# removes the temp dir.

# Versions pinned here; the Go tools' versions live in tools/go.mod.
_syncfs_azurite_version=3.37.0
# Azurite's documented development account (public, not a secret).
_syncfs_azurite_account=devstoreaccount1
_syncfs_azurite_key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

_syncfs_servers_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_syncfs_server_pids=${_syncfs_server_pids:-}
_syncfs_servers_tmp=${_syncfs_servers_tmp:-}

_syncfs_log() { printf 'servers.sh: %s\n' "$*" >&2; }

_syncfs_tools_dir() { printf '%s' "${SYNCFS_TOOLS_DIR:-${HOME:-/tmp}/.cache/syncfs-tools}"; }
_syncfs_tools_bin() { printf '%s' "${SYNCFS_TOOLS_BIN:-$(_syncfs_tools_dir)/bin}"; }

# _syncfs_install_go_tools builds versitygw and fake-gcs-server from
# tools/go.mod into the tools bin dir, unless binaries built from the same
# go.mod/go.sum and Go version are already there.
_syncfs_install_go_tools() {
	local bin stamp want tmp start
	bin=$(_syncfs_tools_bin)
	stamp="$bin/.stamp"
	want=$(cat "$_syncfs_servers_root/tools/go.mod" "$_syncfs_servers_root/tools/go.sum" <(go version) | sha256sum | cut -d' ' -f1) || return 1
	if [[ -x $bin/versitygw && -x $bin/fake-gcs-server && -f $stamp && $(cat "$stamp") == "$want" ]]; then
		return 0
	fi
	_syncfs_log "building versitygw and fake-gcs-server into $bin (first run only)"
	start=$SECONDS
	mkdir -p "$bin" || return 1
	# Build into a private dir and move into place, so that two runs
	# sharing the cache never see a half-written binary.
	tmp=$(mktemp -d "$bin/.build.XXXXXX") || return 1
	if ! (cd "$_syncfs_servers_root/tools" && go build -o "$tmp/" tool) >"$tmp/build.log" 2>&1; then
		cat "$tmp/build.log" >&2
		rm -rf "$tmp"
		_syncfs_log "building the Go tools failed"
		return 1
	fi
	mv -f "$tmp/versitygw" "$tmp/fake-gcs-server" "$bin/" || return 1
	printf '%s\n' "$want" >"$stamp"
	rm -rf "$tmp"
	_syncfs_log "built the Go tools in $((SECONDS - start)) s"
}

# _syncfs_azurite_bin prints the path of azurite-blob.
_syncfs_azurite_bin() {
	printf '%s' "$(_syncfs_tools_dir)/azurite-$_syncfs_azurite_version/node_modules/.bin/azurite-blob"
}

# _syncfs_install_azurite installs Azurite with npm unless it is there.
_syncfs_install_azurite() {
	local dir tmp start
	dir="$(_syncfs_tools_dir)/azurite-$_syncfs_azurite_version"
	if [[ -x $(_syncfs_azurite_bin) ]]; then
		return 0
	fi
	if ! command -v npm >/dev/null; then
		_syncfs_log "npm is not installed; Azurite needs Node.js and npm"
		return 1
	fi
	_syncfs_log "installing azurite@$_syncfs_azurite_version into $dir (first run only)"
	start=$SECONDS
	mkdir -p "$(dirname "$dir")" || return 1
	tmp=$(mktemp -d "$dir.tmp.XXXXXX") || return 1
	if ! npm install --prefix "$tmp" --no-audit --no-fund "azurite@$_syncfs_azurite_version" >"$tmp.log" 2>&1; then
		cat "$tmp.log" >&2
		rm -rf "$tmp" "$tmp.log"
		_syncfs_log "npm install azurite failed"
		return 1
	fi
	rm -f "$tmp.log"
	rm -rf "$dir"
	mv "$tmp" "$dir" || return 1
	_syncfs_log "installed Azurite in $((SECONDS - start)) s"
}

# _syncfs_port_busy PORT succeeds if something accepts connections there.
_syncfs_port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _syncfs_free_port BASE prints the first port in BASE..BASE+9 nobody uses.
_syncfs_free_port() {
	local p
	for ((p = $1; p < $1 + 10; p++)); do
		if ! _syncfs_port_busy "$p"; then
			printf '%s' "$p"
			return 0
		fi
	done
	_syncfs_log "no free port in $1..$(($1 + 9)) on 127.0.0.1"
	return 1
}

# _syncfs_http_status PORT PATH prints the HTTP status of GET PATH, or 000.
_syncfs_http_status() {
	local line=""
	if command -v curl >/dev/null; then
		curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$1$2" || true
		return 0
	fi
	# No curl: speak just enough HTTP over bash's /dev/tcp.
	line=$( (exec 3<>"/dev/tcp/127.0.0.1/$1" &&
		printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3 &&
		timeout 2 head -n1 <&3) 2>/dev/null || true)
	line=${line#HTTP/* }
	printf '%s' "${line:0:3}"
	[[ -n $line ]] || printf '000'
}

# _syncfs_start NAME LOG CMD... starts CMD in its own session and process
# group, output to LOG, and records its pid.
_syncfs_start() {
	local name=$1 log=$2
	shift 2
	setsid "$@" >"$log" 2>&1 </dev/null &
	_syncfs_server_pids="$_syncfs_server_pids $name:$!"
}

# _syncfs_pid NAME prints the recorded pid of server NAME.
_syncfs_pid() {
	local e
	for e in $_syncfs_server_pids; do
		if [[ ${e%%:*} == "$1" ]]; then
			printf '%s' "${e#*:}"
			return 0
		fi
	done
	return 1
}

# _syncfs_listens PID PORT succeeds if process PID holds the socket that
# listens on 127.0.0.1:PORT, so that an answer from another run's server,
# which won a race for the port, is never taken for ours.
_syncfs_listens() {
	local pid=$1 hexport ino fds
	hexport=$(printf '%04X' "$2")
	fds=$(ls -l "/proc/$pid/fd" 2>/dev/null) || return 1
	# Column 2 is the local address (hex ip:port), 4 the state (0A:
	# listening), 10 the socket's inode.
	while read -r ino; do
		if [[ $fds == *"socket:[$ino]"* ]]; then
			return 0
		fi
	done < <(awk -v p=":$hexport" '$2 ~ p"$" && $4 == "0A" {print $10}' /proc/net/tcp)
	return 1
}

# _syncfs_wait NAME PORT PATH WANT waits until GET PATH answers WANT (a
# pattern such as 200 or [1-5]??) from the server's own process. It returns
# 0 when it does, 2 if the server exited first (its log is kept for the
# caller), and 1 if the deadline passed.
_syncfs_wait() {
	local name=$1 port=$2 path=$3 want=$4 pid code deadline
	pid=$(_syncfs_pid "$name")
	deadline=$((SECONDS + ${SYNCFS_SERVER_WAIT:-60}))
	while :; do
		code=$(_syncfs_http_status "$port" "$path")
		# shellcheck disable=SC2053 # want is a pattern on purpose
		if [[ $code == $want ]] && _syncfs_listens "$pid" "$port"; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			return 2
		fi
		if ((SECONDS >= deadline)); then
			_syncfs_log "$name did not answer on port $port within ${SYNCFS_SERVER_WAIT:-60} s (last status $code); its log:"
			cat "$_syncfs_servers_tmp/$name.log" >&2 || true
			return 1
		fi
		sleep 0.2
	done
}

# _syncfs_launch NAME BASE PATH WANT starts server NAME with
# _syncfs_run_NAME PORT on the first free port from BASE and waits for it
# (see _syncfs_wait). A server that exits at once most likely lost a race
# for its port with another run on this machine, so the next port is tried,
# a few times. The port is left in _syncfs_port.
_syncfs_launch() {
	local name=$1 base=$2 path=$3 want=$4 port try rc
	port=$base
	for try in 1 2 3 4 5; do
		port=$(_syncfs_free_port "$port") || return 1
		"_syncfs_run_$name" "$port" || return 1
		rc=0
		_syncfs_wait "$name" "$port" "$path" "$want" || rc=$?
		if ((rc == 0)); then
			_syncfs_port=$port
			return 0
		fi
		if ((rc != 2)); then
			return 1
		fi
		_syncfs_log "$name exited before answering on port $port (attempt $try); its log:"
		cat "$_syncfs_servers_tmp/$name.log" >&2 || true
		_syncfs_forget "$name"
		port=$((port + 1))
	done
	_syncfs_log "$name could not be started"
	return 1
}

# _syncfs_forget NAME drops NAME's pid from the list stop_servers kills.
_syncfs_forget() {
	local e kept=""
	for e in $_syncfs_server_pids; do
		if [[ ${e%%:*} != "$1" ]]; then
			kept="$kept $e"
		fi
	done
	_syncfs_server_pids=$kept
}

_syncfs_random_hex() {
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

_syncfs_run_s3() {
	# --keep-alive: versitygw closes every connection otherwise, which
	# makes each request pay a TCP handshake.
	_syncfs_start s3 "$_syncfs_servers_tmp/s3.log" \
		env ROOT_ACCESS_KEY="$_syncfs_s3_access" ROOT_SECRET_KEY="$_syncfs_s3_secret" \
		"$(_syncfs_tools_bin)/versitygw" --port "127.0.0.1:$1" --health /health --keep-alive --quiet \
		posix "$_syncfs_servers_tmp/s3root"
}

_syncfs_start_s3() {
	_syncfs_s3_access="syncfs$(_syncfs_random_hex 6)"
	_syncfs_s3_secret=$(_syncfs_random_hex 20)
	mkdir -p "$_syncfs_servers_tmp/s3root" || return 1
	_syncfs_launch s3 "${SYNCFS_S3_PORT:-17300}" /health 200 || return 1
	export SYNCFS_TEST_S3_ENDPOINT="http://127.0.0.1:$_syncfs_port"
	export SYNCFS_TEST_S3_ACCESS_KEY="$_syncfs_s3_access"
	export SYNCFS_TEST_S3_SECRET_KEY="$_syncfs_s3_secret"
	export SYNCFS_TEST_S3_REGION=us-east-1
	_syncfs_log "s3 (versitygw) on $SYNCFS_TEST_S3_ENDPOINT"
}

_syncfs_run_gcs() {
	# -public-host must be host:port: the SDK reads objects through the
	# XML-style URL the server builds from it.
	_syncfs_start gcs "$_syncfs_servers_tmp/gcs.log" \
		"$(_syncfs_tools_bin)/fake-gcs-server" -scheme http -host 127.0.0.1 -port "$1" \
		-public-host "127.0.0.1:$1" -backend memory -log-level warn
}

_syncfs_start_gcs() {
	_syncfs_launch gcs "${SYNCFS_GCS_PORT:-17310}" /storage/v1/b 200 || return 1
	export STORAGE_EMULATOR_HOST="127.0.0.1:$_syncfs_port"
	_syncfs_log "gcs (fake-gcs-server) on $STORAGE_EMULATOR_HOST"
}

_syncfs_run_azure() {
	# Run from the temp dir: Azurite refuses --location together with
	# --inMemoryPersistence, and anything it still writes lands there.
	_syncfs_start azure "$_syncfs_servers_tmp/azure.log" env -C "$_syncfs_servers_tmp/azurite" \
		"$(_syncfs_azurite_bin)" --blobHost 127.0.0.1 --blobPort "$1" \
		--inMemoryPersistence --skipApiVersionCheck --disableTelemetry --silent
}

_syncfs_start_azure() {
	mkdir -p "$_syncfs_servers_tmp/azurite" || return 1
	# Any HTTP answer means it is serving (an unsigned request gets 4xx).
	_syncfs_launch azure "${SYNCFS_AZURE_PORT:-17320}" "/$_syncfs_azurite_account?comp=list" '[1-5]??' || return 1
	export SYNCFS_TEST_AZURE_CONNECTION_STRING="DefaultEndpointsProtocol=http;AccountName=$_syncfs_azurite_account;AccountKey=$_syncfs_azurite_key;BlobEndpoint=http://127.0.0.1:$_syncfs_port/$_syncfs_azurite_account;"
	_syncfs_log "azure (Azurite) on 127.0.0.1:$_syncfs_port"
}

# start_servers installs what is missing, starts the servers named in
# SYNCFS_SERVERS and exports their variables. On failure it stops whatever
# it started and returns non-zero.
start_servers() {
	local which name start
	which=${SYNCFS_SERVERS:-s3 gcs azure}
	if [[ -n $_syncfs_servers_tmp ]]; then
		_syncfs_log "servers already started (stop_servers first)"
		return 1
	fi
	start=$SECONDS
	for name in $which; do
		case $name in
		s3 | gcs) _syncfs_install_go_tools || return 1 ;;
		azure) _syncfs_install_azurite || return 1 ;;
		*)
			_syncfs_log "unknown server $name in SYNCFS_SERVERS (want s3, gcs, azure)"
			return 1
			;;
		esac
	done
	_syncfs_servers_tmp=$(mktemp -d "${TMPDIR:-/tmp}/syncfs-servers.XXXXXX") || return 1
	export SYNCFS_TEST_SERVERS_DIR=$_syncfs_servers_tmp
	for name in $which; do
		if ! "_syncfs_start_$name"; then
			stop_servers
			return 1
		fi
	done
	_syncfs_log "servers ready in $((SECONDS - start)) s (logs in $_syncfs_servers_tmp)"
}

# stop_servers stops every server start_servers started (TERM to each
# process group, KILL after 10 s) and removes their temp dir. Safe to call
# more than once, or when nothing was started.
stop_servers() {
	local e pid deadline
	for e in $_syncfs_server_pids; do
		pid=${e#*:}
		kill -TERM -- "-$pid" 2>/dev/null || true
	done
	for e in $_syncfs_server_pids; do
		pid=${e#*:}
		deadline=$((SECONDS + 10))
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
			sleep 0.1
		done
		kill -KILL -- "-$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	_syncfs_server_pids=
	if [[ -n $_syncfs_servers_tmp ]]; then
		rm -rf "$_syncfs_servers_tmp"
	fi
	_syncfs_servers_tmp=
	unset SYNCFS_TEST_S3_ENDPOINT SYNCFS_TEST_S3_ACCESS_KEY SYNCFS_TEST_S3_SECRET_KEY \
		SYNCFS_TEST_S3_REGION STORAGE_EMULATOR_HOST SYNCFS_TEST_AZURE_CONNECTION_STRING \
		SYNCFS_TEST_SERVERS_DIR
}

# Run directly: `bash scripts/servers.sh run CMD ARGS...`.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	set -euo pipefail
	if [[ ${1:-} != run || $# -lt 2 ]]; then
		echo "usage: source scripts/servers.sh; or: bash scripts/servers.sh run CMD ARGS..." >&2
		exit 2
	fi
	shift
	trap stop_servers EXIT
	start_servers
	"$@"
fi
