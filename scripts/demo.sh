#!/usr/bin/env bash
# make demo: a private tree of link entries mounted over a template area
# built from files of this host, and copy-on-write at work.
set -euo pipefail
cd "$(dirname "$0")/.."
ezctl=$PWD/bin/ezctl
[ "$(id -u)" -eq 0 ] || { echo "demo: ezfs mounts need root; run: sudo make demo" >&2; exit 1; }
command -v setfattr >/dev/null || { echo "demo: needs setfattr; install it with: apt-get install attr" >&2; exit 1; }

work=$(mktemp -d /tmp/ezfs-demo.XXXXXX)
tmpl=$work/template priv=$work/private/root mnt=$work/mnt
cleanup() {
	"$ezctl" umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "a template area holding a few files of this host, as one package"
pkg=demo/1/x86_64/hostfiles_1.0_amd64
for f in /etc/os-release /etc/hosts /usr/bin/env /usr/share/common-licenses/GPL-3; do
	[ -e "$f" ] || continue
	mkdir -p "$tmpl/$pkg$(dirname "$f")"
	cp -L "$f" "$tmpl/$pkg$f"
done
find "$tmpl" -type f -printf '  %P  (%s bytes)\n'

step "a private area: directories, and a link entry for every file"
(cd "$tmpl/$pkg" && find . -type d) | while read -r d; do mkdir -p "$priv/$d"; done
(cd "$tmpl/$pkg" && find . -type f -printf '%P\n') | while read -r f; do
	: > "$priv/$f"
	chmod --reference="$tmpl/$pkg/$f" "$priv/$f"
	setfattr -n trusted.ezfs.link -v "$pkg/$f" "$priv/$f"
done
echo "hello from the container" > "$priv/etc/motd"
echo "  private area on disk: $(du -sh --apparent-size "$work/private" | cut -f1) (entries are empty files)"
getfattr -n trusted.ezfs.link "$priv/etc/hosts" 2>/dev/null | sed -n 2p | sed 's/^/  etc\/hosts: /'

step "mount it"
mkdir -p "$mnt"
"$ezctl" mount --template "$tmpl" --private "$priv" --log "$work/mount.log" "$mnt"

step "inside the mount every link reads as the template file"
ls -l "$mnt/etc" "$mnt/usr/bin"
echo "--- $mnt/etc/os-release:"; head -3 "$mnt/etc/os-release"
echo "--- $mnt/etc/motd (the container's own file):"; cat "$mnt/etc/motd"
"$mnt/usr/bin/env" true && echo "--- $mnt/usr/bin/env runs from the template (exec through passthrough)"

step "chmod and chown change the entry, copy nothing"
chmod 600 "$mnt/etc/os-release"; chown 1000:1000 "$mnt/etc/os-release"
stat -c '  mount:    %A %u:%g %s bytes  %n' "$mnt/etc/os-release"
stat -c '  private:  %A %u:%g %s bytes  %n' "$priv/etc/os-release"
stat -c '  template: %A %u:%g %s bytes  %n' "$tmpl/$pkg/etc/os-release"

step "the first write copies the file up, into the private area only"
echo "10.0.0.2 ct101" >> "$mnt/etc/hosts"
echo "--- mount:";    tail -2 "$mnt/etc/hosts"
echo "--- template:"; tail -1 "$tmpl/$pkg/etc/hosts"
stat -c '  private entry now holds %s bytes' "$priv/etc/hosts"
getfattr -n trusted.ezfs.link "$priv/etc/hosts" >/dev/null 2>&1 && echo "  (still a link?!)" || echo "  and is no longer a link entry"

step "unmount"
"$ezctl" umount "$mnt"
echo "done: the template area is unchanged and the container kept its changes."
