// Command helm is Helm v4 (helm.sh/helm/v4, the version pinned in go.mod) built from its Go module,
// so the chart tests lint and render infra/helm/kuberay-apiserver with the real Helm and not a
// look-alike. It is Helm's own cmd/helm main: the root command from helm.sh/helm/v4/pkg/cmd.
//
// Built by build.sh (cached by a source stamp, niced); the binary lands in bin/helm (gitignored).
package main

import (
	"errors"
	"log/slog"
	"os"

	helmcmd "helm.sh/helm/v4/pkg/cmd"
	"helm.sh/helm/v4/pkg/kube"
)

func main() {
	// managedFields name the manager "helm", as upstream's binary does.
	kube.ManagedFieldsManager = "helm"
	cmd, err := helmcmd.NewRootCmd(os.Stdout, os.Args[1:], helmcmd.SetupLogging)
	if err != nil {
		slog.Warn("command failed", slog.Any("error", err))
		os.Exit(1)
	}
	if err := cmd.Execute(); err != nil {
		var cerr helmcmd.CommandError
		if errors.As(err, &cerr) {
			os.Exit(cerr.ExitCode)
		}
		os.Exit(1)
	}
}
