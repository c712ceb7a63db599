package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	restclient "k8s.io/client-go/rest"
	kubeapiservertesting "k8s.io/kubernetes/cmd/kube-apiserver/app/testing"
	"k8s.io/kubernetes/test/utils/ktesting"
)

// server is a running etcd + kube-apiserver pair.
type server struct {
	restConfig   *restclient.Config // admin (static token) config against internalAddr
	internalAddr string             // host:port the apiserver listens on (a free loopback port)
	token        string             // static bearer token of user "admin" in group system:masters
	caPEM        []byte             // PEM of the serving certificate chain (trust anchor for clients)
	closers      []func()
}

// Close stops the API server, then etcd, and removes their temporary directories (reverse start order).
func (s *server) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// authOptions is how refkube authenticates and authorizes (kube-apiserver flags of the same names).
type authOptions struct {
	authorizationMode string // --authorization-mode (RBAC; AlwaysAllow is kube-apiserver's default)
	anonymousAuth     bool   // --anonymous-auth: false means a request without credentials is a 401
	extraTokens       string // file of extra --token-auth-file lines (users beside admin), "" for none
	auditLogPath      string // --audit-log-path with a Metadata-level policy for every request, "" for none
}

// auditPolicy records every request at Metadata level: who (user, impersonatedUser), what
// (verb, objectRef), the response code (k8s.io/apiserver pkg/apis/audit/v1 Policy).
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
`

// startServer starts embedded etcd and kube-apiserver; the caller must Close the result.
// The apiserver runs with the authorization mode and anonymous setting of auth and a static
// token file (admin in system:masters plus auth.extraTokens' lines), with the flags Kubernetes'
// integration framework uses for a controller-less control plane
// (test/integration/framework/controlplane_utils.go DefaultTestServerFlags). TokenReview,
// SubjectAccessReview (and its self/local forms) and impersonation are built into kube-apiserver
// and on by default (authentication.k8s.io/v1 and authorization.k8s.io/v1 are GA groups;
// impersonation is the WithImpersonation filter of k8s.io/apiserver pkg/server/config.go
// DefaultBuildHandlerChain); with RBAC they are authorized like anything else.
func startServer(ctx context.Context, auth authOptions) (*server, error) {
	s := &server{}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()

	dir, err := os.MkdirTemp("", "refkube-")
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { _ = os.RemoveAll(dir) })

	etcdURL, closeEtcd, err := startEtcd(filepath.Join(dir, "etcd"))
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, closeEtcd)

	s.token, err = randomToken()
	if err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(dir, "tokens.csv")
	// token,user,uid,"group1,group2" — format of --token-auth-file (kubernetes.io/docs/reference/access-authn-authz/authentication/#static-token-file)
	line := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n", s.token)
	if auth.extraTokens != "" {
		extra, err := os.ReadFile(auth.extraTokens)
		if err != nil {
			return nil, fmt.Errorf("--token-auth-file: %w", err)
		}
		line += string(extra)
		if len(extra) > 0 && extra[len(extra)-1] != '\n' {
			line += "\n"
		}
	}
	if err := os.WriteFile(tokenFile, []byte(line), 0o600); err != nil {
		return nil, err
	}

	storage := storagebackend.NewDefaultConfig("/registry", nil)
	storage.Transport.ServerList = []string{etcdURL}

	tb := newTB()
	s.closers = append(s.closers, tb.runCleanups)
	tCtx := ktesting.InitCtx(ctx, tb)
	flags := []string{
		"--token-auth-file=" + tokenFile,
		"--authorization-mode=" + auth.authorizationMode,
		fmt.Sprintf("--anonymous-auth=%t", auth.anonymousAuth),
		"--endpoint-reconciler-type=none",
		"--disable-admission-plugins=ServiceAccount",
	}
	if auth.auditLogPath != "" {
		policy := filepath.Join(dir, "audit-policy.yaml")
		if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
			return nil, err
		}
		flags = append(flags, "--audit-policy-file="+policy, "--audit-log-path="+auth.auditLogPath, "--audit-log-mode=blocking")
	}
	opts := kubeapiservertesting.NewDefaultTestServerOptions()
	opts.DisableInvariantChecks = true
	ts, err := kubeapiservertesting.StartTestServer(tCtx, opts, flags, storage)
	if err != nil {
		return nil, fmt.Errorf("start kube-apiserver: %w", err)
	}
	s.closers = append(s.closers, ts.TearDownFn)

	u, err := url.Parse(ts.ClientConfig.Host)
	if err != nil {
		return nil, err
	}
	s.internalAddr = u.Host
	if s.caPEM, err = servingChain(s.internalAddr); err != nil {
		return nil, err
	}
	s.restConfig = &restclient.Config{
		Host:            ts.ClientConfig.Host,
		BearerToken:     s.token,
		TLSClientConfig: restclient.TLSClientConfig{CAData: s.caPEM},
		QPS:             1000,
		Burst:           1000,
	}
	ok = true
	return s, nil
}

// startEtcd starts a single-member embedded etcd with its data in dir and client/peer
// listeners on free loopback ports; it returns the client URL and a stop function.
func startEtcd(dir string) (string, func(), error) {
	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.LogLevel = "error"
	cfg.UnsafeNoFsync = true // throwaway data: fsync only costs time
	clientURL, err := freeURL()
	if err != nil {
		return "", nil, err
	}
	peerURL, err := freeURL()
	if err != nil {
		return "", nil, err
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*clientURL}, []url.URL{*clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peerURL}, []url.URL{*peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return "", nil, fmt.Errorf("start etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return "", nil, fmt.Errorf("etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return "", nil, fmt.Errorf("etcd not ready after 60s")
	}
	return clientURL.String(), e.Close, nil
}

// freeURL returns http://127.0.0.1:PORT for a port that was free a moment ago.
func freeURL() (*url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return url.Parse("http://" + l.Addr().String())
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// servingChain returns the PEM of the certificate chain the server presents on addr; its
// last element is the self-signed CA the test harness generated, which clients then trust.
func servingChain(addr string) ([]byte, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "127.0.0.1"}) //nolint:gosec // only to read the chain
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var out []byte
	for _, c := range conn.ConnectionState().PeerCertificates {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out, nil
}
