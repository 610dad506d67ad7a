#!/usr/bin/env bash
# Installs (from Debian packages) and starts, on loopback only, the real programs and servers the
# integration tests need. `npm test` runs it before the tests; run it by hand the same way.
#
#   bash scripts/services.sh [start|stop|status] [service...]
#
#   start   (default) install what is missing, then start the daemons, idempotently: a running
#           service is left alone. Writes the connection settings to $AVIARY_SERVICES_DIR/env.
#   stop    stop the daemons this script started (never uninstalls anything).
#   status  print, for each service, whether it is installed and whether it is up.
#
# With no service names it acts on DEFAULT_SERVICES below; `npm test` runs `start` with that list.
# When tests start needing another server, add it to DEFAULT_SERVICES (.ci/run needs no change:
# it runs `npm test`). Tests read connection settings with requireServiceEnv (test/helpers/services.ts).
#
# Services:
#   mosquitto-clients  mosquitto_pub / mosquitto_sub (package mosquitto-clients); no daemon
#   paho               Python's paho-mqtt for Debian's /usr/bin/python3 (package python3-paho-mqtt); no daemon
#   mosquitto          the mosquitto binary (package mosquitto), installed only: no daemon
#   mosquitto-broker   a mosquitto daemon on 127.0.0.1:11883 (bridge peer, benchmarks)
#   redis              redis-server on 127.0.0.1:6379
#   postgres           PostgreSQL on 127.0.0.1:5432, role ci/ci (superuser), database ci
#   mariadb            MariaDB on 127.0.0.1:3306, user ci@127.0.0.1/ci, database ci
#   ldap               slapd on 127.0.0.1:389, base dc=example,dc=org, admin secret, uid=alice/alicepw
#   etcd               etcd on 127.0.0.1:2379
#   chromium           /usr/bin/chromium for the dashboard's browser tests; no daemon
#
# Needs root (CI runs as root) or password-less sudo to install packages and start daemons.
# Any failure exits non-zero with a message saying what failed: a missing server is an error,
# never a reason for tests to skip.
set -euo pipefail

DEFAULT_SERVICES=(mosquitto-clients mosquitto paho)

# The Debian packages each service needs; `start` installs the missing ones in one apt-get call.
declare -A PACKAGES=(
  [mosquitto-clients]="mosquitto-clients"
  [paho]="python3-paho-mqtt"
  [mosquitto]="mosquitto"
  [mosquitto-broker]="mosquitto"
  [redis]="redis-server"
  [postgres]="postgresql"
  [mariadb]="mariadb-server mariadb-client"
  [ldap]="slapd ldap-utils"
  [etcd]="etcd-server etcd-client"
  [chromium]="chromium"
)

RUN="${AVIARY_SERVICES_DIR:-/tmp/aviary-services}"
ENV_FILE="$RUN/env"
MOSQUITTO_PORT=11883

export DEBIAN_FRONTEND=noninteractive

log() { printf '[services] %s\n' "$*"; }
die() {
  printf '[services] ERROR: %s\n' "$*" >&2
  exit 1
}

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n -E)
  fi
fi
as_root() {
  if [[ $(id -u) -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
    die "need root (or password-less sudo) to run: $*"
  fi
  "${SUDO[@]}" "$@"
}

# ---------------------------------------------------------------------------------------------
# Packages

pkg_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]; }

APT_UPDATED=0
NEWLY_INSTALLED=()
# ensure_packages PKG...: install, with apt-get, those of the packages that are not installed.
ensure_packages() {
  local missing=() p
  for p in "$@"; do pkg_installed "$p" || missing+=("$p"); done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "packages present: $*"
    return 0
  fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: cannot install ${missing[*]} (Debian/Ubuntu only)"
  if [[ $APT_UPDATED -eq 0 ]]; then
    log "apt-get update"
    as_root apt-get update -q -o DPkg::Lock::Timeout=600 ||
      die "apt-get update failed (needed to install ${missing[*]})"
    APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  as_root apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" ||
    die "apt-get install ${missing[*]} failed"
  for p in "${missing[@]}"; do pkg_installed "$p" || die "package $p is still not installed after apt-get install"; done
  NEWLY_INSTALLED+=("${missing[@]}")
}
just_installed() { [[ " ${NEWLY_INSTALLED[*]} " == *" $1 "* ]]; }

