#!/usr/bin/env bash
# Make $BUILD/nested, what the check boot packs for the nested-VMM leg
# (rig/initramfs.sh, NESTED_L2): L2's kernel (bzImage), L2's initramfs
# (l2.cpio: rig/nested/l2/nested_l2_init.c as /init, gcc -static), the
# vIOMMU variant's kernel (bzImage-l2v) and initramfs (l2v.cpio:
# rig/nested/l2/nested_l2_viommu.c as /init), and L1's QMP client (qmp:
# rig/nested/l1/nested_qmp.c, gcc -static).
#   prep.sh [L2_BZIMAGE [L2V_BZIMAGE]]
#                   default $BUILD/obj/stock-l2/arch/x86/boot/bzImage, the l2
#                   flavor (rig/kbuild.sh stock l2), and
#                   $BUILD/obj/stock-l2v/arch/x86/boot/bzImage (stock l2v)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$repo/build}
kernel=${1:-$BUILD/obj/stock-l2/arch/x86/boot/bzImage}
kernel_v=${2:-$BUILD/obj/stock-l2v/arch/x86/boot/bzImage}
n=$BUILD/nested
mkdir -p "$n"
[ -f "$kernel" ] || { echo "rig: nested: no L2 kernel at $kernel (rig/kbuild.sh stock l2 makes it)" >&2; exit 1; }
[ -f "$kernel_v" ] || { echo "rig: nested: no vIOMMU L2 kernel at $kernel_v (rig/kbuild.sh stock l2v makes it)" >&2; exit 1; }
cp "$kernel" "$n/bzImage"
cp "$kernel_v" "$n/bzImage-l2v"

gen=$BUILD/tools/gen_init_cpio
mkdir -p "$(dirname "$gen")"
if [ ! -x "$gen" ] || [ "$BUILD/src/linux/usr/gen_init_cpio.c" -nt "$gen" ]; then
	gcc -O2 -o "$gen" "$BUILD/src/linux/usr/gen_init_cpio.c"
fi
l2=$repo/rig/nested/l2
gcc -static -s -O2 -Wall -Wextra -Werror -o "$n/init" "$l2/nested_l2_init.c" "$l2/nested_l2_lib.c"
gcc -static -s -O2 -Wall -Wextra -Werror -o "$n/init-l2v" "$l2/nested_l2_viommu.c" "$l2/nested_l2_lib.c"
gcc -static -s -O2 -Wall -Wextra -Werror -o "$n/qmp" "$repo/rig/nested/l1/nested_qmp.c"
# One initramfs per variant: the same nodes, its own /init.
for v in l2 l2v; do
	init=$n/init
	[ $v = l2 ] || init=$n/init-$v
	cat >"$n/$v.list" <<EOL
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
dir /sys 0755 0 0
file /init $init 0755 0 0
EOL
	"$gen" "$n/$v.list" >"$n/$v.cpio"
done
echo "rig: nested: L2 kernel $kernel ($(stat -c %s "$n/bzImage") bytes), L2 initramfs $(stat -c %s "$n/l2.cpio") bytes"
echo "rig: nested: vIOMMU L2 kernel $kernel_v ($(stat -c %s "$n/bzImage-l2v") bytes), its initramfs $(stat -c %s "$n/l2v.cpio") bytes"
