#!/usr/bin/env bash
# Builds StreamForge's OCI image without a Docker engine (docs/image.md):
#   layer 1  Debian 12 (mmdebstrap, variant essential + libstdc++6) with this machine's Node.js
#            binary in /usr/local/bin and the user streamforge (1000:1000)
#   layer 2  /app: the files the Dockerfile copies, and node_modules pruned to production
# packed as an OCI image layout with umoci. The result is cached under .cache/image/<key>/, the key
# being a hash of everything that goes in (package-lock.json, the sources, the Node.js binary,
# these scripts), so a second run with nothing changed returns at once.
#
# Usage: image/build.sh [--force] [--print-key]
# Prints the image's directory on its last line of stdout; <dir>/oci is the OCI layout (tag = the
# package version), <dir>/build.json the digests and sizes.
# Environment: IMAGE_CACHE (default .cache/image), IMAGE_MIRROR (default deb.debian.org),
# IMAGE_SUITE (bookworm), NODE_BIN (default `command -v node`), IMAGE_SOURCE (the source label).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$repo"

force=false
print_key=false
for arg in "$@"; do
  case "$arg" in
    --force) force=true ;;
    --print-key) print_key=true ;;
    -h | --help)
      sed -n '2,15p' "$0"
      exit 0
      ;;
    *)
      echo "image/build.sh: unknown argument $arg" >&2
      exit 64
      ;;
  esac
done

log() { echo "image/build.sh: $*" >&2; }
die() {
  log "$*"
  exit 1
}

cache="${IMAGE_CACHE:-$repo/.cache/image}"
mirror="${IMAGE_MIRROR:-http://deb.debian.org/debian}"
suite="${IMAGE_SUITE:-bookworm}"
node_bin="$(readlink -f "${NODE_BIN:-$(command -v node || true)}")"
source_url="${IMAGE_SOURCE:-https://github.com/streamforge/streamforge}"
# Debian packages on top of the essential set: node needs libstdc++6 (libc6 and libgcc-s1 are
# essential already); usr-is-merged comes from the merged-usr hook instead of usrmerge (+ perl).
packages=(libstdc++6)
# What the Dockerfile's final stage copies from the build context (test/image checks they agree).
app_paths=(package.json package-lock.json tsconfig.json bin shared functions knative/jobs kafka-sources)
uid=1000
gid=1000
# Same as the Dockerfile's ENTRYPOINT: STREAMFORGE_FUNCTION selects the function; Jobs replace it
# with `node --import tsx` and pass functions/<target>/main.ts as args. `exec` makes node PID 1.
entrypoint=(/bin/sh -c 'exec node --import tsx "functions/${STREAMFORGE_FUNCTION:?set STREAMFORGE_FUNCTION to a folder of functions/}/main.ts" "$@"' streamforge)

# ---- preflight: say exactly what is missing.
[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap's root mode, and layer files owned by root)"
for tool in mmdebstrap umoci tar gzip sha256sum flock npm; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (apt-get install mmdebstrap umoci)"
done
[ -x "$node_bin" ] || die "no Node.js binary (set NODE_BIN)"
node_version="$("$node_bin" -p 'process.versions.node')"
"$node_bin" -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  die "Node.js $node_version is too old: the code needs >= 20.19"
[ -d node_modules ] || die "node_modules is missing: run npm ci first (the image takes its production part)"
version="$("$node_bin" -p 'require("./package.json").version')"

# ---- cache keys: the base layer's inputs, then everything.
hash_files() { sha256sum "$@" | sha256sum | cut -c1-16; }
base_key="$(
  {
    echo "$suite ${packages[*]} uid=$uid gid=$gid"
    sha256sum "$node_bin" "$here/build.sh" "$here/rootfs-hook.sh" | cut -d' ' -f1
  } | sha256sum | cut -c1-16
)"
sources_key="$(
  # shellcheck disable=SC2046
  find "${app_paths[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
)"
key="$(echo "$base_key $sources_key $(hash_files package-lock.json package.json) $source_url" | sha256sum | cut -c1-16)"
if $print_key; then
  echo "$key"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9 # one build at a time per cache (parallel test runs wait for each other)
rm -rf "$cache"/work.* # left by a build that was killed

