package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

// forwardTCP listens on 127.0.0.1:port (0 = free port) and splices every connection to target,
// byte for byte, so TLS is end to end with the real apiserver (whose test harness always picks
// its own port). It returns the listening host:port; it stops when ctx is done.
func forwardTCP(ctx context.Context, port int, target string) (string, error) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return "", err
	}
	go func() { <-ctx.Done(); _ = l.Close() }()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go splice(c, target)
		}
	}()
	return l.Addr().String(), nil
}

func splice(c net.Conn, target string) {
	defer c.Close()
	u, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); closeWrite(u); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); closeWrite(c); done <- struct{}{} }()
	<-done
	<-done
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

// serveProxy serves plain HTTP on 127.0.0.1:port and forwards every request to upstream with
// the admin bearer token, streaming responses (watches) unbuffered — what `kubectl proxy` does.
func serveProxy(ctx context.Context, port int, upstream, token string, caPEM []byte) (string, error) {
	target, err := url.Parse(upstream)
	if err != nil {
		return "", err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		r.Header.Set("Authorization", "Bearer "+token)
	}
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: rp} //nolint:gosec // loopback test server
	go func() { <-ctx.Done(); _ = srv.Close() }()
	go func() { _ = srv.Serve(l) }()
	return l.Addr().String(), nil
}

// writeKubeconfig writes a kubeconfig with one cluster/user/context "refkube": the server URL,
// the serving CA and the static admin token.
func writeKubeconfig(path, server, token string, caPEM []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["refkube"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos["refkube"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["refkube"] = &clientcmdapi.Context{Cluster: "refkube", AuthInfo: "refkube", Namespace: "default"}
	cfg.CurrentContext = "refkube"
	return clientcmd.WriteToFile(*cfg, path)
}
