#!/usr/bin/env bash
# What the test suite needs from the system, installed with apt when missing. `npm test` runs this
# from `pretest`, so it runs before every suite: when everything is present it only checks the
# paths below and exits. Idempotent; root or sudo for the installs.
# test/install/test-deps.test.ts reads PACKAGES and fails when a test runs a program whose package
# is not listed here.
set -euo pipefail
cd "$(dirname "$0")/.."

# One line per package: how it is provided, the package, the paths (or commands on PATH) whose
# presence means it is there, the tests that need it.
#  install: apt-get install.
#  backports: apt-get install from the release's backports suite (Debian's own, e.g. bookworm-backports),
#           which is first enabled on the machine's Debian mirror when the package has no candidate.
#  unpack:  the TarSum fixtures, third-party data that is not committed: Docker's pkg/tarsum
#           testdata from the package, unpacked without installing it (the package drags in ~260 Go
#           source packages), into .cache/tarsum-testdata.
PACKAGES='
install chromium      /usr/bin/chromium                         test/openapi/swagger-ui.test.ts
install postgresql-15 /usr/lib/postgresql/15/bin/initdb,/usr/lib/postgresql/15/bin/postgres dev/postgres.ts (the PostgreSQL tests)
install util-linux    runuser,setpriv                           dev/postgres.ts (the server runs as the postgres user)
install coreutils     mkfifo,test,id                            test/layers/files.test.ts, test/checksum/tarsum.test.ts, dev/postgres.ts
install tar           tar                                       test/helpers/tar.ts (GNU tar cross-checks in test/layers/files.test.ts, test/checksum/tarsum.test.ts)
install bzip2         bzip2                                     test/layers/files.test.ts
install xz-utils      xz                                        test/layers/files.test.ts
install skopeo        skopeo                                    test/e2e/skopeo.test.ts
install docker-registry docker-registry                         dev/distribution.ts (distribution 2.8: test/e2e/skopeo.test.ts and test/e2e/oci-conformance.test.ts with REGISTRY_COMPAT_TARGET=distribution; bench/compare.ts)
backports golang-1.23-go /usr/lib/go-1.23/bin/go                test/e2e/oci-conformance.test.ts (../shared/oci-conformance/run.sh builds the suite with it; bookworm has Go 1.23 only in bookworm-backports)
unpack  golang-github-docker-docker-dev .cache/tarsum-testdata/xattr/layer.tar test/helpers/fixtures.ts (test/checksum/tarsum*.test.ts)
'

present() { # present PROBE,...: every probe is an executable path or a command on PATH (or a file, for unpack)
  local probe
  IFS=, read -ra probes <<<"$1"
  for probe in "${probes[@]}"; do
    if [[ $probe == /* ]]; then [ -x "$probe" ] || return 1
    elif [[ $probe == */* ]]; then [ -f "$probe" ] || return 1
    else command -v "$probe" >/dev/null 2>&1 || return 1
    fi
  done
}

install=()
backports=()
unpack=()
while read -r how package probes _; do
  [ -n "$how" ] || continue
  present "$probes" && continue
  case $how in
    install) install+=("$package") ;;
    backports) backports+=("$package") ;;
    unpack) unpack+=("$package") ;;
  esac
done <<<"$PACKAGES"
[ ${#install[@]} -eq 0 ] && [ ${#backports[@]} -eq 0 ] && [ ${#unpack[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: apt-get is not available; install ${install[*]} ${backports[*]} ${unpack[*]} yourself or the tests that need them fail" >&2
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
# DPkg::Lock::Timeout: wait for another apt/dpkg run (e.g. an install in progress) instead of failing
apt_get() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=120 "$@"; }
updated=0
update() {
  [ "$updated" -eq 0 ] || return 0
  updated=1
  # a failed update (a mirror down) leaves the old lists to work from
  apt_get update || echo "test-deps: apt-get update failed; using the package lists as they are" >&2
}
# a fresh image has no package lists at all
compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || update
# with_retry CMD...: a failure on stale lists (404 on a superseded package) is retried once after an update
with_retry() { "$@" || { [ "$updated" -eq 0 ] && update && "$@"; }; }

status=0
if [ ${#install[@]} -gt 0 ]; then
  echo "test-deps: installing ${install[*]}" >&2
  with_retry apt_get install -y --no-install-recommends "${install[@]}" || {
    echo "test-deps: could not install ${install[*]}; the tests that need them fail" >&2
    status=1
  }
fi

# enable_backports PACKAGE: when apt knows no candidate for it, add the release's backports suite
# (Debian's own, on the mirror the machine already uses) and update the lists
enable_backports() {
  apt-cache policy "$1" 2>/dev/null | grep -q 'Candidate: [0-9]' && return 0
  local codename uri
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || return 1
  uri=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
  [ -n "$uri" ] || uri=$(awk -v c="$codename" '$1=="deb" && $3==c {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  [ -n "$uri" ] || return 1
  printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" "$codename" |
    $sudo tee "/etc/apt/sources.list.d/$codename-backports.sources" >/dev/null
  echo "test-deps: enabled $codename-backports ($uri) for $1" >&2
  updated=0
  update
}
if [ ${#backports[@]} -gt 0 ]; then
  echo "test-deps: installing ${backports[*]} (backports)" >&2
  for package in "${backports[@]}"; do enable_backports "$package" || true; done
  with_retry apt_get install -y --no-install-recommends "${backports[@]}" || {
    echo "test-deps: could not install ${backports[*]}; the tests that need them fail" >&2
    status=1
  }
fi

for package in "${unpack[@]}"; do
  [ "$package" = golang-github-docker-docker-dev ] || { echo "test-deps: do not know how to unpack $package" >&2; exit 1; }
  dest=.cache/tarsum-testdata
  system=/usr/share/gocode/src/github.com/docker/docker/pkg/tarsum/testdata
  rm -rf "$dest"
  mkdir -p .cache
  if [ -f "$system/xattr/layer.tar" ]; then
    cp -r "$system" "$dest"
    continue
  fi
  work=$(mktemp -d)
  # apt-get download needs no root: it writes into the current directory
  if (cd "$work" && with_retry apt-get -q download "$package"); then
    dpkg-deb -x "$work/${package}"_*.deb "$work/x"
    cp -r "$work/x$system" "$dest"
    echo "test-deps: unpacked Docker's TarSum test data into $dest" >&2
  else
    echo "test-deps: could not download $package; the TarSum known-answer tests fail" >&2
    status=1
  fi
  rm -rf "$work"
done
# a failed install leaves the suite to run anyway: the tests that needed it say what is missing
[ "$status" -eq 0 ] || echo "test-deps: some test dependencies are missing (see above)" >&2
exit 0
