#!/bin/bash
# The package test's half inside the throwaway Debian 12 root (package_test.sh runs it as
# root, chrooted, in its own mount, PID and network namespaces: 127.0.0.1 and 0.0.0.0 are
# the namespace's own, so port 5000 is free and nothing is reachable from outside).
# Usage: in_root.sh DEB. Installs DEB, provisions a SoftHSM token as the keyconnector user
# with kc-setup, checks the daemon (--check, /health) and its audit log (kc-audit verify),
# the container entry point (LOCAL_UID/LOCAL_GID), remove + reinstall (config and data
# kept), then purge: what is left must be exactly what policy keeps — the user and the
# state in /var/lib/keyconnector.
set -euo pipefail

deb=$1
config=/etc/keyconnector/keyconnector.properties
state=/var/lib/keyconnector
# The unit's credential directory (%d) and the test's own files, outside the package's paths.
credentials=/run/credentials/keyconnectord.service
scratch=/run/kc-test
port=5000

fail() {
  echo "FAIL: $*" >&2
  for log in "$scratch"/*.log; do
    [ -s "$log" ] && { echo "--- $log" >&2; tail -n 20 "$log" >&2; }
  done
  exit 1
}
step() { echo "== $*"; }
# A command prefix, not a function: a function sent to the background is a subshell's child.
as_keyconnector=(setpriv --reuid=keyconnector --regid=keyconnector --init-groups --)
setting() { sed -n "s/^$1 *= *//p" "$config"; }
uri_attribute() { tr ';' '\n' <<<"${1#pkcs11:}" | sed -n "s/^$2=//p"; }

# Every path on the root except what changes by itself (dpkg's database, logs, caches).
snapshot() {
  find / -xdev \( -path /proc -o -path /tmp -o -path /run -o -path /var/lib/dpkg \
    -o -path /var/log -o -path /var/cache \) -prune -o -print | sort
}

# Waits for /health on $1 to answer 200 "Healthy" while process $2 runs.
wait_healthy() {
  local url=$1 pid=$2 body=
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || fail "the daemon (pid $pid) exited before $url answered"
    body=$(curl -fsS --max-time 2 "$url" 2>/dev/null) && break
    sleep 0.2
  done
  [ "$body" = Healthy ] || fail "$url answered '$body', not 'Healthy'"
}

stop_daemon() { # pid
  kill -TERM "$1"
  local status=0
  wait "$1" || status=$?
  [ "$status" -eq 0 ] || fail "keyconnectord exited $status on SIGTERM, not 0"
}

snapshot >/tmp/before

step "dpkg -i $(basename "$deb")"
dpkg -i "$deb" >/dev/null
for path in /usr/sbin/keyconnectord /usr/bin/kc-setup /usr/bin/kc-audit \
  /usr/share/man/man8/keyconnectord.8.gz /usr/share/man/man8/kc-setup.8.gz \
  /usr/share/man/man1/kc-audit.1.gz /lib/systemd/system/keyconnectord.service \
  /usr/lib/sysusers.d/keyconnector.conf /usr/lib/hsm-key-connector/container-entrypoint \
  /usr/share/doc/hsm-key-connector/copyright /usr/share/doc/hsm-key-connector/README.md \
  /etc/systemd/system/multi-user.target.wants/keyconnectord.service "$config"; do
  [ -e "$path" ] || fail "$path is not installed"
done
getent passwd keyconnector | grep -q ":$state:" || fail "no user keyconnector with home $state"
id -nG keyconnector | grep -qw softhsm || fail "keyconnector is not in group softhsm"
for dir in "$state" "$state/audit"; do
  [ "$(stat -c '%a %U %G' "$dir")" = "750 keyconnector keyconnector" ] ||
    fail "$dir is $(stat -c '%a %U %G' "$dir"), not 750 keyconnector keyconnector"
done
grep -qx "$config" /var/lib/dpkg/info/hsm-key-connector.conffiles || fail "$config is no conffile"
[ -z "$(dpkg --verify hsm-key-connector)" ] || fail "dpkg --verify: $(dpkg --verify hsm-key-connector)"
[ ! -e /run/systemd/system ] || fail "the root runs systemd?"

step "provision the token named by $config as keyconnector"
token_uri=$(setting pkcs11.token)
wrap_uri=$(setting pkcs11.wrap_key)
audit_uri=$(setting pkcs11.audit_key)
install -d -o keyconnector -g keyconnector -m 0700 "$credentials" "$scratch"
umask 077
for pin in kc-pin so-pin; do
  od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$credentials/$pin"
done
chown keyconnector:keyconnector "$credentials"/*
"${as_keyconnector[@]}" kc-setup token init --label "$(uri_attribute "$token_uri" token)" \
  --so-pin-file "$credentials/so-pin" --pin-file "$credentials/kc-pin" >/dev/null
"${as_keyconnector[@]}" kc-setup key generate --token "$token_uri" --label "$(uri_attribute "$wrap_uri" object)" \
  --purpose wrap --pin-file "$credentials/kc-pin" >/dev/null
"${as_keyconnector[@]}" kc-setup key generate --token "$token_uri" --label "$(uri_attribute "$audit_uri" object)" \
  --purpose audit --pin-file "$credentials/kc-pin" >/dev/null
"${as_keyconnector[@]}" kc-setup key verify --key "$wrap_uri" --purpose wrap \
  --pin-file "$credentials/kc-pin" >/dev/null
# The installed config names https://vault.example.com/identity, which must not be
# contacted: a development identity's JWKS file takes its place (a JWKS file wins).
"${as_keyconnector[@]}" kc-setup dev-identity --out "$scratch/identity" >/dev/null 2>&1
export KC_IDENTITY_JWKS_FILE=$scratch/identity/jwks.json
KC_IDENTITY_ISSUER=$(head -n1 "$scratch/identity/issuer")
export KC_IDENTITY_ISSUER
export KC_PKCS11_PIN_FILE=$credentials/kc-pin KC_SERVER_PORT=$port
umask 022

step "keyconnectord --check, then /health as keyconnector"
"${as_keyconnector[@]}" keyconnectord --config "$config" --check >/dev/null 2>"$scratch/check.log" ||
  fail "keyconnectord --check failed: $(cat "$scratch/check.log")"
"${as_keyconnector[@]}" keyconnectord --config "$config" 2>"$scratch/daemon.log" &
daemon=$!
wait_healthy "http://127.0.0.1:$port/health" "$daemon"
stop_daemon "$daemon"
[ -s "$state/keys.db" ] || fail "no database $state/keys.db"
[ -s "$state/audit/audit.log" ] || fail "no audit log in $state/audit"
"${as_keyconnector[@]}" kc-setup key export --key "$audit_uri" --pin-file "$credentials/kc-pin" \
  --out "$scratch/audit-public.pem" >/dev/null
"${as_keyconnector[@]}" kc-audit verify --public-key "$scratch/audit-public.pem" \
  "$state"/audit/audit*.log >"$scratch/verify.log" 2>&1 || fail "kc-audit verify failed"

step "the container entry point with LOCAL_UID=2345 LOCAL_GID=2346, listening on 0.0.0.0"
# The test's own PIN and identity files follow the user to its new ids, as mounted
# secrets would be given to them.
chown -R 2345:2346 "$credentials" "$scratch"
LOCAL_UID=2345 LOCAL_GID=2346 KC_SERVER_ADDRESS=0.0.0.0 \
  /usr/lib/hsm-key-connector/container-entrypoint 2>"$scratch/entrypoint.log" &
daemon=$!
wait_healthy "http://127.0.0.1:$port/health" "$daemon"
grep -q "^Name:[[:space:]]*keyconnectord$" "/proc/$daemon/status" ||
  fail "the entry point did not exec keyconnectord"
grep -Eq "^Uid:[[:space:]]+2345[[:space:]]+2345[[:space:]]+2345[[:space:]]+2345$" "/proc/$daemon/status" ||
  fail "keyconnectord runs as $(grep ^Uid: "/proc/$daemon/status"), not uid 2345"
grep -Eq "^Gid:[[:space:]]+2346[[:space:]]+2346[[:space:]]+2346[[:space:]]+2346$" "/proc/$daemon/status" ||
  fail "keyconnectord runs as $(grep ^Gid: "/proc/$daemon/status"), not gid 2346"
grep -q "^CapEff:[[:space:]]*0*$" "/proc/$daemon/status" || fail "keyconnectord kept capabilities"
# 0.0.0.0:5000 listening (state 0A) in /proc/net/tcp.
grep -Eq "^ *[0-9]+: 00000000:$(printf '%04X' "$port") 00000000:0000 0A" /proc/net/tcp ||
  fail "nothing listens on 0.0.0.0:$port"
stop_daemon "$daemon"
[ "$(stat -c '%u:%g' "$state/keys.db")" = 2345:2346 ] || fail "$state was not handed to 2345:2346"

step "dpkg -r keeps the configuration and the data; a reinstall uses them"
echo "# kept across remove and reinstall" >>"$config"
dpkg -r hsm-key-connector >/dev/null
for path in /usr/sbin/keyconnectord /usr/share/man/man8/keyconnectord.8.gz \
  /lib/systemd/system/keyconnectord.service; do
  [ ! -e "$path" ] || fail "$path is left after dpkg -r"
done
grep -q "^# kept across remove and reinstall" "$config" || fail "dpkg -r lost $config"
[ -s "$state/keys.db" ] || fail "dpkg -r lost $state/keys.db"
dpkg -i "$deb" >/dev/null
grep -q "^# kept across remove and reinstall" "$config" || fail "reinstalling replaced $config"
for leftover in "$config.dpkg-new" "$config.dpkg-dist"; do
  [ ! -e "$leftover" ] || fail "reinstalling left $leftover"
done
"${as_keyconnector[@]}" keyconnectord --config "$config" --check >/dev/null 2>"$scratch/check.log" ||
  fail "keyconnectord --check failed after a reinstall: $(cat "$scratch/check.log")"

step "dpkg --purge leaves the user and the state, and nothing else"
dpkg --purge hsm-key-connector >/dev/null 2>"$scratch/purge.log"
grep -q "kept $state" "$scratch/purge.log" || fail "purge did not say it kept $state"
for data in "$state/keys.db" "$state/audit/audit.log"; do
  [ -s "$data" ] || fail "purge deleted $data"
done
getent passwd keyconnector >/dev/null || fail "purge deleted the user"
! dpkg-query -W hsm-key-connector >/dev/null 2>&1 || fail "dpkg still knows hsm-key-connector"
snapshot >/tmp/after
# Allowed: the user's lines' files, the state, and the token SoftHSM wrote.
left=$(comm -13 /tmp/before /tmp/after |
  grep -Ev "^/etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$|^$state(/|$)|^/var/lib/softhsm/tokens/" || true)
[ -z "$left" ] || fail "left after purge: $left"
gone=$(comm -23 /tmp/before /tmp/after)
[ -z "$gone" ] || fail "gone after purge, though there before install: $gone"
echo "in_root: ok"