out="$cache/$key"
if ! $force && [ -f "$out/build.json" ]; then
  log "cached: $out"
  echo "$out"
  exit 0
fi

started=$(date +%s)
work="$(mktemp -d "$cache/work.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Fixed timestamps in the layers (mmdebstrap honours SOURCE_DATE_EPOCH too).
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(stat -c %Y package-lock.json)}"
created="$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)"

# ---- layer 1: Debian 12 + Node.js, compressed once into a base OCI layout kept across app changes
# (base-<key>/oci, tag "base").
base="$cache/base-$base_key"
if $force || [ ! -f "$base/tar_bytes" ]; then
  log "layer 1: mmdebstrap $suite (essential + ${packages[*]}) from $mirror, node $node_version"
  export NODE_BIN="$node_bin" IMAGE_UID="$uid" IMAGE_GID="$gid"
  NODE_LICENSE="$(dirname "$(dirname "$node_bin")")/share/doc/nodejs/LICENSE"
  export NODE_LICENSE
  mmdebstrap --variant=essential --mode=root --include="$(
    IFS=,
    echo "${packages[*]}"
  )" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --customize-hook="sh '$here/rootfs-hook.sh' \"\$1\"" \
    --skip=output/dev \
    "$suite" "$work/base.tar" "$mirror" >&2 ||
    die "mmdebstrap failed (is $mirror reachable? see its output above)"
  # output/dev leaves out /dev's device nodes (a runtime mounts its own /dev), and /dev with them:
  # add the empty mount point back.
  mkdir -m 0755 "$work/dev"
  tar --append --file="$work/base.tar" --directory="$work" --numeric-owner --owner=0 --group=0 \
    --mtime="@$SOURCE_DATE_EPOCH" --transform='s|^dev|./dev|' dev
  rm -rf "$cache"/base-*/
  mkdir -p "$work/base"
  umoci init --layout "$work/base/oci"
  umoci new --image "$work/base/oci:base"
  umoci raw add-layer --image "$work/base/oci:base" --history.created="$created" \
    --history.created_by="mmdebstrap --variant=essential $suite + ${packages[*]}; node $node_version in /usr/local/bin" \
    "$work/base.tar"
  stat -c %s "$work/base.tar" >"$work/base/tar_bytes"
  rm -f "$work/base.tar"
  mv "$work/base" "$base"
else
  log "layer 1: cached $base"
fi

# ---- layer 2: /app, root-owned and read-only for the runtime user.
log "layer 2: /app (${app_paths[*]}, node_modules --omit=dev)"
app="$work/root/app"
mkdir -p "$app"
for p in "${app_paths[@]}"; do
  mkdir -p "$app/$(dirname "$p")"
  cp -a "$p" "$app/$p"
done
# Only the production packages (npm's own resolution of package-lock.json), without what is never
# read at run time: source maps (no --enable-source-maps), type declarations, tool caches, and
# better-sqlite3's build tree beside the one addon it loads.
npm ls --omit=dev --all --parseable --offline >"$work/prod.txt" 2>"$work/npm-ls.err" ||
  die "node_modules does not match package-lock.json (run npm ci): $(head -5 "$work/npm-ls.err")"
"$node_bin" -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
  const root = lines.shift();
  const rel = lines.map((l) => l.slice(root.length + 1)).sort();
  const top = rel.filter((p, i) => !rel.some((q, j) => j !== i && p.startsWith(q + "/")));
  process.stdout.write(top.join("\0"));
' "$work/prod.txt" >"$work/prod.lst"
# (GNU tar applies an --exclude only to the names that follow it.)
tar --create --file=- \
  --exclude='*.map' --exclude='*.d.ts' --exclude='*.d.mts' --exclude='*.d.cts' --exclude='node_modules/.cache' \
  --exclude='better-sqlite3/deps' --exclude='better-sqlite3/src' --exclude='better-sqlite3/build/Release/obj*' \
  --exclude='better-sqlite3/build/Release/.deps' --exclude='better-sqlite3/build/Release/test_extension.node' \
  --null --files-from="$work/prod.lst" |
  tar --extract --file=- --directory="$app"
