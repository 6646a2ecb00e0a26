#!/bin/sh
# One-shot registration of one organization's SPIRE server (docker-compose.yml:
# spire-register-<org>). Idempotent: a second run changes nothing that is already there.
#   1. the agent's bootstrap: the server's bundle (PEM) and a join token;
#   2. the out-of-band bundle exchange with the partner (the `bundles` volume stands for the
#      channel two organizations use to hand each other their bundle once);
#   3. the registration entries: the gateway (uid 10001, DNS name of its service) and the
#      client workload (uid 10002), both federating with the partner.
# Environment: TRUST_DOMAIN, PARTNER_TRUST_DOMAIN, GATEWAY_DNS.
set -eu
: "${TRUST_DOMAIN:?}" "${PARTNER_TRUST_DOMAIN:?}" "${GATEWAY_DNS:?}"
socket=/run/spire/server/api.sock
bootstrap=/run/spire/bootstrap
bundles=/run/spire/bundles
agent_id="spiffe://$TRUST_DOMAIN/agent"
srv() { spire-server "$@" -socketPath "$socket"; }

tries=0
until srv healthcheck >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -le 120 ] || { echo "register: spire server of $TRUST_DOMAIN not healthy after 120 s" >&2; exit 1; }
  sleep 1
done

srv bundle show -format pem >"$bootstrap/bundle.pem.tmp" && mv "$bootstrap/bundle.pem.tmp" "$bootstrap/bundle.pem"
if [ ! -s "$bootstrap/join-token" ]; then
  token=$(srv token generate -spiffeID "$agent_id" -ttl 3600 | sed -n 's/^Token: //p')
  [ -n "$token" ] || { echo "register: no join token printed" >&2; exit 1; }
  printf '%s\n' "$token" >"$bootstrap/join-token.tmp" && mv "$bootstrap/join-token.tmp" "$bootstrap/join-token"
fi

srv bundle show -format spiffe >"$bundles/$TRUST_DOMAIN.json.tmp" && mv "$bundles/$TRUST_DOMAIN.json.tmp" "$bundles/$TRUST_DOMAIN.json"
tries=0
until [ -s "$bundles/$PARTNER_TRUST_DOMAIN.json" ]; do
  tries=$((tries + 1))
  [ "$tries" -le 300 ] || { echo "register: no bundle from $PARTNER_TRUST_DOMAIN after 300 s" >&2; exit 1; }
  sleep 1
done
srv bundle set -format spiffe -id "spiffe://$PARTNER_TRUST_DOMAIN" -path "$bundles/$PARTNER_TRUST_DOMAIN.json"

# entry <spiffe id> <selector> [extra flags]: created once.
entry() {
  id="$1"; selector="$2"; shift 2
  if srv entry show -spiffeID "$id" | grep -q "SPIFFE ID *: *$id\$"; then return 0; fi
  srv entry create -parentID "$agent_id" -spiffeID "$id" -selector "$selector" \
    -federatesWith "spiffe://$PARTNER_TRUST_DOMAIN" "$@"
}
entry "spiffe://$TRUST_DOMAIN/parley/gateway" unix:uid:10001 -dns "$GATEWAY_DNS"
entry "spiffe://$TRUST_DOMAIN/ns/ml/sa/client" unix:uid:10002
# The demo's clients (uid 10002) hand each other a CID through /exchange, when it is mounted.
if [ -d /exchange ]; then chmod 0777 /exchange; fi
echo "register: $TRUST_DOMAIN ready (federated with $PARTNER_TRUST_DOMAIN)"
