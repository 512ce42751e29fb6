#!/bin/bash
# Boot every workload of the test guest under QEMU (one vCPU, KVM when
# /dev/kvm opens) and check what it reports: exit code, verify_failures=0,
# pages_touched as asked, the crash kinds' exception lines. Needs
# qemu-system-x86_64; prints one line per case and exits 1 on a failure.
#
#   guest/qemu-smoke.sh            # after `make build/guest/gmm-guest.elf`
set -u
cd "$(dirname "$0")/.."
run=guest/qemu-run.sh
fails=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# check NAME EXPECTED_RC CMDLINE [PATTERN...]: every PATTERN must appear.
check() {
	local name=$1 want=$2 cmdline=$3 rc
	shift 3
	timeout 300 "$run" "$cmdline" 1G >"$out" 2>&1
	rc=$?
	if [ "$rc" != "$want" ]; then
		echo "FAIL $name: exit $rc, wanted $want"; tail -5 "$out"; fails=$((fails + 1)); return
	fi
	for pat in "$@"; do
		if ! grep -qE -- "$pat" "$out"; then
			echo "FAIL $name: no line matching '$pat'"; tail -5 "$out"; fails=$((fails + 1)); return
		fi
	done
	echo "ok   $name: $(grep -E '^gmm-guest: (touch|random|zipf|garbage) |exception' "$out" | tail -1 | tr -d '\r')"
}

check touch 0 "workload=touch size=256M verify=1" \
	"GMM-RESULT pages_touched=65536" "GMM-RESULT verify_failures=0"
check random 0 "workload=random size=256M iters=2M verify=1 verify_every=500000" \
	"GMM-RESULT pages_touched=65536" "GMM-RESULT verify_failures=0" "GMM-RESULT verify_passes=5"
check zipf 0 "workload=zipf size=256M iters=2M theta=0.99 verify=1" \
	"GMM-RESULT pages_touched=65536" "GMM-RESULT verify_failures=0"
check zipf-lazy 0 "workload=zipf size=64M iters=1M verify=1 prefill=0" \
	"GMM-RESULT verify_failures=0" "GMM-RESULT prefill=0"
check verify-selftest 2 "workload=random size=64M iters=100k verify=1 corrupt=3" \
	"GMM-RESULT verify_failures=3" "verify FAILED"
check garbage 0 "workload=garbage" "GMM-RESULT ops=4000"
check bad-cmdline 3 "workload=nosuch" "bad command line: workload=nosuch"
check crash-ud 70 "workload=crash kind=ud" "exception #UD .*ring 3"
check crash-pf 78 "workload=crash kind=pf" "exception #PF .*cr2 0x20800000bad0 .ring 3"
check crash-gp 77 "workload=crash kind=gp" "exception #GP .*ring 3"
check crash-div 64 "workload=crash kind=div" "exception #DE .*ring 3"
check crash-after 70 "workload=touch size=16M crash=ud" "GMM-RESULT pages_touched=4096" "exception #UD"
# hog never exits: give it a few seconds, then look for its progress lines
timeout 8 "$run" "workload=hog print_every=1 verify=1" 256M >"$out" 2>&1
if grep -qE "gmm-guest: hog: .* touched, pass [2-9]" "$out" && grep -q "GMM-RESULT hog_passes=" "$out"; then
	echo "ok   hog: $(grep 'gmm-guest: hog:' "$out" | tail -1 | tr -d '\r')"
else
	echo "FAIL hog"; tail -5 "$out"; fails=$((fails + 1))
fi
[ "$fails" -eq 0 ] && echo "all passed" || { echo "$fails failed"; exit 1; }
