#!/bin/sh
# acme.test's client (uid 10002, SVID spiffe://acme.test/ns/ml/sa/client from the Workload
# API): pushes a file to acme's gateway and leaves its CID and SHA-256 in /exchange.
set -eu
dd if=/dev/urandom of=/tmp/model.bin bs=1M count=4 2>/dev/null
cid=$(node /app/bin/parley.js push /tmp/model.bin --namespace ml/models --quiet \
  --server parley-acme:8443 --server-id spiffe://acme.test/parley/gateway)
sha256sum /tmp/model.bin | cut -d' ' -f1 >/exchange/model.sha256
printf '%s\n' "$cid" >/exchange/model.cid.tmp && mv /exchange/model.cid.tmp /exchange/model.cid
echo "client-acme: pushed $cid to parley-acme"
