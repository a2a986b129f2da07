#!/usr/bin/env bash
# Builds a stand-in for public.ecr.aws/lambda/python:3.12 in podman's store, tagged with the real name so
# Dockerfile.lambda is used unchanged. Cached: the image carries a label with the hash of its recipe (this
# folder, the base requirements, the Python version) and is rebuilt only when that changes; the debootstrap
# rootfs is kept as a tarball under .tools/image.
#
#   scripts/image/lambda-base/build.sh            (podman and debootstrap on PATH; CONTAINERS_CONF set)
#
# Layout as the real image: CPython 3.12 under /var/lang, awslambdaric + boto3 under /var/runtime, the
# Runtime Interface Emulator at /usr/local/bin/aws-lambda-rie, /lambda-entrypoint.sh (runs the emulator when
# AWS_LAMBDA_RUNTIME_API is unset), /var/runtime/bootstrap, WORKDIR /var/task, the same ENV.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/../../.." && pwd)"
TAG="${LAMBDA_BASE_TAG:-public.ecr.aws/lambda/python:3.12}"
ROOTFS_TAG=localhost/edge-encoders/lambda-rootfs:bookworm
CACHE="$REPO/.tools/image"
LABEL=edge-encoders.standin-recipe
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
LIBS=libssl3,libffi8,zlib1g,libbz2-1.0,liblzma5,libsqlite3-0,libreadline8,libncursesw6,libuuid1,libexpat1,libnsl2,libtirpc3,libcrypt1,ca-certificates,libstdc++6

case "$(uname -m)" in
  x86_64) RIE_ARCH=x86_64 ;;
  aarch64) RIE_ARCH=arm64 ;;
  *) echo "lambda-base: no Lambda base image for $(uname -m)" >&2; exit 2 ;;
esac

mkdir -p "$CACHE"
# CPython 3.12: $LAMBDA_BASE_PYTHON, else pyenv's, else python3.12 on PATH.
PY="${LAMBDA_BASE_PYTHON:-}"
if [[ -z "$PY" ]]; then
  for candidate in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 2>/dev/null | sort -V -r) \
                   "$(command -v python3.12 || true)"; do
    if [[ -x "$candidate" ]]; then PY="$candidate"; break; fi
  done
fi
if [[ -z "$PY" ]] && command -v pyenv > /dev/null; then
  echo "lambda-base: no CPython 3.12 here: pyenv install 3.12 (needs python.org and a compiler)"
  pyenv install -s 3.12 > "$CACHE/pyenv-install.log" 2>&1 || tail -5 "$CACHE/pyenv-install.log" >&2
  PY="$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3.12 2>/dev/null | sort -V -r | head -1)"
fi
if [[ -z "$PY" ]]; then
  echo "lambda-base: no CPython 3.12 here (pyenv install 3.12, or set LAMBDA_BASE_PYTHON)" >&2
  exit 3
fi
PREFIX="$("$PY" -c 'import sys; print(sys.base_prefix)')"
PYVER="$("$PY" -c 'import sys; print(sys.version.split()[0])')"
if [[ "$("$PY" -c 'import sysconfig; print(sysconfig.get_config_var("Py_ENABLE_SHARED"))')" != 1 ]]; then
  : # a static python works as well: patchelf below finds no libpython to point at
fi

KEY="$(cat "$HERE"/build.sh "$HERE"/Containerfile "$HERE"/lambda-entrypoint.sh "$HERE"/bootstrap \
        "$REPO"/requirements/lambda-base.txt <(echo "$PYVER $RIE_ARCH $LIBS") | sha256sum | cut -c1-16)"
