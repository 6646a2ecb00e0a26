#!/bin/sh
# Starts the SPIRE agent once spire-register-<org> has written its join token and the
# server's bundle (docker-compose.yml: spire-agent-<org>).
set -eu
bootstrap=/run/spire/bootstrap
tries=0
until [ -s "$bootstrap/join-token" ] && [ -s "$bootstrap/bundle.pem" ]; do
  tries=$((tries + 1))
  [ "$tries" -le 300 ] || { echo "agent: no join token after 300 s" >&2; exit 1; }
  sleep 1
done
exec spire-agent run -config /etc/spire/agent.conf -joinToken "$(cat "$bootstrap/join-token")"
