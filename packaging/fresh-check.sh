#!/usr/bin/env bash
# Runs the README's two commands, unchanged, on a fresh minimal Debian 12:
# builds a root with mmdebstrap (--variant=apt: apt and the essential packages,
# nothing else), clones the commit under test into it, runs
# ./packaging/train.sh (the main job) and then ./packaging/test.sh (the test
# command) inside it, and removes the root whatever happens.
#
# Usage: packaging/fresh-check.sh [--keep] [--host-fallback] [--cold] [COMMIT]
#   COMMIT           what to clone (default HEAD; uncommitted changes are not
#                    part of it, so commit first)
#   --keep           leave the root in place (its path is printed) to look at
#   --host-fallback  when no fresh root can be built at all (no Debian
#                    registry), say so in one line and run ./packaging/test.sh
#                    on this machine instead (what CI does)
#   --cold           use no cache: by default the root's compiler cache
#                    (ccache) and downloaded .deb files are kept between runs
#                    in /var/cache/mip-fresh-check (caches only: every package
#                    is still installed into the new root, every file built)
#
# Needs root (through sudo when not root) and mmdebstrap, which it installs
# when absent. Mounts (/proc, /sys, /dev) live in a private mount
# namespace and vanish with it, so removing the root can never reach the host.
# Exit status: that of the first command that failed; 0 when both passed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

keep=0
fallback=0
cold=0
commit=HEAD
for arg in "$@"; do
  case "$arg" in
  --keep) keep=1 ;;
  --host-fallback) fallback=1 ;;
  --cold) cold=1 ;;
  -h | --help)
    sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  -*)
    echo "fresh-check: unknown option '$arg' (see --help)" >&2
    exit 2
    ;;
  *) commit="$arg" ;;
  esac
done

if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env=CI "$0" "$@"
fi

say() { printf 'fresh-check: %s\n' "$*"; }
elapsed() { echo "$(($(date +%s) - start)) s"; }
start=$(date +%s)

sha=$(git -C "$repo" rev-parse --verify "$commit^{commit}")
if [ "$commit" = HEAD ] && [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
  say "warning: the work tree has uncommitted changes; checking the commit $sha without them"
fi

host_fallback() {
  if [ "$fallback" -eq 1 ]; then
    say "NO FRESH ROOT: $1; this is not a failure of the project. Running ./packaging/test.sh on this machine instead."
    # Not exec: the EXIT trap must still remove the root.
    if ./packaging/test.sh; then exit 0; else exit $?; fi
  fi
  say "cannot build a fresh Debian 12 root: $1"
  exit 3
}

export DEBIAN_FRONTEND=noninteractive
if ! command -v mmdebstrap >/dev/null 2>&1; then
  say "installing mmdebstrap on this machine"
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends mmdebstrap; } >/dev/null 2>&1 ||
    host_fallback "mmdebstrap could not be installed (apt-get failed)"
fi

# The Debian archives this machine's apt uses for bookworm, so that the root is
# made from the same registry (and mirror) as the host's packages.
mirrors=()
while read -r uri suite component; do
  case "$suite" in bookworm | bookworm-updates | bookworm-security)
    mirrors+=("deb $uri $suite $component")
    ;;
  esac
done < <(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' \
  'Identifier: Packages' 2>/dev/null | sort -u)

root=$(mktemp -d "${TMPDIR:-/var/tmp}/mip-fresh.XXXXXX")
cleanup() {
  local rc=$?
  if [ "$keep" -eq 1 ]; then
    say "root kept at $root"
  elif [ -d "$root" ]; then
    # Mounts were made in a private namespace, gone once it ended; refuse to
    # delete anything that is still a mount point all the same.
    if findmnt -rn -o TARGET | grep -q "^$root/"; then
      say "mounts remain under $root; not removing it (umount them, then rm -rf it)"
    else
      rm -rf --one-file-system "$root"
    fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "building a minimal Debian 12 root in $root (mmdebstrap --variant=apt)"
if ! mmdebstrap --variant=apt --mode=root --quiet bookworm "$root" "${mirrors[@]}" \
  </dev/null >"$root.log" 2>&1; then
  tail -n 5 "$root.log" >&2 || true
  rm -f "$root.log"
  host_fallback "mmdebstrap could not make a Debian 12 root (registry unreachable?)"
fi
rm -f "$root.log"
say "root ready ($(elapsed)); cloning $sha"

# A clone of the commit under test: tracked files only, as a user's checkout.
git clone --quiet --no-local --no-checkout "$repo" "$root/src/mi-prometheus-cpp"
git -C "$root/src/mi-prometheus-cpp" checkout --quiet --detach "$sha"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

# What a user types, in the clone, as root of the fresh system.
inside='set -e
cd /src/mi-prometheus-cpp
s=$(date +%s)
echo "fresh-check: [1/2] ./packaging/train.sh"
./packaging/train.sh
echo "fresh-check: main job passed ($(( $(date +%s) - s )) s)"
s=$(date +%s)
echo "fresh-check: [2/2] ./packaging/test.sh"
./packaging/test.sh
echo "fresh-check: test command passed ($(( $(date +%s) - s )) s)"'

cache=""
if [ "$cold" -eq 0 ]; then
  cache=/var/cache/mip-fresh-check
  mkdir -p "$cache/ccache" "$cache/apt-archives/partial"
  mkdir -p "$root/var/cache/ccache" "$root/var/cache/apt/archives"
fi

set +e
unshare --mount --propagation private /bin/sh -ec '
  r=$1 cache=$2 script=$3
  mount -t proc proc "$r/proc"
  mount --rbind /sys "$r/sys"
  mount --rbind /dev "$r/dev"
  if [ -n "$cache" ]; then
    mount --bind "$cache/ccache" "$r/var/cache/ccache"
    mount --bind "$cache/apt-archives" "$r/var/cache/apt/archives"
  fi
  exec chroot "$r" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    CCACHE_DIR=/var/cache/ccache \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "$script"' sh "$root" "$cache" "$inside"
rc=$?
set -e
if [ "$rc" -eq 0 ]; then
  say "both README commands passed on a fresh Debian 12 in $(elapsed)"
else
  say "FAILED (exit $rc) on a fresh Debian 12 after $(elapsed)"
fi
exit "$rc"
