package main

import (
	"fmt"
	"os"
	"sync"
)

// cliTB satisfies ktesting.TB (k8s.io/kubernetes/test/utils/ktesting) outside `go test`, so the
// kube-apiserver test harness can run in a long-lived command: logs go to stderr, fatal errors
// exit the process, cleanups run when the server is closed.
type cliTB struct {
	mu       sync.Mutex
	cleanups []func()
	failed   bool
}

func newTB() *cliTB { return &cliTB{} }

func (t *cliTB) runCleanups() {
	t.mu.Lock()
	cs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

func (t *cliTB) Attr(key, value string)    {}
func (t *cliTB) Chdir(dir string)          { _ = os.Chdir(dir) }
func (t *cliTB) Cleanup(f func())          { t.mu.Lock(); t.cleanups = append(t.cleanups, f); t.mu.Unlock() }
func (t *cliTB) Error(args ...any)         { t.Log(args...); t.Fail() }
func (t *cliTB) Errorf(f string, a ...any) { t.Logf(f, a...); t.Fail() }
func (t *cliTB) Fail()                     { t.mu.Lock(); t.failed = true; t.mu.Unlock() }
func (t *cliTB) FailNow()                  { fmt.Fprintln(os.Stderr, "refkube: fatal"); os.Exit(1) }
func (t *cliTB) Failed() bool              { t.mu.Lock(); defer t.mu.Unlock(); return t.failed }
func (t *cliTB) Fatal(args ...any)         { t.Log(args...); t.FailNow() }
func (t *cliTB) Fatalf(f string, a ...any) { t.Logf(f, a...); t.FailNow() }
func (t *cliTB) Helper()                   {}
func (t *cliTB) Log(args ...any)           { fmt.Fprintln(os.Stderr, args...) }
func (t *cliTB) Logf(f string, a ...any)   { fmt.Fprintf(os.Stderr, f+"\n", a...) }
func (t *cliTB) Name() string              { return "refkube" }
func (t *cliTB) Setenv(key, value string)  { _ = os.Setenv(key, value) }
func (t *cliTB) Skip(args ...any)          { t.Fatal(args...) }
func (t *cliTB) Skipf(f string, a ...any)  { t.Fatalf(f, a...) }
func (t *cliTB) SkipNow()                  { t.FailNow() }
func (t *cliTB) Skipped() bool             { return false }
func (t *cliTB) TempDir() string {
	d, err := os.MkdirTemp("", "refkube-tb-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}
