# Shared by the demos: a work directory, ezctl with a mountd of its own,
# and cleanup that leaves nothing mounted.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "demo: ezfs needs root; run: sudo make demo" >&2; exit 1; }
work=$(mktemp -d /tmp/ezfs-demo.XXXXXX)
export EZFS_VZ=$work/vz EZFS_MOUNTD_SOCKET=$work/run/mountd.sock
ez() { "$PWD/bin/ezctl" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
cleanup() {
	for m in $(awk -v w="$work" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r); do umount -l "$m" 2>/dev/null || true; done
	pid=$(ez mountd status --json 2>/dev/null | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')
	[ -n "$pid" ] && kill "$pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
