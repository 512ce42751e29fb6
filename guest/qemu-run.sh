#!/bin/sh
# Boot the test guest under QEMU (PVH, KVM if /dev/kvm opens, else TCG) and
# exit with the guest's own exit code. QEMU's isa-debug-exit makes QEMU exit
# with (code << 1) | 1; this undoes that. A plain QEMU exit (status 0: the
# guest never reached the device) is reported as 125.
#
#   guest/qemu-run.sh "workload=zipf size=256M iters=1M verify=1" [MEM] [extra qemu args]
set -u
cmdline=${1:-workload=touch}
mem=${2:-1G}
[ $# -ge 2 ] && shift 2 || shift $#
elf=${GMM_GUEST:-build/guest/gmm-guest.elf}
accel=tcg
[ -r /dev/kvm ] && [ -w /dev/kvm ] && accel=kvm
qemu-system-x86_64 -accel "$accel" -m "$mem" -nographic -no-reboot -net none \
	-kernel "$elf" -append "$cmdline" \
	-device isa-debug-exit,iobase=0xf4,iosize=4 "$@"
st=$?
if [ $((st & 1)) -eq 1 ]; then
	exit $((st >> 1))
fi
echo "qemu-run: QEMU exited with status $st without the guest's exit code" >&2
exit 125
