#!/usr/bin/env bash
# Makes this machine ready for `npm test` (run by `pretest`, and by .ci/run): on Debian 12 with
# nothing but Node.js and npm, it installs with apt what the tests use and starts the two services
# they talk to. When everything is already there it only looks, in a few milliseconds.
#
#   - PostgreSQL on 127.0.0.1:5432, user postgres without a password (the tests createdb/dropdb);
#     a cluster that asks for a password on 127.0.0.1 gets a `trust` line for 127.0.0.1 at the top
#     of its pg_hba.conf — only do this on a machine that is there to run tests;
#   - NATS with JetStream on 127.0.0.1:4222 (the distributed shape);
#   - the real clients of the e2e tests: skopeo, podman, buildah, docker (docker.io), containerd
#     (ctr); Distribution 2.8 (docker-registry) for the schema1 differential test; openssl; wrk for
#     the soak's smoke run in .ci/run.
#
# Installing and starting need root. Not root and something missing: it says what to install and
# fails. Options: --dry-run prints what it would do and changes nothing. WHARF_TEST_ENV=skip skips
# the whole step (a machine set up some other way).
set -euo pipefail

dry_run=false
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=true ;;
    *) echo "usage: $0 [--dry-run]" >&2; exit 2 ;;
  esac
done
[ "${WHARF_TEST_ENV:-}" = skip ] && exit 0

# dockerd, nats-server and runc live in /usr/sbin, which a user's PATH may not hold.
export PATH="$PATH:/usr/sbin:/sbin"

say() { printf 'test-env: %s\n' "$*" >&2; }
do_or_say() {
  if $dry_run; then say "would run: $*"; else "$@"; fi
}
is_root() { [ "$(id -u)" -eq 0 ]; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# command the tests run -> Debian package that has it
requirements=(
  pg_ctlcluster:postgresql createdb:postgresql dropdb:postgresql psql:postgresql pg_isready:postgresql
  nats-server:nats-server
  skopeo:skopeo podman:podman buildah:buildah
  docker-registry:docker-registry
  docker:docker.io dockerd:docker.io
  containerd:containerd ctr:containerd
  openssl:openssl
  wrk:wrk
)

missing_packages() {
  local req cmd pkg seen=" "
  for req in "${requirements[@]}"; do
    cmd=${req%%:*} pkg=${req#*:}
    if ! command -v "$cmd" >/dev/null && [[ "$seen" != *" $pkg "* ]]; then
      seen+="$pkg "
      printf '%s\n' "$pkg"
    fi
  done
}

postgres_ok() { psql -h 127.0.0.1 -p 5432 -U postgres -w -d postgres -Atqc 'select 1' >/dev/null 2>&1; }

need_root() {
  say "$1"
  say "run as root once (e.g. sudo npm test), or do it yourself:"
  shift
  for line in "$@"; do say "  $line"; done
  exit 1
}

# ---- fast path: everything there ----------------------------------------------------------------
mapfile -t packages < <(missing_packages)
if [ ${#packages[@]} -eq 0 ] && port_open 4222 && postgres_ok; then exit 0; fi

# ---- packages -----------------------------------------------------------------------------------
if [ ${#packages[@]} -gt 0 ]; then
  if ! is_root && ! $dry_run; then
    need_root "missing: ${packages[*]}" "apt-get install -y ${packages[*]}"
  fi
  say "installing ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  do_or_say apt-get update -qq
  # Only what is missing: a package that is there (its command merely off PATH) is not upgraded.
  do_or_say apt-get install -y -qq --no-upgrade "${packages[@]}"
  if ! $dry_run; then
    mapfile -t still < <(missing_packages)
    if [ ${#still[@]} -gt 0 ]; then say "still not on PATH after apt-get install: ${still[*]}"; exit 1; fi
  fi
fi

# ---- PostgreSQL ---------------------------------------------------------------------------------
if ! postgres_ok; then
  version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)
  if ! is_root && ! $dry_run; then
    need_root "PostgreSQL does not accept user postgres on 127.0.0.1:5432 without a password" \
      "pg_ctlcluster --skip-systemctl-redirect ${version:-<version>} main start" \
      "and in pg_hba.conf: host all all 127.0.0.1/32 trust"
  fi
  if [ -z "$version" ] && $dry_run; then version='<version>'; fi
  [ -n "$version" ] || { say "no PostgreSQL cluster in /etc/postgresql"; exit 1; }
  if [ ! -d "/etc/postgresql/$version/main" ]; then do_or_say pg_createcluster "$version" main; fi
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    say "starting PostgreSQL $version"
    do_or_say pg_ctlcluster --skip-systemctl-redirect "$version" main start
    $dry_run || for _ in $(seq 60); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 0.5; done
  fi
  if ! $dry_run && ! postgres_ok; then
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    say "$hba: adding 'host all all 127.0.0.1/32 trust' (the tests connect as postgres without a password)"
    sed -i '1i # npm test (tools/test-env/setup.sh): user postgres without a password on 127.0.0.1\nhost all all 127.0.0.1/32 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    for _ in $(seq 20); do postgres_ok && break; sleep 0.25; done
    postgres_ok || { say "PostgreSQL on 127.0.0.1:5432 still refuses user postgres"; exit 1; }
  fi
fi

# ---- NATS ---------------------------------------------------------------------------------------
if ! port_open 4222; then
  if ! is_root && ! $dry_run; then
    need_root "nothing listens on 127.0.0.1:4222 (NATS)" \
      "nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server"
  fi
  say "starting nats-server (JetStream) on 127.0.0.1:4222"
  do_or_say mkdir -p /var/lib/nats-server
  do_or_say start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server
  $dry_run || for _ in $(seq 40); do port_open 4222 && break; sleep 0.25; done
  $dry_run || port_open 4222 || { say "nats-server did not start"; exit 1; }
fi