(
  cd "$app"
  npm ls --omit=dev --offline >/dev/null 2>"$work/npm-ls.err" ||
    die "the production node_modules is incomplete: $(head -5 "$work/npm-ls.err")"
  [ -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ] || die "better-sqlite3's addon is missing"
)
tar --create --file="$work/app.tar" --directory="$work/root" --sort=name --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  --numeric-owner --owner=0 --group=0 --mode='go-w,a+rX' --mtime="@$SOURCE_DATE_EPOCH" app

# ---- the OCI layout: the base layout's blobs (hard links) plus the app layer and the config.
log "packing with umoci ($(umoci --version))"
oci="$work/out/oci"
mkdir -p "$oci/blobs/sha256"
cp "$base/oci/oci-layout" "$base/oci/index.json" "$oci/"
cp -l "$base"/oci/blobs/sha256/* "$oci/blobs/sha256/" 2>/dev/null || cp "$base"/oci/blobs/sha256/* "$oci/blobs/sha256/"
umoci raw add-layer --image "$oci:base" --tag "$version" --history.created="$created" \
  --history.created_by="image/build.sh: /app (${app_paths[*]}, node_modules --omit=dev)" \
  "$work/app.tar"
umoci rm --image "$oci:base"
config=(--config.user="$uid:$gid" --config.workingdir=/app --config.exposedports=8080/tcp
  --config.env=PATH=/usr/local/bin:/usr/bin:/bin --config.env=NODE_ENV=production
  --config.stopsignal=SIGTERM --clear=config.cmd --os=linux --architecture=amd64 --created="$created"
  --author=StreamForge
  --config.label=org.opencontainers.image.title=streamforge
  --config.label=org.opencontainers.image.description="StreamForge: every function and Job (STREAMFORGE_FUNCTION selects one)"
  --config.label=org.opencontainers.image.source="$source_url"
  --config.label=org.opencontainers.image.licenses=Apache-2.0
  --config.label=org.opencontainers.image.version="$version"
  --config.label=org.opencontainers.image.base.name="debian:$suite (mmdebstrap essential)"
  --config.label=io.streamforge.node.version="$node_version"
  --manifest.annotation=org.opencontainers.image.ref.name="$version")
for e in "${entrypoint[@]}"; do config+=(--config.entrypoint="$e"); done
umoci config --image "$oci:$version" --history.created="$created" \
  --history.created_by="image/build.sh: user $uid:$gid, /app, entrypoint" "${config[@]}"
umoci gc --layout "$oci"

# ---- sizes and digests (build.json), then swap the result in.
"$node_bin" - "$oci" "$version" "$key" "$(cat "$base/tar_bytes")" "$(stat -c %s "$work/app.tar")" "$node_version" "$started" >"$work/out/build.json" <<'EOF'
const fs = require('node:fs');
const path = require('node:path');
const [oci, tag, key, baseTar, appTar, nodeVersion, started] = process.argv.slice(2);
// Uncompressed sizes of the two layer tars (what the layers take unpacked, give or take metadata).
const blob = (d) => path.join(oci, 'blobs', ...d.split(':'));
const index = JSON.parse(fs.readFileSync(path.join(oci, 'index.json'), 'utf8'));
const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
const manifest = JSON.parse(fs.readFileSync(blob(desc.digest), 'utf8'));
const unpacked = [Number(baseTar), Number(appTar)];
const layers = manifest.layers.map((l, i) => ({ digest: l.digest, compressed_bytes: l.size, tar_bytes: unpacked[i] }));
const out = {
  key, tag, manifest_digest: desc.digest, config_digest: manifest.config.digest, node: nodeVersion,
  layers,
  compressed_bytes: layers.reduce((s, l) => s + l.compressed_bytes, 0),
  tar_bytes: layers.reduce((s, l) => s + l.tar_bytes, 0),
  build_seconds: Math.round(Date.now() / 1000 - Number(started)),
};
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
EOF
rm -rf "$out"
mv "$work/out" "$out"
# Older images of this cache are superseded.
for old in "$cache"/*/; do
  old="${old%/}"
  [ "$old" = "$out" ] || [ ! -f "$old/build.json" ] || rm -rf "$old"
done
log "built $out in $(($(date +%s) - started)) s: $(grep -E '"(compressed|tar)_bytes"' "$out/build.json" | tail -2 | tr -d ' \n')"
echo "$out"
