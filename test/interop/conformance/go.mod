// The OCI distribution-spec conformance suite and mtls-bridge (test/interop/setup.sh builds both).
// The suite is its own module, github.com/opencontainers/distribution-spec/conformance, and has no
// release tag of its own (the v1.1.x tags are the repository root's, never conformance/v1.1.x): the
// module proxy serves two pseudo-versions of it, f2182352d4cc (2023-11, before v1.1.0) and
// 97274622c111 (2026-08-31, the redesigned suite, which tests a chosen spec version: OCI_VERSION=1.1).
// Pinned: the latter.
module parley.local/interop/conformance

go 1.26.8

tool github.com/opencontainers/distribution-spec/conformance

require (
	github.com/goccy/go-yaml v1.18.0 // indirect
	github.com/opencontainers/distribution-spec/conformance v0.0.0-20260831232431-97274622c111 // indirect
	github.com/opencontainers/distribution-spec/specs-go v0.0.0-20240926185104-8376368dd8aa // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)
