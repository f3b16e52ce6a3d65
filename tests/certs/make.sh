#!/usr/bin/env bash
# Makes the TLS tests' certificates (committed beside this script; test use only, never trust
# them): two CAs, server certificates for localhost / 127.0.0.1 / ::1, one for another name,
# an expired one, and a client certificate for mutual TLS. EC P-256 keys, PKCS#8 PEM.
#
#   tests/certs/make.sh      rewrites every file here (OpenSSL 3)
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
# ca NAME CN: a self-signed CA valid for 100 years.
ca() {
  key "$1.key"
  openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 36500 -subj "/CN=$2" \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign
}
# leaf NAME CA CN EXT [START END]: a certificate signed by CA, with extensions EXT; valid for
# 100 years from now, or from START to END (YYYYMMDDHHMMSSZ) through `openssl ca`.
leaf() {
  local name=$1 ca=$2 cn=$3 ext=$4
  key "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$work/$name.csr"
  printf '%s\n' "$ext" > "$work/$name.ext"
  if [ $# -eq 4 ]; then
    openssl x509 -req -in "$work/$name.csr" -CA "$ca.pem" -CAkey "$ca.key" -set_serial "0x$(openssl rand -hex 8)" \
      -days 36500 -extfile "$work/$name.ext" -out "$name.pem" 2>/dev/null
  else
    mkdir -p "$work/db" && : > "$work/db/index" && echo 01 > "$work/db/serial"
    cat > "$work/ca.cnf" <<CNF
[ca]
default_ca = d
[d]
database = $work/db/index
serial = $work/db/serial
new_certs_dir = $work/db
default_md = sha256
policy = p
copy_extensions = none
[p]
commonName = supplied
CNF
    openssl ca -batch -config "$work/ca.cnf" -cert "$ca.pem" -keyfile "$ca.key" -in "$work/$name.csr" \
      -startdate "$5" -enddate "$6" -extfile "$work/$name.ext" -notext -out "$name.pem" 2>/dev/null
  fi
}
server_ext='subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
basicConstraints=critical,CA:false
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth'
ca ca "syncws test CA"
ca other-ca "syncws other test CA"
leaf server ca localhost "$server_ext"
leaf other-server other-ca localhost "$server_ext"
leaf wrong-name ca other.example 'subjectAltName=DNS:other.example
extendedKeyUsage=serverAuth'
leaf expired ca localhost "$server_ext" 20200101000000Z 20200201000000Z
leaf client ca device-1 'basicConstraints=critical,CA:false
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth'
rm -f ./*.srl ca.key other-ca.key
ls
