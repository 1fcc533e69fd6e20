#!/usr/bin/env bash
# Test fixtures that are third-party data, fetched (not committed): the layer tarballs and image
# jsons of Docker's TarSum test suite, which the original docker-registry's tests used too. They
# come from Debian's golang-github-docker-docker-dev package (its pkg/tarsum/testdata), unpacked
# without installing it (the package drags in ~260 Go source packages). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/tarsum-testdata
[ -f "$dest/xattr/layer.tar" ] && exit 0
system=/usr/share/gocode/src/github.com/docker/docker/pkg/tarsum/testdata
if [ -f "$system/xattr/layer.tar" ]; then
  mkdir -p .cache && cp -r "$system" "$dest"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-fixtures: apt-get is not available; the TarSum known-answer tests will fail" >&2
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
( cd "$work" && { apt-get download golang-github-docker-docker-dev >/dev/null 2>&1 ||
  { apt-get update >/dev/null 2>&1 && apt-get download golang-github-docker-docker-dev >/dev/null; }; } ) || {
  echo "test-fixtures: could not download golang-github-docker-docker-dev; the TarSum known-answer tests will fail" >&2
  exit 0
}
dpkg-deb -x "$work"/golang-github-docker-docker-dev_*.deb "$work/x"
mkdir -p .cache
cp -r "$work/x$system" "$dest"
echo "test-fixtures: unpacked Docker's TarSum test data into $dest" >&2