# find_cmd NAME: print the absolute path of NAME, also looking in the sbin directories that a
# non-root PATH lacks; fail if absent.
find_cmd() {
  local c
  c=$(PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$1" 2>/dev/null) || return 1
  printf '%s\n' "$c"
}
require_cmd() {
  local c
  c=$(find_cmd "$1") || die "$1 not found after installing package $2"
  log "$1: $c"
}

# ---------------------------------------------------------------------------------------------
# Helpers for daemons

# port_up PORT: is something listening on 127.0.0.1:PORT?
port_up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port NAME PORT [SECONDS]
wait_port() {
  local name=$1 port=$2 secs=${3:-30} i
  for ((i = 0; i < secs * 10; i++)); do
    port_up "$port" && return 0
    sleep 0.1
  done
  die "$name did not start listening on 127.0.0.1:$port within ${secs}s (logs in $RUN)"
}

# kill_pidfile NAME FILE
kill_pidfile() {
  local name=$1 file=$2 pid i
  if [[ ! -s $file ]]; then
    log "$name: not started by this script (no $file)"
    return 0
  fi
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    log "$name: stopping pid $pid"
    kill "$pid"
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && die "$name (pid $pid) did not stop within 10s"
  else
    log "$name: pid $pid is not running"
  fi
  rm -f "$file"
}

# set_env KEY VALUE: record a connection setting in $ENV_FILE (sourced by shells; read by tests).
set_env() {
  mkdir -p "$RUN"
  touch "$ENV_FILE"
  grep -v "^export $1=" "$ENV_FILE" >"$ENV_FILE.tmp" || true
  printf 'export %s=%q\n' "$1" "$2" >>"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# unset_env KEY...: forget connection settings (when their service stops).
unset_env() {
  [[ -f $ENV_FILE ]] || return 0
  local k
  for k in "$@"; do
    grep -v "^export $k=" "$ENV_FILE" >"$ENV_FILE.tmp" || true
    mv "$ENV_FILE.tmp" "$ENV_FILE"
  done
}

status_port() { if port_up "$2"; then log "$1: up on 127.0.0.1:$2"; else log "$1: down"; fi; }
status_pkgs() {
  local name=$1 p
  shift
  for p in "$@"; do pkg_installed "$p" || {
    log "$name: package $p not installed"
    return 0
  }; done
  log "$name: installed ($*)"
}

# ---------------------------------------------------------------------------------------------
# Services. Each has start_<name>, stop_<name> and status_<name> ('-' in names becomes '_').

# mosquitto-clients: mosquitto_pub and mosquitto_sub, used by the interop tests. No daemon.
start_mosquitto_clients() {
  ensure_packages mosquitto-clients
  require_cmd mosquitto_pub mosquitto-clients
  require_cmd mosquitto_sub mosquitto-clients
}
stop_mosquitto_clients() { :; }
status_mosquitto_clients() { status_pkgs mosquitto-clients mosquitto-clients; }

# paho: the Eclipse Paho MQTT client for Python (3.1.1 and 5.0), used by test/interop through
# test/interop/paho/client.py. Debian's package installs it for Debian's /usr/bin/python3 only (a
# pyenv or venv python3 earlier in PATH does not see it), so that is the interpreter checked here
# and the one the tests run. No daemon.
start_paho() {
  ensure_packages python3-paho-mqtt
  /usr/bin/python3 -c 'import paho.mqtt.client' 2>/dev/null ||
    die "paho: /usr/bin/python3 cannot import paho.mqtt.client after installing python3-paho-mqtt"
  log "paho: /usr/bin/python3 imports paho.mqtt.client"
}
stop_paho() { :; }
status_paho() { status_pkgs paho python3-paho-mqtt; }

# mosquitto: the broker binary, installed only (tests and benchmarks start their own instances).
# Debian's package enables a systemd unit; in containers there is no systemd, so nothing starts.
start_mosquitto() {
  ensure_packages mosquitto
  require_cmd mosquitto mosquitto
  # Where no policy-rc.d forbids it, the package's postinst starts the system daemon on port 1883.
  # Nothing of ours wants it: stop it again, but only if we installed the package just now.
  if just_installed mosquitto && [[ -x /etc/init.d/mosquitto ]] && [[ -s /run/mosquitto/mosquitto.pid ]]; then
    log "mosquitto: stopping the system daemon the package started"
    as_root /etc/init.d/mosquitto stop || true
  fi
}
stop_mosquitto() { :; }
status_mosquitto() { status_pkgs mosquitto mosquitto; }

# mosquitto-broker: a shared mosquitto daemon on 127.0.0.1:11883 (bridge peer). Not in the default
# list. Mosquitto drops root to user mosquitto before it writes its pid file, so its directory is
# owned by mosquitto.
start_mosquitto_broker() {
  start_mosquitto
  local dir="$RUN/mosquitto"
  set_env MOSQUITTO_URL "mqtt://127.0.0.1:$MOSQUITTO_PORT"
  if port_up "$MOSQUITTO_PORT"; then
    log "mosquitto-broker: already up on 127.0.0.1:$MOSQUITTO_PORT"
    return 0
  fi
  as_root mkdir -p "$dir"
  as_root chown mosquitto: "$dir" 2>/dev/null || true
  cat >"$RUN/mosquitto.conf" <<EOF
listener $MOSQUITTO_PORT 127.0.0.1
allow_anonymous true
persistence false
user mosquitto
pid_file $dir/mosquitto.pid
log_dest file $dir/mosquitto.log
EOF
  log "mosquitto-broker: starting on 127.0.0.1:$MOSQUITTO_PORT"
  as_root "$(find_cmd mosquitto)" -d -c "$RUN/mosquitto.conf" || die "mosquitto failed to start (log: $dir/mosquitto.log)"
  wait_port mosquitto-broker "$MOSQUITTO_PORT" 10
}
stop_mosquitto_broker() {
  kill_pidfile mosquitto-broker "$RUN/mosquitto/mosquitto.pid"
  unset_env MOSQUITTO_URL
}
status_mosquitto_broker() { status_port mosquitto-broker "$MOSQUITTO_PORT"; }

# redis
start_redis() {
  ensure_packages redis-server
  set_env REDIS_URL "redis://127.0.0.1:6379"
  if port_up 6379; then
    log "redis: already up on 127.0.0.1:6379"
    return 0
  fi
  mkdir -p "$RUN/redis"
  log "redis: starting on 127.0.0.1:6379"
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir "$RUN/redis" --logfile "$RUN/redis.log" --pidfile "$RUN/redis.pid" || die "redis-server failed to start"
  wait_port redis 6379 10
}
stop_redis() {
  kill_pidfile redis "$RUN/redis.pid"
  unset_env REDIS_URL
}
status_redis() { status_port redis 6379; }

# postgres: Debian's cluster 'main' of the newest installed major version, plus role/db ci.
pg_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -1; }
start_postgres() {
  ensure_packages postgresql
  set_env PG_URL "postgres://ci:ci@127.0.0.1:5432/ci"
  local v
  v=$(pg_version)
  [[ -n $v ]] || die "postgres: no cluster under /etc/postgresql"
  if ! port_up 5432; then
    log "postgres: starting cluster $v/main"
    as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start || die "pg_ctlcluster $v main start failed"
    wait_port postgres 5432 30
  else
    log "postgres: already up on 127.0.0.1:5432"
  fi
  as_root runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -d postgres <<'SQL' || die "postgres: creating role/db ci failed"
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ci') THEN
    CREATE ROLE ci LOGIN SUPERUSER PASSWORD 'ci';
  END IF;
END $$;
SELECT 'CREATE DATABASE ci OWNER ci' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ci')\gexec
SQL
}
stop_postgres() {
  local v
  v=$(pg_version)
  if [[ -n $v ]] && port_up 5432; then
    log "postgres: stopping cluster $v/main"
    as_root pg_ctlcluster --skip-systemctl-redirect "$v" main stop
  else
    log "postgres: not running"
  fi
  unset_env PG_URL
}
status_postgres() { status_port postgres 5432; }

# mariadb
start_mariadb() {
  ensure_packages mariadb-server mariadb-client
  set_env MYSQL_URL "mysql://ci:ci@127.0.0.1:3306/ci"
  if ! port_up 3306; then
    as_root mkdir -p /run/mysqld
    as_root chown mysql:mysql /run/mysqld
    log "mariadb: starting on 127.0.0.1:3306"
    as_root start-stop-daemon --start --oknodo --background --make-pidfile --pidfile "$RUN/mariadb.pid" \
      --exec /usr/sbin/mariadbd -- --user=mysql --bind-address=127.0.0.1 || die "mariadbd failed to start"
    wait_port mariadb 3306 60
  else
    log "mariadb: already up on 127.0.0.1:3306"
  fi
  as_root mariadb -u root <<'SQL' || die "mariadb: creating user/db ci failed"
CREATE DATABASE IF NOT EXISTS ci;
CREATE USER IF NOT EXISTS 'ci'@'127.0.0.1' IDENTIFIED BY 'ci';
GRANT ALL PRIVILEGES ON ci.* TO 'ci'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL
}
stop_mariadb() {
  if [[ -s $RUN/mariadb.pid ]]; then
    log "mariadb: stopping"
    as_root start-stop-daemon --stop --retry 20 --pidfile "$RUN/mariadb.pid" || true
    rm -f "$RUN/mariadb.pid"
  else
    log "mariadb: not started by this script"
  fi
  unset_env MYSQL_URL
}
status_mariadb() { status_port mariadb 3306; }

# ldap: slapd, preseeded before installation so it comes up with our suffix and password.
preseed_ldap() {
  pkg_installed slapd && return 0
  log "ldap: preseeding slapd (dc=example,dc=org, admin password secret)"
  as_root debconf-set-selections <<'EOF'
slapd slapd/no_configuration boolean false
slapd slapd/domain string example.org
slapd shared/organization string Example
slapd slapd/password1 password secret
slapd slapd/password2 password secret
slapd slapd/purge_database boolean true
slapd slapd/move_old_database boolean true
EOF
}
start_ldap() {
  preseed_ldap
  ensure_packages slapd ldap-utils
  set_env LDAP_URL "ldap://127.0.0.1:389"
  set_env LDAP_BASE_DN "dc=example,dc=org"
  set_env LDAP_BIND_DN "cn=admin,dc=example,dc=org"
  set_env LDAP_BIND_PASSWORD "secret"
  if ! port_up 389; then
    log "ldap: starting slapd on 127.0.0.1:389"
    as_root slapd -h "ldap://127.0.0.1:389/ ldapi:///" -u openldap -g openldap || die "slapd failed to start"
    wait_port ldap 389 10
  else
    log "ldap: already up on 127.0.0.1:389"
  fi
  if ! ldapsearch -x -H ldap://127.0.0.1:389 -b "uid=alice,ou=users,dc=example,dc=org" -s base >/dev/null 2>&1; then
    log "ldap: adding ou=users and uid=alice"
    ldapadd -c -x -H ldap://127.0.0.1:389 -D "cn=admin,dc=example,dc=org" -w secret >/dev/null <<'EOF' || true
dn: ou=users,dc=example,dc=org
objectClass: organizationalUnit
ou: users

dn: uid=alice,ou=users,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: Alice
userPassword: alicepw
EOF
    ldapsearch -x -H ldap://127.0.0.1:389 -b "uid=alice,ou=users,dc=example,dc=org" -s base >/dev/null 2>&1 ||
      die "ldap: uid=alice could not be created (is slapd's suffix dc=example,dc=org? see ecosystem notes)"
  fi
}
stop_ldap() {
  kill_pidfile ldap /run/slapd/slapd.pid
  unset_env LDAP_URL LDAP_BASE_DN LDAP_BIND_DN LDAP_BIND_PASSWORD
}
status_ldap() { status_port ldap 389; }

# etcd
start_etcd() {
  ensure_packages etcd-server etcd-client
  set_env ETCD_URL "http://127.0.0.1:2379"
  if port_up 2379; then
    log "etcd: already up on 127.0.0.1:2379"
    return 0
  fi
  mkdir -p "$RUN"
  log "etcd: starting on 127.0.0.1:2379"
  setsid nohup etcd --name ci --data-dir "$RUN/etcd-data" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster ci=http://127.0.0.1:2380 >"$RUN/etcd.log" 2>&1 </dev/null &
  echo $! >"$RUN/etcd.pid"
  wait_port etcd 2379 30
}
stop_etcd() {
  kill_pidfile etcd "$RUN/etcd.pid"
  unset_env ETCD_URL
}
status_etcd() { status_port etcd 2379; }

# chromium: the browser for test/e2e (driven by playwright-core). No daemon.
start_chromium() {
  ensure_packages chromium
  require_cmd chromium chromium
  set_env CHROMIUM_PATH "$(find_cmd chromium)"
}
stop_chromium() { unset_env CHROMIUM_PATH; }
status_chromium() { status_pkgs chromium chromium; }

# ---------------------------------------------------------------------------------------------

main() {
  local action=${1:-start}
  [[ $# -gt 0 ]] && shift
  case $action in
  start | stop | status) ;;
  -h | --help | help)
    sed -n '2,/^set -euo pipefail$/p' "$0" | grep '^#'
    return 0
    ;;
  *) die "unknown action '$action' (use start, stop or status)" ;;
  esac
  local services=("$@")
  [[ ${#services[@]} -gt 0 ]] || services=("${DEFAULT_SERVICES[@]}")
  local s fn
  for s in "${services[@]}"; do
    fn="${action}_${s//-/_}"
    declare -F "$fn" >/dev/null || die "unknown service '$s'"
  done
  mkdir -p "$RUN"
  log "$action: ${services[*]}"
  if [[ $action == start ]]; then
    local pkgs=()
    for s in "${services[@]}"; do
      [[ $s == ldap ]] && preseed_ldap
      # shellcheck disable=SC2206 # the lists are space-separated words
      pkgs+=(${PACKAGES[$s]:-})
    done
    [[ ${#pkgs[@]} -eq 0 ]] || ensure_packages "${pkgs[@]}"
  fi
  for s in "${services[@]}"; do
    "${action}_${s//-/_}"
  done
  [[ $action == start && -s $ENV_FILE ]] && log "connection settings: $ENV_FILE" || true
}

main "$@"
