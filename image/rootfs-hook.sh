#!/bin/sh
# mmdebstrap customize hook (image/build.sh): runs on the finished Debian root filesystem ($1),
# before mmdebstrap packs it into the base layer. Adds the Node.js runtime and the non-root user,
# proves that node runs inside the root filesystem, and drops what a container never uses.
# Environment (exported by build.sh): NODE_BIN, NODE_LICENSE, IMAGE_UID, IMAGE_GID.
set -eu
root="$1"

# Node.js: the build machine's own binary (Debian 12's nodejs is 18, too old for the code). Its
# shared libraries (libc, libm, libstdc++, libgcc_s) come from Debian's packages in this rootfs.
install -D -m 0755 "$NODE_BIN" "$root/usr/local/bin/node"
if [ -n "${NODE_LICENSE:-}" ] && [ -f "$NODE_LICENSE" ]; then
  install -D -m 0644 "$NODE_LICENSE" "$root/usr/local/share/doc/nodejs/LICENSE"
fi

# The user the image runs as (same uid:gid as the Dockerfile's USER and the manifests' runAsUser).
echo "streamforge:x:${IMAGE_UID}:${IMAGE_GID}:StreamForge:/nonexistent:/usr/sbin/nologin" >>"$root/etc/passwd"
echo "streamforge:x:${IMAGE_GID}:" >>"$root/etc/group"
echo "streamforge:!*:19000::::::" >>"$root/etc/shadow"

# Every library node needs must resolve inside the rootfs, and node must run there.
missing=$(chroot "$root" /usr/bin/ldd /usr/local/bin/node | grep 'not found' || true)
if [ -n "$missing" ]; then
  echo "rootfs-hook: node's shared libraries are missing in the rootfs:" >&2
  echo "$missing" >&2
  exit 1
fi
version=$(env -u NODE_OPTIONS -u NODE_EXTRA_CA_CERTS chroot "$root" /usr/local/bin/node -p 'process.versions.node')
echo "rootfs-hook: node $version runs in the rootfs" >&2

# Nothing a container reads: logs, backups of dpkg's state, caches.
rm -rf "$root"/var/log/* "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
