#!/usr/bin/env bash
# Compiles the served protos with protoc (from the pinned grpcio-tools of the interop venv)
# into a FileDescriptorSet: proto/descriptor-set.binpb by default, or the path in $1 (the
# interop tier writes a fresh one elsewhere and compares it with the committed file).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="$here/.cache/venv/bin/python"
[ -x "$py" ] || { echo "gen-descriptors: run test/interop/setup.sh first (no venv at $py)" >&2; exit 1; }
out="${1:-$root/proto/descriptor-set.binpb}"
wkt="$("$py" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))')"
cd "$root/proto"
"$py" -m grpc_tools.protoc -I. -I"$wkt" --include_imports --descriptor_set_out="$out" \
  parley/store/v1/store.proto parley/sync/v1/sync.proto grpc/health/v1/health.proto \
  grpc/reflection/v1/reflection.proto grpc/reflection/v1alpha/reflection.proto
