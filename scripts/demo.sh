#!/usr/bin/env bash
# make demo: a real Debian 12 template from this machine's apt sources,
# containers made of link entries, an application template installed
# into a running container, copy-on-write, and what it all costs on
# disk. Without a reachable Debian mirror it runs the tar demo instead.
source "$(dirname "$0")/demo-lib.sh"

step "install the Debian 12 template and its nginx application template (examples/)"
run ez template install examples/debian-12-x86_64
run ez template list

step "create its cache: resolve, download and verify the packages, lay them out, configure them"
if ! ez cache create debian-12-x86_64; then
	echo
	echo "demo: the Debian 12 cache could not be built (is a Debian mirror reachable from this host's apt sources?)."
	echo "demo: showing the same with ezfs's own tar packages instead."
	exec "$(dirname "$0")/demo-tar.sh"
fi
ls -l "$EZFS_VZ/template/cache"

step "create two containers from the cache and mount one"
run ez create 101 --ostemplate debian-12-x86_64
run ez create 102 --ostemplate debian-12-x86_64
run ez mount 101
run ez exec 101 -- cat /etc/debian_version
run ez exec 101 -- sh -c 'dpkg -l | grep -c ^ii'
run ez exec 101 -- sh -c 'apt-get --version | head -1'

step "add nginx to container 102 while it is mounted"
run ez mount 102
run ez install 102 nginx
run ez exec 102 -- /usr/sbin/nginx -v
echo "nginx's binary in 102's private area is an empty link entry:"
run getfattr -n trusted.ezfs.link "$EZFS_VZ/private/102/root/usr/sbin/nginx"

step "copy-on-write: a change to a template file lands in the container only"
run ez exec 101 -- sh -c 'echo "welcome to 101" >> /etc/issue'
run ez exec 101 -- cat /etc/issue
run ez exec 102 -- cat /etc/issue
stat -c '  101 private copy: %s bytes  %n' "$EZFS_VZ/private/101/root/etc/issue"
stat -c '  102 link entry:   %s bytes  %n' "$EZFS_VZ/private/102/root/etc/issue"

step "what each container costs"
run ez list
fstype=$(stat -f -c %T "$EZFS_VZ")
echo "(the private areas are on $fstype. Link entries are empty files; on ext4 with 256-byte inodes each long"
echo " link value takes a 4 KiB attribute block, which the same entry of other containers shares; on XFS it"
echo " stays in the inode: see docs/DEBIAN.md, Disk)"
run ez mountd status

step "clean up"
run ez umount 101
run ez umount 102
run ez destroy 101
run ez destroy 102
run ez template remove nginx
run ez template remove debian-12-x86_64
echo "done."
