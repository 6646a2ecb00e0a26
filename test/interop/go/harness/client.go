package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// runClient dials the gateway with go-spiffe's MTLSClientConfig + AuthorizeID(gateway) and
// runs the steps asked for: health (per service), push, lookup, pull.
func runClient(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	addr := fs.String("addr", "", "gateway host:port")
	gateway := fs.String("gateway-id", "", "SPIFFE ID the gateway must present")
	cert := fs.String("cert", "", "SVID chain PEM (with -key, -bundle)")
	key := fs.String("key", "", "SVID key PEM")
	bundlePath := fs.String("bundle", "", "bundle PEM of the gateway's trust domain")
	socket := fs.String("workload-api", "", "Workload API address (instead of files), e.g. unix:///path")
	descriptors := fs.String("descriptors", "", "FileDescriptorSet of the store proto")
	steps := fs.String("steps", "health,push,lookup,pull", "comma-separated steps")
	payload := fs.String("payload", "hello from go-spiffe", "bytes pushed")
	repeat := fs.Int("repeat", 1, "how many times to run the steps (bounded load)")
	cid := fs.String("cid", "", "record for lookup/pull before any push")
	duration := fs.Duration("duration", 0, "repeat the steps until this much time has passed (at most -repeat times when set)")
	fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	gatewayID, err := spiffeid.FromString(*gateway)
	if err != nil {
		return fmt.Errorf("gateway id: %w", err)
	}
	var svid x509svid.Source
	var bundles x509bundle.Source
	if *socket != "" {
		source, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr(*socket)))
		if err != nil {
			return fmt.Errorf("workload api: %w", err)
		}
		defer source.Close()
		svid, bundles = source, source
	} else {
		s, err := x509svid.Load(*cert, *key)
		if err != nil {
			return fmt.Errorf("svid: %w", err)
		}
		b, err := x509bundle.Load(gatewayID.TrustDomain(), *bundlePath)
		if err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
		svid, bundles = x509svid.Source(staticSVID{s}), b
	}
	tlsConfig := tlsconfig.MTLSClientConfig(svid, bundles, tlsconfig.AuthorizeID(gatewayID))
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsConfig)))
	if err != nil {
		return err
	}
	defer conn.Close()
	store, err := newStoreClient(conn, *descriptors)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(*duration)
	for i := 0; i < *repeat || (*duration > 0 && time.Now().Before(deadline) && i < 1_000_000); i++ {
		if err := runSteps(ctx, conn, store, splitSteps(*steps), []byte(*payload), *cid); err != nil {
			return err
		}
	}
	return nil
}

type staticSVID struct{ svid *x509svid.SVID }

func (s staticSVID) GetX509SVID() (*x509svid.SVID, error) { return s.svid, nil }

func runSteps(ctx context.Context, conn *grpc.ClientConn, store *storeClient, steps []string, payload []byte, cid string) error {
	for _, step := range steps {
		callCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		result, err := runStep(callCtx, conn, store, step, payload, &cid)
		cancel()
		out := map[string]any{"step": step}
		for k, v := range result {
			out[k] = v
		}
		if err != nil {
			st := status.Convert(err)
			out["code"] = st.Code().String()
			out["message"] = st.Message()
		} else {
			out["code"] = "OK"
		}
		emit(out)
	}
	return nil
}

func runStep(ctx context.Context, conn *grpc.ClientConn, store *storeClient, step string, payload []byte, cid *string) (map[string]any, error) {
	switch {
	case strings.HasPrefix(step, "health:"):
		res, err := grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: step[7:]})
		if err != nil {
			return nil, err
		}
		return map[string]any{"status": res.GetStatus().String()}, nil
	case step == "push":
		got, err := store.push(ctx, payload)
		if err == nil {
			*cid = got
		}
		return map[string]any{"cid": got}, err
	case step == "lookup":
		size, err := store.lookup(ctx, *cid)
		return map[string]any{"cid": *cid, "size": size}, err
	case step == "pull":
		body, err := store.pull(ctx, *cid)
		sum := sha256.Sum256(body)
		return map[string]any{"cid": *cid, "bytes": len(body), "sha256": hex.EncodeToString(sum[:]), "same": string(body) == string(payload)}, err
	}
	return nil, fmt.Errorf("unknown step %q", step)
}

func splitSteps(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				if s[start:i] == "health" {
					out = append(out, "health:")
				} else {
					out = append(out, s[start:i])
				}
			}
			start = i + 1
		}
	}
	return out
}

