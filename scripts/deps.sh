#!/bin/sh
# Install what a fresh Debian 12 machine lacks to build, run and test zkd.
# Idempotent: packages already present are not reinstalled.
set -eu
PKGS="build-essential pkg-config zlib1g-dev \
python3 python3-pytest python3-kazoo libzookeeper-mt-dev \
zookeeper openjdk-17-jdk-headless netcat-openbsd \
libcurator-framework-java libcurator-recipes-java \
golang-go golang-github-samuel-go-zookeeper-dev clang libclang-rt-14-dev strace"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# The C client's -mt and -st dev packages conflict; we need -mt.
if [ -z "$missing" ]; then
  exit 0
fi
echo "deps.sh: installing:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q || echo "deps.sh: apt-get update failed; trying with the current package lists" >&2
$SUDO apt-get install -y -q --no-install-recommends $missing
