#!/usr/bin/env bash
# What `make test` needs from the system, checked and installed when missing:
#   chromium               the browser tests drive Debian's Chromium through Playwright
#   dataset-fashion-mnist  the real-data tests read /usr/share/datasets/fashion-mnist
#   docker-compose         tests/app/stack/test_compose.py checks docker-compose.yml with it
# As root it runs apt-get; otherwise it stops with the exact command to run. It never lets the
# suite run without them (a missing browser would only fail later, test by test).
# Paths can be pointed elsewhere (the set-up test does): MATCHLAB_CHROMIUM, MATCHLAB_FASHION_MNIST_DIR.
set -euo pipefail

chromium=${MATCHLAB_CHROMIUM:-/usr/bin/chromium}
fashion=${MATCHLAB_FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}

missing() {
  local need=()
  [ -x "$chromium" ] || need+=(chromium)
  [ -d "$fashion" ] || need+=(dataset-fashion-mnist)
  command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
  echo "${need[@]}"
}

need=$(missing)
[ -z "$need" ] && exit 0

command="apt-get update && apt-get install -y $need"
if ! command -v apt-get >/dev/null 2>&1; then
  echo "make test needs these Debian packages (or their equivalents): $need" >&2
  echo "  chromium at $chromium, Fashion-MNIST in $fashion, and docker-compose on PATH" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "make test needs Debian packages that are not installed: $need" >&2
  echo "run this as root, then make test again:" >&2
  echo "  sudo sh -c '$command'" >&2
  exit 1
fi

echo "installing Debian packages: $need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 — one word per package
apt-get install -y -q $need
still=$(missing)
if [ -n "$still" ]; then
  echo "still missing after apt-get install: $still (expected $chromium and $fashion)" >&2
  exit 1
fi
