// Command refkube runs a real Kubernetes API server on loopback for contract tests.
//
// It starts an embedded etcd (go.etcd.io/etcd/server/v3/embed, data in a temporary
// directory) and the full kube-apiserver through k8s.io/kubernetes/cmd/kube-apiserver/app/testing
// (the same harness Kubernetes' own integration tests use), installs the CustomResourceDefinitions
// named by --crd, waits until each is Established, writes a kubeconfig holding a static bearer
// token (--token-auth-file, group system:masters) and the serving CA, and prints the URL.
//
// Usage:
//
//	refkube --crd FILE_OR_DIR [--crd ...] --port PORT --kubeconfig OUT [--proxy-port PORT]
//	        [--token-auth-file FILE] [--authorization-mode RBAC] [--anonymous-auth=false]
//	        [--audit-log-path FILE]
//
// --token-auth-file adds users (kube-apiserver's CSV: token,user,uid,"group1,group2") beside the
// generated admin (system:masters). Authorization is RBAC unless --authorization-mode says
// otherwise; anonymous requests are refused with 401 unless --anonymous-auth=true.
// --audit-log-path writes kube-apiserver's audit log (JSON lines, audit.k8s.io/v1 Events at
// Metadata level: user, impersonatedUser, verb, objectRef, responseStatus) for every request.
//
// stdout carries exactly one line per milestone, for scripts:
//
//	refkube: url=https://127.0.0.1:PORT kubeconfig=OUT started_in=1.234s
//	refkube: proxy=http://127.0.0.1:PORT            (only with --proxy-port)
//
// It runs until SIGINT/SIGTERM, then stops the API server and etcd and removes its data.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"k8s.io/klog/v2"
)

// stringList is a repeatable string flag (--crd a --crd b).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	var crds stringList
	if flag.Lookup("v") == nil { // ktesting reads -v/-vmodule from flag.CommandLine; an import may have registered them
		klog.InitFlags(nil)
	}
	flag.Var(&crds, "crd", "CRD manifest file or directory of *.yaml/*.yml/*.json (repeatable)")
	port := flag.Int("port", 0, "loopback TLS port to serve the API on (0 = pick a free one)")
	proxyPort := flag.Int("proxy-port", -1, "also serve plain HTTP on this port, authenticated as the admin like `kubectl proxy` (-1 = off, 0 = free port)")
	kubeconfig := flag.String("kubeconfig", "", "write a kubeconfig for the admin credentials to this path (required)")
	var auth authOptions
	flag.StringVar(&auth.extraTokens, "token-auth-file", "", "extra static token users (kube-apiserver --token-auth-file CSV), beside the admin")
	flag.StringVar(&auth.authorizationMode, "authorization-mode", "RBAC", "kube-apiserver --authorization-mode (RBAC, AlwaysAllow, ...)")
	flag.StringVar(&auth.auditLogPath, "audit-log-path", "", "write the audit log (JSON lines, Metadata level) to this file")
	flag.BoolVar(&auth.anonymousAuth, "anonymous-auth", false, "kube-apiserver --anonymous-auth (false: no credentials is a 401)")
	_ = flag.Set("v", "0")
	flag.Parse()
	if *kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "refkube: --kubeconfig is required")
		os.Exit(2)
	}
	if err := run(crds, *port, *proxyPort, *kubeconfig, auth); err != nil {
		fmt.Fprintf(os.Stderr, "refkube: %v\n", err)
		os.Exit(1)
	}
}

func run(crdPaths []string, port, proxyPort int, kubeconfigPath string, auth authOptions) error {
	begin := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	srv, err := startServer(ctx, auth)
	if err != nil {
		return err
	}
	defer srv.Close()

	crds, err := loadCRDs(crdPaths)
	if err != nil {
		return err
	}
	if err := installCRDs(ctx, srv.restConfig, crds, 2*time.Minute); err != nil {
		return err
	}

	front, err := forwardTCP(ctx, port, srv.internalAddr)
	if err != nil {
		return err
	}
	url := "https://" + front
	if err := writeKubeconfig(kubeconfigPath, url, srv.token, srv.caPEM); err != nil {
		return err
	}
	fmt.Printf("refkube: url=%s kubeconfig=%s crds=%d started_in=%.3fs\n",
		url, kubeconfigPath, len(crds), time.Since(begin).Seconds())
	if proxyPort >= 0 {
		paddr, err := serveProxy(ctx, proxyPort, url, srv.token, srv.caPEM)
		if err != nil {
			return err
		}
		fmt.Printf("refkube: proxy=http://%s\n", paddr)
	}
	_ = os.Stdout.Sync()
	<-ctx.Done()
	return nil
}
