#!/usr/bin/env bash
# Makes a throw-away CA and certificates for accelpackd's TLS listeners (--listen,
# --listen-readers), for tests and trials only: the keys are unencrypted and the CA
# signs anything.
# SPDX-License-Identifier: GPL-2.0-or-later
#
#   contrib/make-test-ca.sh DIR [SERVER_NAME] [CLIENT_CN...]
#
# DIR/ca.pem                      the CA (accelpackd --tls-client-ca, clients' root)
# DIR/server.pem, server.key      accelpackd --tls-cert/--tls-key; SAN: SERVER_NAME
#                                 (default localhost), 127.0.0.1 and ::1
# DIR/<cn>.pem, <cn>.key          one client certificate per CLIENT_CN
#                                 (default: slurmctld, which may Schedule, and operator)
set -euo pipefail
dir=${1:?usage: make-test-ca.sh DIR [SERVER_NAME] [CLIENT_CN...]}
server=${2:-localhost}
shift $(( $# >= 2 ? 2 : 1 ))
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(slurmctld operator)
command -v openssl >/dev/null || { echo "make-test-ca.sh: needs openssl (apt-get install openssl)" >&2; exit 1; }

install -d -m 0700 "$dir"
cd "$dir"
umask 077
days=30
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" -subj "/CN=accelpack test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout ca.key -out ca.pem 2>/dev/null

# sign NAME CN EXTENSIONS: NAME.key + NAME.pem signed by the CA
sign() {
  local name=$1 cn=$2 ext=$3
  openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=$cn" -keyout "$name.key" \
    -out "$name.csr" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$days" \
    -sha256 -extfile <(printf '%s\n' "$ext") -out "$name.pem" 2>/dev/null
  rm -f "$name.csr"
}
sign server "$server" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$server,IP:127.0.0.1,IP:::1"
for cn in "${clients[@]}"; do
  sign "$cn" "$cn" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
done
chmod 0644 ca.pem ./*.pem
echo "make-test-ca.sh: CA and certificates in $dir (server: $server; clients: ${clients[*]})"
