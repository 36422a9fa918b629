#!/bin/sh
# build.sh — rebuild every bundled guest into guests/bin/<name> with the RISC-V cross compiler.
# Deterministic: fixed flags, no debug paths, no build date; the same compiler gives the same bytes.
# Usage: guests/build.sh [name...]   (default: every guest)
set -eu
CC=${CC:-riscv64-linux-gnu-gcc}
DIR=$(cd "$(dirname "$0")" && pwd)
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "build.sh: cross compiler '$CC' not found (Debian: apt-get install gcc-riscv64-linux-gnu libc6-dev-riscv64-cross)" >&2
    exit 1
fi
CFLAGS="-static -O2 -march=rv64gc -mabi=lp64d -Wall -Wextra -Werror -fno-ident -ffile-prefix-map=$DIR/=guests/ -Wl,--build-id=none"
# name:extra-flags   (-pthread for the multi-threaded guests)
GUESTS="hello: heap: mmap: mprotect: fork: threads:-pthread shared: filemap: tlbrace:-pthread compute: signals: segv: divzero: badsys: mix:-pthread limits: coh-deferred:-pthread trapspin:-pthread fdhop:-pthread spew: truncrace: stdinwait:-pthread fsedge: coh-cow:-pthread coh-writeback:-pthread coh-exec:-pthread coh-aba:-pthread procgroup: procspawn: stack: reclaim: sysfuzz: procfs:-pthread timers:-pthread pollio: fdpass: futexops:-pthread fscalls: minish: fifo: litmus:-pthread detsleep:-pthread timedwake:-pthread sigwake:-pthread maxrss: checkact:-pthread madvise: pimutex:-pthread vmrw: niceids:-pthread"
want="$*"
cd "$DIR"
mkdir -p bin
built=0
for entry in $GUESTS; do
    name=${entry%%:*}
    extra=${entry#*:}
    if [ -n "$want" ] && ! echo " $want " | grep -q " $name "; then continue; fi
    # shellcheck disable=SC2086
    "$CC" $CFLAGS $extra -o "bin/$name" "$name.c"
    echo "built guests/bin/$name ($(wc -c < "bin/$name") bytes)"
    built=$((built + 1))
done
if [ "$built" -eq 0 ]; then
    echo "build.sh: no guest matches '$want'" >&2
    exit 1
fi
echo "build.sh: $built guest(s) built with $($CC --version | head -n 1)"
