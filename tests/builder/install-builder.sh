#!/usr/bin/env bash
# Installs the real builder the proofs in tests/builder/ use: buildah, and busybox-static for the
# local base image (no registry is reachable). Debian packages; needs root. Idempotent: running it
# again on a machine that has both only refreshes the package lists. Fails loudly.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-builder.sh: needs root (apt-get install buildah busybox-static)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-builder.sh: apt-get not found; install buildah and busybox-static with this system's package manager" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends buildah busybox-static

# Check what the proofs rely on, so a partial install fails here and not in the middle of pytest.
buildah --version
test -x /bin/busybox || { echo "install-builder.sh: /bin/busybox is missing after installing busybox-static" >&2; exit 1; }
/bin/busybox true
echo "install-builder.sh: buildah and busybox-static are installed"
