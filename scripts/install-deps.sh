#!/usr/bin/env bash
# Install every Debian 12 package phasemap needs to build, test and benchmark.
# Idempotent: when everything is present it only checks and returns (no apt-get update).
set -euo pipefail

PKGS=(
  build-essential make pkg-config git
  openmpi-bin libopenmpi-dev
  libpetsc-real3.18-dev
  libhdf5-openmpi-dev hdf5-tools
  libscalapack-openmpi-dev libopenblas-dev
  zlib1g-dev
  python3 python3-numpy python3-scipy python3-h5py python3-sklearn
  python3-matplotlib python3-tqdm python3-dev python3-setuptools
  gnuplot-nox
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  [ "${1:-}" = "-q" ] || echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
