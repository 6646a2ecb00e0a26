package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/federation"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// runFetchBundle fetches a bundle with federation.FetchBundle over https_spiffe.
func runFetchBundle(args []string) error {
	fs := flag.NewFlagSet("fetch-bundle", flag.ExitOnError)
	url := fs.String("url", "", "bundle endpoint URL")
	tdName := fs.String("td", "", "trust domain of the bundle")
	endpointID := fs.String("endpoint-id", "", "SPIFFE ID the endpoint server must present")
	bundlePath := fs.String("bundle", "", "PEM bundle of the endpoint ID's trust domain")
	fs.Parse(args)
	td, err := spiffeid.TrustDomainFromString(*tdName)
	if err != nil {
		return err
	}
	id, err := spiffeid.FromString(*endpointID)
	if err != nil {
		return err
	}
	auth, err := x509bundle.Load(id.TrustDomain(), *bundlePath)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bundle, err := federation.FetchBundle(ctx, td, *url, federation.WithSPIFFEAuth(auth, id))
	if err != nil {
		return fmt.Errorf("fetch bundle: %w", err)
	}
	seq, _ := bundle.SequenceNumber()
	hint, _ := bundle.RefreshHint()
	emit(map[string]any{"trustDomain": bundle.TrustDomain().String(), "x509Authorities": len(bundle.X509Authorities()), "jwtAuthorities": len(bundle.JWTAuthorities()), "sequence": seq, "refreshHintSeconds": hint.Seconds()})
	return nil
}

// runServeBundle is a partner trust domain in a box: a CA, a workload SVID, and a go-spiffe
// federation.Handler serving the bundle over https_spiffe. SIGUSR1 rotates: a new CA joins
// the bundle (sequence + 1) and a workload SVID from it is written as workload-<n>.pem.
func runServeBundle(args []string) error {
	fs := flag.NewFlagSet("serve-bundle", flag.ExitOnError)
	tdName := fs.String("td", "partner.test", "partner trust domain")
	out := fs.String("out", "", "directory for ca PEMs and workload SVIDs")
	listen := fs.String("listen", "127.0.0.1:0", "address")
	hint := fs.Duration("refresh-hint", 30*time.Second, "refresh hint published")
	fs.Parse(args)
	td, err := spiffeid.TrustDomainFromString(*tdName)
	if err != nil {
		return err
	}
	p := &partner{td: td, out: *out, bundle: spiffebundle.New(td)}
	p.bundle.SetRefreshHint(*hint)
	if err := p.rotate(); err != nil {
		return err
	}
	endpointID := spiffeid.RequireFromPath(td, "/bundle-endpoint")
	server, err := p.ca.issue(endpointID)
	if err != nil {
		return err
	}
	handler, err := federation.NewHandler(td, p)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, TLSConfig: tlsconfig.TLSServerConfig(staticSVID{server}), ReadHeaderTimeout: 5 * time.Second}
	go srv.ServeTLS(ln, "", "")
	emit(map[string]any{"listening": ln.Addr().String(), "endpointId": endpointID.String(), "bundle": filepath.Join(*out, "bundle.pem")})
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	for sig := range signals {
		if sig != syscall.SIGUSR1 {
			break
		}
		if err := p.rotate(); err != nil {
			return err
		}
	}
	return srv.Close()
}

type partner struct {
	mu     sync.Mutex
	td     spiffeid.TrustDomain
	out    string
	bundle *spiffebundle.Bundle
	ca     *testCA
	n      int
}

func (p *partner) GetBundleForTrustDomain(td spiffeid.TrustDomain) (*spiffebundle.Bundle, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bundle.GetBundleForTrustDomain(td)
}

// rotate adds a new CA to the bundle and writes bundle.pem and workload-<n>.pem/.key.
func (p *partner) rotate() error {
	ca, err := newTestCA(p.td)
	if err != nil {
		return err
	}
	workload, err := ca.issue(spiffeid.RequireFromPath(p.td, "/workload"))
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	p.ca = ca
	p.bundle.AddX509Authority(ca.cert)
	p.bundle.SetSequenceNumber(uint64(p.n))
	if err := writeSVID(workload, filepath.Join(p.out, fmt.Sprintf("workload-%d", p.n))); err != nil {
		return err
	}
	pem, err := p.bundle.X509Bundle().Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(p.out, "bundle.pem"), pem, 0o644); err != nil {
		return err
	}
	emit(map[string]any{"rotated": p.n, "workload": filepath.Join(p.out, fmt.Sprintf("workload-%d", p.n))})
	return nil
}

func writeSVID(svid *x509svid.SVID, prefix string) error {
	certs, key, err := svid.Marshal()
	if err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".pem", certs, 0o644); err != nil {
		return err
	}
	return os.WriteFile(prefix+".key", key, 0o600)
}
