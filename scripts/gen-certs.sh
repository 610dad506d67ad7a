#!/usr/bin/env bash
# Generates a development certificate set for Aviary's TLS listeners with openssl:
#
#   bash scripts/gen-certs.sh [DIR]          (DIR defaults to ./certs)
#
#   DIR/ca.pem  DIR/ca.key            a certificate authority ("Aviary Dev CA"), valid 825 days
#   DIR/server.pem  DIR/server.key    the broker's certificate, signed by the CA, for the names
#                                     localhost, 127.0.0.1 and ::1 (subjectAltName)
#   DIR/client.pem  DIR/client.key    a client certificate signed by the CA, CN "aviary-client"
#                                     (override with AVIARY_CLIENT_CN), for mutual TLS
#
# Then (docs/listeners.md):
#   AVIARY_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE=$PWD/certs/server.pem \
#   AVIARY_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__KEYFILE=$PWD/certs/server.key \
#   npm start
#   mosquitto_pub -h localhost -p 8883 --cafile certs/ca.pem -t hello -m world
#
# The keys are unencrypted EC P-256 keys: for development and tests only. Never use this CA in
# production, and never commit what it generates. Existing files in DIR are overwritten.
# Environment: AVIARY_CLIENT_CN (client's common name), AVIARY_CERT_DAYS (validity, default 825).
set -euo pipefail

DIR="${1:-certs}"
CLIENT_CN="${AVIARY_CLIENT_CN:-aviary-client}"
DAYS="${AVIARY_CERT_DAYS:-825}"

command -v openssl >/dev/null 2>&1 || {
  echo "gen-certs: openssl not found (Debian: apt-get install openssl)" >&2
  exit 1
}

mkdir -p "$DIR"
cd "$DIR"
umask 077
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }

# The CA: self-signed, allowed to sign certificates.
newkey ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$DAYS" -subj "/O=Aviary/CN=Aviary Dev CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem

# sign NAME SUBJECT EXTFILE: a key and a certificate signed by the CA.
sign() {
  newkey "$1.key"
  openssl req -new -key "$1.key" -subj "$2" -out "$WORK/$1.csr"
  openssl x509 -req -in "$WORK/$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 \
    -days "$DAYS" -extfile "$3" -out "$1.pem" 2>/dev/null
}

cat >"$WORK/server.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
EXT
sign server "/O=Aviary/CN=localhost" "$WORK/server.ext"

cat >"$WORK/client.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
EXT
sign client "/O=Aviary/CN=$CLIENT_CN" "$WORK/client.ext"

rm -f ca.srl
chmod 600 ./*.key
chmod 644 ./*.pem
echo "gen-certs: wrote ca.pem ca.key server.pem server.key client.pem client.key in $(pwd)"
