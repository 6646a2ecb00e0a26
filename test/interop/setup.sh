#!/usr/bin/env bash
# Builds and installs the interop tier's third-party peers (SeaweedFS among them), pinned, into test/interop/.cache
# (gitignored). Idempotent: a peer is rebuilt only when its pins (go.mod/go.sum, the harness
# sources, requirements.txt) changed. Needs Go (module proxy reachable) and python3 with venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="$here/.cache"
bin="$cache/bin"
mkdir -p "$bin"
export GOMODCACHE="$cache/gomod" GOCACHE="$cache/gocache" GOFLAGS=-buildvcs=false GOTOOLCHAIN=local

# Debian packages the tier needs (openssl for s_client, the venv module for python3).
need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# skopeo (the registry specs), pinned to Debian bookworm's build.
SKOPEO_DEB=1.9.3+ds1-1+b10
[ "$(dpkg-query -W -f='${Version}' skopeo 2>/dev/null)" = "$SKOPEO_DEB" ] || need_apt+=("skopeo=$SKOPEO_DEB")
# docker-registry (distribution's registry, the OCI sync specs' source registry), pinned to bookworm's build.
REGISTRY_DEB=2.8.2+ds1-1
if ! command -v docker-registry >/dev/null || [ "$(dpkg-query -W -f='${Version}' docker-registry 2>/dev/null)" != "$REGISTRY_DEB" ]; then need_apt+=("docker-registry=$REGISTRY_DEB"); fi
if [ "${#need_apt[@]}" -gt 0 ]; then
  echo "interop setup: installing ${need_apt[*]} with apt-get" >&2
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >&2
fi
command -v go >/dev/null || { echo "interop setup: go is required (Go >= 1.26 with the module proxy)" >&2; exit 1; }

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }
# build <name> <stamp> <module dir> <package>: go build into .cache/bin unless the stamp matches.
build() {
  local name="$1" stamp="$2" module="$3" pkg="$4"
  if [ -x "$bin/$name" ] && [ "$(cat "$bin/.$name.stamp" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  echo "interop setup: building $name ($pkg)" >&2
  rm -f "$cache/$name.build-error"
  # -s -w: no symbol table or DWARF (the tier never debugs these binaries; linking is faster).
  if (cd "$module" && go build -ldflags='-s -w' -o "$bin/$name" "$pkg") 2>"$cache/$name.build-log"; then
    echo "$stamp" >"$bin/.$name.stamp"
  else
    cp "$cache/$name.build-log" "$cache/$name.build-error"
    echo "interop setup: $name did not build (see $cache/$name.build-error)" >&2
    return 1
  fi
}

# Two build lanes run side by side: on 2 cores one `go build` leaves a core idle while it
# links or waits on the module proxy. Lane A: the gRPC/SPIFFE peers; lane B: the deployment
# tools and SeaweedFS. A lane that fails makes the setup fail (SPIRE and SeaweedFS excepted,
# as below); each tool's log is in .cache/<name>.build-log.
lane_peers() {
  # Two modules: go/ (grpcurl, the go-spiffe v2.9.0 harness) and spire/ (SPIRE with its own
  # dependency versions: go-spiffe v2.9.0's Workload API has a method SPIRE v1.13.3 lacks).
  tools="$(stamp_of "$here/go/go.mod" "$here/go/go.sum")"
  harness="$(stamp_of "$here/go/go.mod" "$here/go/go.sum" "$here"/go/harness/*.go)"
  spire="$(stamp_of "$here/spire/go.mod" "$here/spire/go.sum")"
  (cd "$here/go" && go mod download) >&2
  (cd "$here/spire" && go mod download) >&2
  build grpcurl "$tools" "$here/go" github.com/fullstorydev/grpcurl/cmd/grpcurl
  build parley-interop "$harness" "$here/go" ./harness
  # oras (the registry specs): its own module, pinned by oras/go.mod and go.sum.
  oras="$(stamp_of "$here/oras/go.mod" "$here/oras/go.sum")"
  (cd "$here/oras" && go mod download) >&2
  build oras "$oras" "$here/oras" oras.land/oras/cmd/oras
  # The OCI distribution-spec conformance suite and the mTLS bridge it reaches the registry face
  # through (conformance/mtls-bridge: the suite cannot present a client certificate): one module,
  # the suite pinned by conformance/go.mod and go.sum. The suite is a main package (its go test
  # entry point is deprecated upstream), so plain go build.
  conformance="$(stamp_of "$here/conformance/go.mod" "$here/conformance/go.sum")"
  bridge="$(stamp_of "$here/conformance/go.mod" "$here/conformance/go.sum" "$here"/conformance/mtls-bridge/*.go)"
  (cd "$here/conformance" && go mod download) >&2
  build oci-conformance "$conformance" "$here/conformance" github.com/opencontainers/distribution-spec/conformance
  build mtls-bridge "$bridge" "$here/conformance" ./mtls-bridge
  # SPIRE is long to build on 2 cores; a failure is recorded and the SPIRE specs report it.
  build spire-server "$spire" "$here/spire" github.com/spiffe/spire/cmd/spire-server || true
  build spire-agent "$spire" "$here/spire" github.com/spiffe/spire/cmd/spire-agent || true
}
lane_deploy() {
  # The deployment tier's tools, each its own module (their Kubernetes libraries differ):
  # helm for lint/template of deploy/helm/parley, kubectl-validate (with the Kubernetes API
  # schemas it embeds) for the rendered objects.
  helm="$(stamp_of "$here/deploy/helm/go.mod" "$here/deploy/helm/go.sum")"
  validate="$(stamp_of "$here/deploy/validate/go.mod" "$here/deploy/validate/go.sum")"
  (cd "$here/deploy/helm" && go mod download) >&2
  (cd "$here/deploy/validate" && go mod download) >&2
  build helm "$helm" "$here/deploy/helm" helm.sh/helm/v4/cmd/helm
  build kubectl-validate "$validate" "$here/deploy/validate" sigs.k8s.io/kubectl-validate
  # No `docker compose` plugin on these machines: compose-config loads docker-compose.yml with
  # compose-go, the loader Docker Compose itself uses.
  composecfg="$(stamp_of "$here/deploy/compose/go.mod" "$here/deploy/compose/go.sum" "$here/deploy/compose/main.go")"
  (cd "$here/deploy/compose" && go mod download) >&2
  build compose-config "$composecfg" "$here/deploy/compose" .
  # SeaweedFS (S3-compatible object store for the store's s3 payload backend), pinned in seaweedfs/go.mod.
  seaweedfs="$(stamp_of "$here/seaweedfs/go.mod" "$here/seaweedfs/go.sum")"
  (cd "$here/seaweedfs" && go mod download) >&2
  build weed "$seaweedfs" "$here/seaweedfs" github.com/seaweedfs/seaweedfs/weed || true
}
lane_peers & peers=$!
lane_deploy & deploy=$!
status=0
wait "$peers" || status=$?
wait "$deploy" || status=$?
[ "$status" -eq 0 ] || { echo "interop setup: a build lane failed" >&2; exit "$status"; }

req="$here/python/requirements.txt"
venv="$cache/venv"
if [ "$(cat "$venv/.stamp" 2>/dev/null)" != "$(stamp_of "$req")" ]; then
  echo "interop setup: installing $req into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
  stamp_of "$req" >"$venv/.stamp"
fi
