# shellcheck shell=bash
# lib.sh - shared by the tests in tests/install/ (sourced, not run): TAP
# output (one line per check, the plan at the end), a free TCP port, and
# bounded waits (these tests watch daemons and init scripts, which have no
# events to await, so they poll a bounded number of times).

tap_n=0
tap_failed=0

ok() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $*"
}

not_ok() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $*"
}

# check DESCRIPTION COMMAND [ARG]...: one TAP line for the command's status.
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

skip() {
	tap_n=$((tap_n + 1))
	echo "ok $tap_n - $1 # SKIP $2"
}

diag() {
	local line
	for line in "$@"; do
		printf '# %s\n' "$line"
	done
}

# Prints a file's last lines as TAP comments.
diag_file() {
	[ -f "$1" ] || return 0
	tail -n "${2:-20}" "$1" | sed 's/^/#   /'
}

bail_out() {
	echo "Bail out! $*"
	exit 1
}

# The plan, last; the exit status says whether everything passed.
done_testing() {
	echo "1..$tap_n"
	[ "$tap_failed" -eq 0 ]
}

# A TCP port nothing listens on now on 127.0.0.1 (random, so that tests
# running side by side do not pick the same one), below the kernel's
# ephemeral range, where the other tests' client connections take their
# local ports from (a port in use that way cannot be bound either).
free_port() {
	local port tries low
	low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ "${low:-0}" -gt 21000 ] 2>/dev/null || low=32768
	for ((tries = 0; tries < 50; tries++)); do
		port=$((20000 + RANDOM % (low - 20000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# GET http://127.0.0.1:PORT/health once; prints the body.
health() {
	curl -fsS --max-time 2 "http://127.0.0.1:$1/health" 2>/dev/null
}

# Up to TRIES times, a tenth of a second apart, until health answers "ok".
wait_health() {
	local port=$1 tries=${2:-50} i
	for ((i = 0; i < tries; i++)); do
		health "$port" | grep -q '"status":"ok"' && return 0
		sleep 0.1
	done
	return 1
}

# True if process PID exists and is not a zombie (an orphan that init has
# yet to reap counts as gone).
alive() {
	local stat
	kill -0 "$1" 2>/dev/null || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	[ "${stat:0:1}" != Z ]
}

# Up to TRIES times, a tenth of a second apart, until process PID is gone.
wait_gone() {
	local pid=$1 tries=${2:-100} i
	for ((i = 0; i < tries; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}