if podman image exists "$TAG"; then
  have="$(podman image inspect --format "{{ index .Labels \"$LABEL\" }}" "$TAG" 2>/dev/null || true)"
  if [[ "$have" == "$KEY" ]]; then
    echo "lambda-base: $TAG (stand-in $KEY) is current"
    exit 0
  fi
  if [[ -z "$have" || "$have" == "<no value>" ]]; then
    echo "lambda-base: $TAG is present and is not our stand-in (the real image?): using it as it is"
    exit 0
  fi
fi

mkdir -p "$CACHE"
started=$SECONDS
ROOTFS_TAR="$CACHE/rootfs-bookworm-minbase-$(uname -m).tar"
if [[ ! -s "$ROOTFS_TAR" ]]; then
  echo "lambda-base: debootstrap --variant=minbase bookworm (once; cached in $ROOTFS_TAR)"
  rootfs="$(mktemp -d "$CACHE/rootfs.XXXXXX")"
  debootstrap --variant=minbase --include="$LIBS" bookworm "$rootfs" "$MIRROR" > "$CACHE/debootstrap.log" 2>&1 || {
    tail -20 "$CACHE/debootstrap.log" >&2; rm -rf "$rootfs"; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -cf "$ROOTFS_TAR.partial" .
  mv "$ROOTFS_TAR.partial" "$ROOTFS_TAR"
  rm -rf "$rootfs"
fi
if ! podman image exists "$ROOTFS_TAG" \
   || [[ "$(podman image inspect --format '{{ index .Labels "edge-encoders.rootfs" }}' "$ROOTFS_TAG")" != "$(stat -c %Y "$ROOTFS_TAR")" ]]; then
  podman import --change "LABEL edge-encoders.rootfs=$(stat -c %Y "$ROOTFS_TAR")" "$ROOTFS_TAR" "$ROOTFS_TAG" > /dev/null
fi

# The build context: Python relocated to /var/lang, the runtime packages, the emulator, the scripts.
CTX="$CACHE/lambda-base-context"
rm -rf "$CTX"
mkdir -p "$CTX/runtime"
cp -a "$PREFIX" "$CTX/lang"
rm -rf "$CTX"/lang/lib/python3.12/{test,idlelib,tkinter,turtledemo,ensurepip,lib2to3} \
       "$CTX"/lang/lib/python3.12/config-3.12-*/*.a "$CTX"/lang/share "$CTX"/lang/lib/pkgconfig "$CTX"/lang/lib/tcl* \
       "$CTX"/lang/lib/tk* "$CTX"/lang/lib/libtcl* "$CTX"/lang/lib/libtk*
find "$CTX/lang/lib/python3.12/site-packages" -mindepth 1 -maxdepth 1 ! -name 'pip' ! -name 'pip-*' -exec rm -rf {} +
find "$CTX/lang" -name '__pycache__' -prune -exec rm -rf {} +
# Scripts name the old interpreter path in their #! line; the binaries carry it as their rpath.
grep -rlI "^#!$PREFIX" "$CTX/lang/bin" | xargs -r sed -i "1s|^#!$PREFIX|#!/var/lang|"
for elf in "$CTX/lang/bin/python3.12" "$CTX"/lang/lib/python3.12/lib-dynload/*.so; do
  patchelf --set-rpath /var/lang/lib "$elf"
done
"$PY" -m pip install --quiet --disable-pip-version-check --no-compile --only-binary=:all: \
  --target "$CTX/runtime" -r "$REPO/requirements/lambda-base.txt"
RIE="$(ls "$REPO"/.tools/sam/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-$RIE_ARCH 2>/dev/null | head -1)"
if [[ -z "$RIE" ]]; then
  echo "lambda-base: the Runtime Interface Emulator comes from the aws-sam-cli wheel: run make tools first" >&2
  exit 1
fi
install -m 0755 "$RIE" "$CTX/aws-lambda-rie"
install -m 0755 "$HERE/lambda-entrypoint.sh" "$HERE/bootstrap" "$CTX/"
cp "$HERE/Containerfile" "$CTX/Containerfile"
cp "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" "$CTX/ca-certificates.crt"
if [[ -f /etc/pip.conf ]]; then cp /etc/pip.conf "$CTX/pip.conf"
else printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$CTX/pip.conf"; fi

podman build --quiet --label "$LABEL=$KEY" --build-arg ROOTFS="$ROOTFS_TAG" -t "$TAG" -f "$CTX/Containerfile" "$CTX" > /dev/null
rm -rf "$CTX"
size="$(podman image inspect --format '{{.Size}}' "$TAG")"
echo "lambda-base: built $TAG (stand-in $KEY, Python $PYVER from $PREFIX) in $((SECONDS - started)) s, $((size / 1000000)) MB"
