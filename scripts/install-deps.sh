#!/bin/sh
# Installs what gmm needs to build, test and run, from Debian packages only.
# Idempotent: installs nothing (and touches no network) when all is there.
set -eu

PKGS="build-essential pkg-config libcriterion-dev libcapstone-dev libjansson-dev
libxml2-dev qemu-system-x86 python3 python3-pytest util-linux xz-utils zstd lz4
clang libclang-rt-14-dev libvirt-clients python3-libvirt"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi
echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
