// Command mtls-bridge lets the OCI distribution-spec conformance suite reach the registry face
// (test code only). The suite's HTTP client has no setting for a client certificate, and the
// registry face admits mutual TLS only; so the bridge listens on 127.0.0.1 for plain HTTP from the
// suite and forwards every request, unchanged, over mutual TLS: it presents the client SVID and
// verifies the gateway's certificate against the trust bundle for the host name it dials. The
// suite's requests and the gateway's answers pass through as they are (status, headers, bodies
// streamed); the bridge decides nothing. It prints one JSON line {"listen":"127.0.0.1:PORT"}
// once it accepts connections, and stops on SIGTERM.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	upstream := flag.String("upstream", "", "the registry face, host:port (the host is verified against its certificate)")
	cert := flag.String("cert", "", "client SVID (PEM)")
	key := flag.String("key", "", "client SVID key (PEM)")
	bundle := flag.String("bundle", "", "trust bundle that verifies the gateway (PEM)")
	flag.Parse()
	if err := run(*upstream, *cert, *key, *bundle); err != nil {
		b, _ := json.Marshal(map[string]string{"error": err.Error()})
		fmt.Println(string(b))
		os.Exit(1)
	}
}

func run(upstream, certFile, keyFile, bundleFile string) error {
	if upstream == "" || certFile == "" || keyFile == "" || bundleFile == "" {
		return errors.New("usage: mtls-bridge -upstream HOST:PORT -cert svid.pem -key svid.key -bundle bundle.pem")
	}
	svid, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("client SVID: %w", err)
	}
	pem, err := os.ReadFile(bundleFile)
	if err != nil {
		return fmt.Errorf("trust bundle: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("trust bundle %s: no certificate", bundleFile)
	}
	host, _, err := net.SplitHostPort(upstream)
	if err != nil {
		return fmt.Errorf("upstream %q: %w", upstream, err)
	}
	target := &url.URL{Scheme: "https", Host: upstream}
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{
			Certificates: []tls.Certificate{svid},
			RootCAs:      roots,
			ServerName:   host,
			MinVersion:   tls.VersionTLS12,
		},
		ForceAttemptHTTP2: false,
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = upstream
		},
		Transport:     transport,
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			// Only the bridge's own failure to reach the gateway lands here; the suite sees it as a 502.
			fmt.Fprintf(os.Stderr, "mtls-bridge: upstream: %v\n", err)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	server := &http.Server{Handler: proxy}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-stop
		_ = server.Close()
	}()
	b, _ := json.Marshal(map[string]string{"listen": ln.Addr().String()})
	fmt.Println(string(b))
	if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
