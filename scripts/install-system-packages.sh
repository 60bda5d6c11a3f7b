#!/bin/sh
# Installs the Debian/Ubuntu packages lowcode-redis needs: `run` for the sandbox, `test` for the
# whole test suite as well. Works as root (containers, CI) and as a user with sudo.
#   sh scripts/install-system-packages.sh run|test
set -eu

# Redis 7 server, sentinel and CLI (the sandbox runs the rendered configs on them); ps for process
# checks; busybox-static (its sh is the official alpine image's, its crond the Docker target's
# backup scheduler); rclone for the off-site copies; iproute2 (ip) for the sandbox's pods mode,
# which also uses nsenter, unshare (util-linux) and chroot (coreutils), always installed, as is
# setpriv (util-linux), through which the sandbox starts every process.
RUN_PACKAGES="redis-server redis-sentinel redis-tools procps busybox-static rclone iproute2"
# Chromium and a font for the browser test of Redis Commander (driven by playwright-core, which
# downloads nothing); redis_exporter and promtool (package prometheus) for the metrics and alerts;
# shellcheck, with which npm run lint checks every rendered script.
TEST_PACKAGES="chromium fonts-dejavu-core prometheus-redis-exporter prometheus shellcheck"

case "${1:-}" in
  run) packages="$RUN_PACKAGES" ;;
  test) packages="$RUN_PACKAGES $TEST_PACKAGES" ;;
  *)
    echo "usage: sh scripts/install-system-packages.sh run|test" >&2
    exit 2
    ;;
esac

if [ "$(id -u)" = 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1; then
  as_root="sudo"
else
  echo "install-system-packages: needs root, or sudo to become root" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update
# shellcheck disable=SC2086 # the package lists are meant to split into words
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages
