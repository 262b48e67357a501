#!/usr/bin/env bash
# The Debian package as installed: builds it from BUILD_DIR's programs with scripts/package
# (which fails on any lintian error), installs it into a throwaway Debian 12 root and runs
# in_root.sh there (install, provision, --check, /health, the container entry point,
# remove + reinstall, purge). Usage: package_test.sh BUILD_DIR
#
# The root (mmdebstrap --variant=apt bookworm with the package's Depends, softhsm2 and curl)
# is cached as a tarball in KC_TEST_CACHE_DIR (default /var/cache/hsm-key-connector-tests),
# named by a hash of that package list and made again when older than 7 days. Needs root
# (chroot, namespaces); without root or a tool it skips (exit 77), unless CI=true.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build=${1:?usage: package_test.sh BUILD_DIR}

unavailable() {
  if [ "${CI:-}" = true ]; then
    echo "FAIL: $* (CI=true: a missing tool is a failure)" >&2
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
[ "$(id -u)" -eq 0 ] || unavailable "needs root for chroot and namespaces"
for tool in mmdebstrap lintian help2man dpkg-deb dpkg-shlibdeps unshare chroot ip flock; do
  command -v "$tool" >/dev/null || unavailable "$tool is missing (scripts/setup test)"
done

tmp=$(mktemp -d /tmp/kc-package-test.XXXXXX)
namespace=
# Every mount lives in the namespace of unshare --kill-child: killing it (SIGKILL: with
# --fork it ignores SIGTERM) kills the namespace's first process, and so every process and
# mount in it. The directory is deleted only when nothing is mounted under it.
cleanup() {
  if [ -n "$namespace" ] && kill -0 "$namespace" 2>/dev/null; then
    kill -KILL "$namespace" 2>/dev/null || true
    wait "$namespace" 2>/dev/null || true
  fi
  if grep -q " $tmp/" /proc/self/mounts; then
    echo "package_test: mounts left under $tmp; not deleting it" >&2
  else
    rm -rf --one-file-system "$tmp"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
started=$SECONDS

echo "== scripts/package --build-dir $build"
"$source_dir/scripts/package" --build-dir "$build" --out "$tmp" >"$tmp/package.log" 2>&1 || {
  cat "$tmp/package.log" >&2
  echo "FAIL: scripts/package" >&2
  exit 1
}
grep '^[EW]:' "$tmp/package.log" || true
! grep -q '^E:' "$tmp/package.log" || { echo "FAIL: lintian errors" >&2; exit 1; }
deb=$(tail -n1 "$tmp/package.log")

# The root's packages: the .deb's Depends (first alternatives, no versions) and the test's.
packages=$({
  dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/[[:space:]]//g'
  printf '%s\n' softhsm2 curl
} | grep . | sort -u | paste -sd, -)
cache=${KC_TEST_CACHE_DIR:-/var/cache/hsm-key-connector-tests}
tarball=$cache/bookworm-root-$(sha256sum <<<"$packages" | cut -c1-16).tar
mkdir -p "$cache"
(
  flock 9
  if [ ! -f "$tarball" ] || [ -n "$(find "$tarball" -mtime +6)" ]; then
    echo "== mmdebstrap bookworm (cached as $tarball)"
    mmdebstrap --quiet --variant=apt --mode=root --format=tar --include="$packages" bookworm "$tarball.new" \
      "deb http://deb.debian.org/debian bookworm main" \
      "deb http://deb.debian.org/debian bookworm-updates main" \
      "deb http://deb.debian.org/debian-security bookworm-security main"
    mv "$tarball.new" "$tarball"
  fi
) 9>"$cache/.lock"

echo "== unpack the root"
mkdir "$tmp/root"
tar --numeric-owner -xf "$tarball" -C "$tmp/root"
mkdir -p "$tmp/root/tmp/kc-test"
cp "$deb" "$here/in_root.sh" "$tmp/root/tmp/kc-test/"

# Own mount, PID and network namespaces: /proc for the root, loopback only.
# shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
unshare --mount --pid --fork --kill-child --net --mount-proc="$tmp/root/proc" \
  sh -c 'ip link set lo up && exec chroot "$1" /bin/bash /tmp/kc-test/in_root.sh "$2"' \
  sh "$tmp/root" "/tmp/kc-test/$(basename "$deb")" &
namespace=$!
status=0
wait "$namespace" || status=$?
namespace=
[ "$status" -eq 0 ] || { echo "FAIL: in_root.sh exited $status" >&2; exit 1; }
echo "package_test: ok in $((SECONDS - started)) s"
