#!/bin/sh
# Fetches Debian's cloud kernel for gmm's Linux-boot test and docs, into a
# cache directory (default build/linux):
#   DIR/bzImage   the kernel as Debian ships it (/boot/vmlinuz-*)
#   DIR/vmlinux   the uncompressed ELF inside it (boots far faster here: no
#                 decompressor running in slow, emulated ring 0)
#   DIR/version   the kernel package name and version
# Idempotent: when DIR/vmlinux and DIR/bzImage exist, touches no network.
#
# How vmlinux is found: the bzImage's setup header (Documentation/arch/x86/
# boot.rst) gives setup_sects (0x1f1), payload_offset (0x248) and
# payload_length (0x24c); the payload starts at (setup_sects+1)*512 +
# payload_offset. The kernel build appends the uncompressed size as 4
# little-endian bytes to every format but gzip (scripts/Makefile.lib,
# *_with_size), so those are cut off and used to check the result.
#
# usage: scripts/fetch-linux-kernel.sh [DIR]
set -eu

DIR=${1:-build/linux}
PKG=linux-image-cloud-amd64

[ -s "$DIR/vmlinux" ] && [ -s "$DIR/bzImage" ] && exit 0

for tool in apt-get apt-cache dpkg-deb od dd; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "fetch-linux-kernel: needs $tool (scripts/install-deps.sh)" >&2
		exit 1
	}
done

mkdir -p "$DIR"
TMP=$(mktemp -d "$DIR/.fetch.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# The metapackage names the versioned image package it depends on.
image_pkg() {
	apt-cache depends "$PKG" 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1
}
IMG=$(image_pkg)
if [ -z "$IMG" ]; then
	echo "fetch-linux-kernel: apt knows no $PKG; running apt-get update" >&2
	apt-get update -qq >&2 || true
	IMG=$(image_pkg)
fi
[ -n "$IMG" ] || { echo "fetch-linux-kernel: cannot resolve $PKG to a kernel package" >&2; exit 1; }

echo "fetch-linux-kernel: downloading $IMG" >&2
# As root, apt drops to _apt to download, which cannot write into our 0700 temp dir.
APTOPT=""
[ "$(id -u)" = 0 ] && APTOPT="-o APT::Sandbox::User=root"
# shellcheck disable=SC2086
(cd "$TMP" && apt-get download -q $APTOPT "$IMG" >&2)
set -- "$TMP"/*.deb
DEB=$1
dpkg-deb -x "$DEB" "$TMP/root"
set -- "$TMP"/root/boot/vmlinuz-*
VMLINUZ=$1
[ -f "$VMLINUZ" ] || { echo "fetch-linux-kernel: $DEB has no /boot/vmlinuz-*" >&2; exit 1; }

# le32 FILE OFFSET: an unsigned little-endian 32-bit field.
le32() { od -An -t u4 -j "$2" -N 4 --endian=little "$1" | tr -d ' '; }
u8() { od -An -t u1 -j "$2" -N 1 "$1" | tr -d ' '; }

[ "$(dd if="$VMLINUZ" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ] || {
	echo "fetch-linux-kernel: $VMLINUZ: no HdrS setup header" >&2; exit 1; }
SETUP_SECTS=$(u8 "$VMLINUZ" 497)
[ "$SETUP_SECTS" -eq 0 ] && SETUP_SECTS=4
POFF=$(( (SETUP_SECTS + 1) * 512 + $(le32 "$VMLINUZ" 584) ))
PLEN=$(le32 "$VMLINUZ" 588)
dd if="$VMLINUZ" of="$TMP/payload" bs=4096 iflag=skip_bytes,count_bytes skip="$POFF" count="$PLEN" 2>/dev/null

MAGIC=$(od -An -t x1 -N 6 "$TMP/payload" | tr -d ' \n')
case "$MAGIC" in
1f8b*)         DECOMP="gzip -dc"; SIZED=0 ;;
fd377a585a00)  DECOMP="xz -dc";   SIZED=1 ;;
28b52ffd*)     DECOMP="zstd -dcq"; SIZED=1 ;;
02214c18*)     DECOMP="lz4 -dcq"; SIZED=1 ;;  # lz4 -l: the legacy frame the kernel uses
*) echo "fetch-linux-kernel: payload magic $MAGIC: not gzip, xz, zstd or lz4" >&2; exit 1 ;;
esac
command -v "${DECOMP%% *}" >/dev/null 2>&1 || {
	echo "fetch-linux-kernel: needs ${DECOMP%% *} (scripts/install-deps.sh)" >&2; exit 1; }
if [ "$SIZED" = 1 ]; then
	WANT=$(le32 "$TMP/payload" $((PLEN - 4)))
	head -c $((PLEN - 4)) "$TMP/payload" > "$TMP/payload.z"
else
	WANT=$(le32 "$TMP/payload" $((PLEN - 4)))  # gzip's own ISIZE trailer
	mv "$TMP/payload" "$TMP/payload.z"
fi
$DECOMP < "$TMP/payload.z" > "$TMP/vmlinux"
GOT=$(stat -c %s "$TMP/vmlinux")
[ "$GOT" = "$WANT" ] || { echo "fetch-linux-kernel: vmlinux is $GOT bytes, header says $WANT" >&2; exit 1; }
[ "$(head -c 4 "$TMP/vmlinux" | od -An -t x1 | tr -d ' ')" = 7f454c46 ] || {
	echo "fetch-linux-kernel: decompressed payload is not an ELF" >&2; exit 1; }

cp "$VMLINUZ" "$TMP/bzImage"
dpkg-deb -f "$DEB" Package Version > "$TMP/version"
mv "$TMP/bzImage" "$DIR/bzImage"
mv "$TMP/version" "$DIR/version"
mv "$TMP/vmlinux" "$DIR/vmlinux"
echo "fetch-linux-kernel: $DIR/vmlinux ($GOT bytes) and $DIR/bzImage from $IMG" >&2
