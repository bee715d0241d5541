#!/bin/bash
# Inside the Debian 12 machine of rig/dkms-vm.sh, at boot, as root: run the
# README's "Install on Debian 12" command lines as printed, in order, in the
# clone at /root/vfio-p2p, and check what they promise.  TAP on lines that
# start with "TRIAL: ", everything else as it comes.
set -u
cd /root/vfio-p2p || exit 1
K=$(uname -r)
n=0 failed=0

tap() {	# tap 0|1 DESCRIPTION
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "TRIAL: ok $n - $2"
	else
		echo "TRIAL: not ok $n - $2"
		failed=$((failed + 1))
	fi
}

# The indented lines of the section, one block per paragraph: "B<TAB>line".
blocks=$(awk '
	/^## Install on Debian 12$/ { on = 1; b = 0; prev = 0; next }
	on && /^## / { exit }
	on && /^    [^ ]/ { if (!prev) b++; prev = 1; sub(/^    /, ""); print b "\t" $0; next }
	on && /^[^ ]/ { prev = 0 }
' README.md)
[ -n "$blocks" ] || { echo "TRIAL: not ok 1 - no commands in README.md"; echo "TRIAL: 1..1"; exit 1; }
nblocks=$(cut -f1 <<<"$blocks" | sort -u | wc -l)
echo "TRIAL: # Debian's $K, $(cat /etc/debian_version), README at $(git log --oneline -1 2>/dev/null || echo '?')"
echo "TRIAL: # $(wc -l <<<"$blocks") command lines in $nblocks blocks"

# A line's "# ..." comment shows its output when the command prints one line;
# VERSION stands for the package version.
run_line() {	# run_line LINE
	local line=$1 cmd want out rc
	cmd=${line%%  #*}
	want=
	[ "$cmd" != "$line" ] && want=$(sed 's/^ *# *//' <<<"${line#"$cmd"}")
	echo "TRIAL-CMD: # $line"
	# A user at a terminal answers apt-get's "Do you want to continue?".
	# Streamed to the console as it comes (a long make shows its progress).
	yes | DEBIAN_FRONTEND=noninteractive bash -c "$cmd" >/tmp/out 2>&1 &
	tail -q --pid=$! -f /tmp/out
	wait $!
	rc=$?
	out=$(cat /tmp/out)
	tap "$rc" "\`$cmd\` exits 0 (got $rc)"
	if [ -n "$want" ] && [ -n "$out" ] && [ "$(wc -l <<<"$out")" = 1 ]; then
		# shellcheck disable=SC2053
		[[ "$out" == ${want//VERSION/*} ]]
		tap $? "\`$cmd\` prints what the README says: '$want' (got '$out')"
	fi
}

in_block() { awk -F'\t' -v b="$1" '$1 == b { sub(/^[^\t]*\t/, ""); print }' <<<"$blocks"; }

dpkg-query -W -f='${Package}\n' | sort >/tmp/pkgs.before
# The archive must be reachable through QEMU's user network.
ip -4 addr show eth0 | sed 's/^/net: /'
getent hosts deb.debian.org | sed 's/^/net: /'
# One HTTP request by hand first, with the machine's clock around it, so
# that a stall shows whether it is the network or apt.
echo "net: $(date +%T) HEAD /debian/dists/bookworm/Release"
timeout 30 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80 &&
	printf "HEAD /debian/dists/bookworm/Release HTTP/1.1\r\nHost: deb.debian.org\r\nConnection: close\r\n\r\n" >&3 &&
	head -1 <&3' 2>&1 | sed 's/^/net: /'
echo "net: $(date +%T) done (exit ${PIPESTATUS[0]})"
timeout 120 apt-get update -q >/tmp/update 2>&1
rc=$?
echo "net: $(date +%T) apt-get update exit $rc"
tap "$rc" "apt-get update reaches Debian's archive from the machine ($(tail -1 /tmp/update))"
while IFS= read -r line; do run_line "$line"; done < <(in_block 1)

# What the install promises, beyond the README's comments.
dkms status vfio-p2p | grep -q ", $K, x86_64: installed" && rc=0 || rc=1
tap "$rc" "dkms status: vfio-p2p installed for $K"
for m in vfio vfio_iommu_type1 vfio-pci-core vfio-pci mdev; do
	f=$(modinfo -n "$m" 2>/dev/null)
	case "$f" in /lib/modules/$K/updates/dkms/*) rc=0 ;; *) rc=1 ;; esac
	tap "$rc" "modinfo -n $m is ours: $f"
done
modprobe vfio_iommu_type1 && modprobe mdev
# The loaded module is the file modinfo names: the same GNU build-id note
# (vfio-pci-core and vfio-pci have no MODULE_VERSION, so no srcversion).
build_id() {
	xz -dcf "$1" >/tmp/trial-mod.ko &&
		objcopy -O binary --only-section=.note.gnu.build-id /tmp/trial-mod.ko /tmp/trial-note &&
		od -An -tx1 -v /tmp/trial-note | tr -d ' \n'
}
for m in vfio vfio_iommu_type1 vfio_pci_core vfio_pci mdev; do
	want=$(build_id "$(modinfo -n "$m" 2>/dev/null)" 2>/dev/null)
	got=$(od -An -tx1 -v "/sys/module/$m/notes/.note.gnu.build-id" 2>/dev/null | tr -d ' \n')
	taint=$(cat "/sys/module/$m/taint" 2>/dev/null)
	[ -n "$got" ] && [ "$got" = "$want" ] && [[ $taint == *O* ]] && rc=0 || rc=1
	tap "$rc" "loaded $m is the one dkms built (build-id ${got: -16}, taint $taint)"
done
[ -e /sys/module/vfio_iommu_type1/parameters/strict_mmio_maps ] && rc=0 || rc=1
tap "$rc" "vfio_iommu_type1 has the series' strict_mmio_maps ($(cat /sys/module/vfio_iommu_type1/parameters/strict_mmio_maps 2>/dev/null))"
# vfio-pci takes the ivshmem peer and makes its group.
bdf=$(lspci -Dn -d 1af4:1110 | awk '{print $1; exit}')
grp=
if [ -n "$bdf" ]; then
	echo vfio-pci >"/sys/bus/pci/devices/$bdf/driver_override"
	[ -e "/sys/bus/pci/devices/$bdf/driver" ] && echo "$bdf" >"/sys/bus/pci/devices/$bdf/driver/unbind"
	echo "$bdf" >/sys/bus/pci/drivers_probe
	grp=$(basename "$(readlink "/sys/bus/pci/devices/$bdf/iommu_group" 2>/dev/null)" 2>/dev/null)
fi
[ -n "$grp" ] && [ -c "/dev/vfio/$grp" ] &&
	[ "$(basename "$(readlink "/sys/bus/pci/devices/$bdf/driver")")" = vfio-pci ] && rc=0 || rc=1
tap "$rc" "vfio-pci (ours) binds the ivshmem peer ${bdf:-none}: /dev/vfio/${grp:-none}"
if [ -n "$bdf" ]; then
	echo "$bdf" >"/sys/bus/pci/devices/$bdf/driver/unbind" 2>/dev/null
	echo >"/sys/bus/pci/devices/$bdf/driver_override"
fi

b=2
while [ "$b" -le "$nblocks" ]; do
	while IFS= read -r line; do run_line "$line"; done < <(in_block "$b")
	b=$((b + 1))
done

# Going back leaves Debian's modules, and nothing of ours.
[ -z "$(dkms status vfio-p2p 2>/dev/null)" ] && rc=0 || rc=1
tap "$rc" "dkms status vfio-p2p is empty after the remove"
for m in vfio vfio_iommu_type1 vfio-pci-core vfio-pci mdev; do
	f=$(modinfo -n "$m" 2>/dev/null)
	case "$f" in /lib/modules/$K/kernel/drivers/vfio/*) rc=0 ;; *) rc=1 ;; esac
	tap "$rc" "modinfo -n $m is Debian's again: $f"
done
left=$(find "/lib/modules/$K/updates" -name '*.ko*' 2>/dev/null | wc -l)
tap "$([ "$left" = 0 ] && echo 0 || echo 1)" "no module left in /lib/modules/$K/updates ($left)"
dpkg-query -W -f='${Package}\n' | sort >/tmp/pkgs.after
echo "TRIAL: # packages installed by the commands and left after the remove:" \
	"$(comm -13 /tmp/pkgs.before /tmp/pkgs.after | wc -l) (their build dependencies)"
grep -qx vfio-p2p-dkms /tmp/pkgs.after && rc=1 || rc=0
tap "$rc" "vfio-p2p-dkms is no longer installed"
echo "TRIAL: 1..$n"
[ "$failed" = 0 ]
