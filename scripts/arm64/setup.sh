#!/usr/bin/env bash
# An aarch64 Python with the runtime's wheels, run under qemu-user on this x86 machine, in .arm64/ (idempotent).
# Why this shape: no aarch64 CPython 3.12 exists here, but Debian bookworm's arm64 python3 (3.11) plus the cp311
# aarch64 wheels from PyPI run the runtime. qemu-user 7.2 (bookworm) segfaults in onnxruntime; 10.0 from
# bookworm-backports runs it. No chroot: `qemu-aarch64-static -L .arm64/rootfs` resolves the dynamic loader
# and libraries there, and /sys is never mounted (with /sys mounted, onnxruntime crashed under emulation).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=.arm64
STAMP="$ROOT/.ready"
WHEELS="onnxruntime==1.32.0 numpy==2.4.6 tokenizers==0.22.2 flatbuffers==25.12.19 packaging==26.4 protobuf==7.36.2"
WANT="bookworm python3 | $WHEELS"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] && command -v qemu-aarch64-static >/dev/null; then
    exit 0
fi
if ! qemu-aarch64-static --version 2>/dev/null | grep -qE 'version (9|[1-9][0-9])\.'; then
    echo "arm64: installing qemu-user-static from bookworm-backports (7.2 cannot run onnxruntime)"
    if [[ ! -f /etc/apt/sources.list.d/bookworm-backports.sources ]]; then
        printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            > /etc/apt/sources.list.d/bookworm-backports.sources
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports qemu-user-static >/dev/null
fi
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
rm -rf "$ROOT"
mkdir -p "$ROOT"
# --foreign: download and unpack only (nothing aarch64 runs); python3's packages are then unpacked by hand.
debootstrap --arch=arm64 --foreign --variant=minbase --include=python3 bookworm "$ROOT/rootfs" \
    http://deb.debian.org/debian >"$ROOT/debootstrap.log"
for deb in "$ROOT"/rootfs/var/cache/apt/archives/*.deb; do
    dpkg-deb -x "$deb" "$ROOT/rootfs"
done
rm -f "$ROOT"/rootfs/var/cache/apt/archives/*.deb
PY="${PYTHON:-python3}"
# shellcheck disable=SC2086
"$PY" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --dest "$ROOT/wheels" \
    --python-version 3.11 --platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64 $WHEELS
for wheel in "$ROOT"/wheels/*.whl; do
    "$PY" -m zipfile -e "$wheel" "$ROOT/site"
done
echo "$WANT" > "$STAMP"
echo "arm64: $(qemu-aarch64-static --version | head -1); Python $(qemu-aarch64-static -L "$ROOT/rootfs" "$ROOT/rootfs/usr/bin/python3" -c 'import platform; print(platform.python_version(), platform.machine())') in $ROOT"
