#!/usr/bin/env bash
# The demo with ezfs's own tar packages, built from files of this host:
# no network needed.
source "$(dirname "$0")/demo-lib.sh"

repo=$work/repo src=$work/src
mkdir -p "$repo"
# pkg NAME VERSION DEPENDS FILE... : a tar package of host files (with
# the libraries the programs among them load), laid out merged-/usr.
pkg() {
	local name=$1 version=$2 depends=$3; shift 3
	local d=$work/build/$name
	mkdir -p "$d/.ezfs"
	printf 'Package: %s\nVersion: %s\nArchitecture: amd64\n%sDescription: %s from this host\n' \
		"$name" "$version" "${depends:+Depends: $depends
}" "$name" > "$d/.ezfs/control"
	for f in "$@"; do
		for g in "$f" $(ldd "$f" 2>/dev/null | grep -o '/[^ ]*\.so[.0-9]*' || true); do
			case $g in /bin/*|/sbin/*|/lib/*|/lib64/*) dst=$d/usr$g ;; *) dst=$d$g ;; esac
			mkdir -p "$(dirname "$dst")"; cp "$(readlink -f "$g")" "$dst"
		done
	done
	if [ "$name" = hostbase ]; then
		for l in bin sbin lib lib64; do ln -s "usr/$l" "$d/$l"; done
	fi
	tar -C "$d" -czf "$repo/${name}_${version}_amd64.tar.gz" .
}

step "a tar repository of host files"
pkg hostbase 1.0 "" /bin/sh /usr/bin/cat /usr/bin/ls /etc/os-release
pkg hello 1.0 hostbase /usr/bin/env
run ez repo index "$repo"

step "an OS template and an application template that use it"
cfg=$src/hostos/1/x86_64/config
mkdir -p "$cfg/os/default" "$cfg/app/hello/default"
printf 'hostbase\n' > "$cfg/os/default/packages"
printf 'tar\n' > "$cfg/os/default/package_manager"
printf '%s\n' "$repo" > "$cfg/os/default/repositories"
printf 'host files as an OS\n' > "$cfg/os/default/summary"
printf 'hello\n' > "$cfg/app/hello/default/packages"
printf '#!/bin/sh\necho "hello installed in $VEID" > /etc/hello\n' > "$cfg/app/hello/default/post-install"
chmod +x "$cfg/app/hello/default/post-install"
run ez template install "$src"

step "cache, two containers, one mounted"
run ez cache create hostos-1-x86_64
run ez create 101 --ostemplate hostos-1-x86_64
run ez create 102 --ostemplate hostos-1-x86_64
run ez mount 101
run ez exec 101 -- /usr/bin/cat /etc/os-release

step "an application template into the running container"
run ez install 101 hello
run ez exec 101 -- /usr/bin/cat /etc/hello

step "copy-on-write"
echo "welcome to 101" >> "$EZFS_VZ/root/101/etc/os-release"
run tail -1 "$EZFS_VZ/root/101/etc/os-release"
stat -c '  101 private copy: %s bytes' "$EZFS_VZ/private/101/root/etc/os-release"
stat -c '  102 link entry:   %s bytes' "$EZFS_VZ/private/102/root/etc/os-release"
run ez list

step "clean up"
run ez umount 101
run ez destroy 101
run ez destroy 102
run ez template remove hello
run ez template remove hostos-1-x86_64
echo "done."
