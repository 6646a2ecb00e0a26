#!/bin/sh
# partner.test's client (uid 10002, SVID spiffe://partner.test/ns/ml/sa/client): pulls the
# record acme pushed, from acme's gateway, across the federation (allowed by acme's default
# policy: federated trust domains may Lookup and Pull), and checks the bytes.
set -eu
tries=0
until [ -s /exchange/model.cid ]; do
  tries=$((tries + 1))
  [ "$tries" -le 300 ] || { echo "client: no CID from client-acme after 300 s" >&2; exit 1; }
  sleep 1
done
cid=$(cat /exchange/model.cid)
node /app/bin/parley.js pull "$cid" -o /tmp/model.bin --server parley-acme:8443 --server-id spiffe://acme.test/parley/gateway
[ "$(sha256sum /tmp/model.bin | cut -d' ' -f1)" = "$(cat /exchange/model.sha256)" ] || { echo "client: digest mismatch" >&2; exit 1; }
echo "client: spiffe://partner.test/ns/ml/sa/client pulled $cid from acme.test: bytes match"
