#!/usr/bin/env bash
# Builds and installs the interop tier's third-party peers, pinned, into test/interop/.cache
# (gitignored). Idempotent: a peer is rebuilt only when its pins (go.mod/go.sum, the harness
# sources, requirements.txt) changed. Needs Go (module proxy reachable) and python3 with venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="$here/.cache"
bin="$cache/bin"
mkdir -p "$bin"
export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gocache" GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }
# build <name> <stamp> <package>: go build into .cache/bin unless the stamp matches.
build() {
  local name="$1" stamp="$2" pkg="$3"
  if [ -x "$bin/$name" ] && [ "$(cat "$bin/.$name.stamp" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  echo "interop setup: building $name ($pkg)" >&2
  rm -f "$cache/$name.build-error"
  if (cd "$here/go" && go build -o "$bin/$name" "$pkg") 2>"$cache/$name.build-log"; then
    echo "$stamp" >"$bin/.$name.stamp"
  else
    cp "$cache/$name.build-log" "$cache/$name.build-error"
    echo "interop setup: $name did not build (see $cache/$name.build-error)" >&2
    return 1
  fi
}

pins="$(stamp_of "$here/go/go.mod" "$here/go/go.sum")"
harness="$(stamp_of "$here/go/go.mod" "$here/go/go.sum" "$here"/go/harness/*.go)"
(cd "$here/go" && go mod download) >&2
build grpcurl "$pins" github.com/fullstorydev/grpcurl/cmd/grpcurl
build parley-interop "$harness" ./harness
# SPIRE is long to build on 2 cores; a failure is recorded and the SPIRE specs report it.
build spire-server "$pins" github.com/spiffe/spire/cmd/spire-server || true
build spire-agent "$pins" github.com/spiffe/spire/cmd/spire-agent || true

req="$here/python/requirements.txt"
venv="$cache/venv"
if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$(stamp_of "$req")" ]; then
  echo "interop setup: installing $req into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  stamp_of "$req" >"$venv/.stamp"
fi
