// Command kuberay-operator runs the real KubeRay operator's RayCluster and RayJob reconcilers
// (github.com/ray-project/kuberay/ray-operator v1.5.0, imported as a Go module) against a
// Kubernetes API server (refkube in the contract suite), with two stand-ins for what a real
// cluster would provide:
//
//   - a kubelet/job-controller harness (harness.go) that marks the operator's Pods Running and
//     Ready with a podIP after --pod-ready-delay, as KubeRay's envtest suite does by hand
//     (ray-operator/controllers/ray/suite_helpers_test.go updateHeadPodToRunningAndReady), and
//     marks a RayJob's submitter batch Job Complete once its Ray job is terminal;
//   - a fake Ray dashboard (dashboard.go), injected through utils.ClientProvider exactly as
//     ray-operator/controllers/ray/suite_test.go TestClientProvider does, whose jobs go
//     PENDING → RUNNING → SUCCEEDED (or FAILED) after configurable delays.
//
// The manager is set up as ray-operator's main.go sets it up (same scheme, same cache selector on
// batch Jobs, same reconciler constructors), minus metrics, leader election, webhooks and the
// RayService reconciler. Prints "kuberay-operator: started" on stdout once the caches are synced.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	configapi "github.com/ray-project/kuberay/ray-operator/apis/config/v1alpha1"
	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"github.com/ray-project/kuberay/ray-operator/controllers/ray"
	"github.com/ray-project/kuberay/ray-operator/controllers/ray/batchscheduler"
	"github.com/ray-project/kuberay/ray-operator/controllers/ray/utils"
)

var scheme = runtime.NewScheme()

func init() {
	// As ray-operator/main.go init(), minus OpenShift routes (IsOpenShift is false here).
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(rayv1.AddToScheme(scheme))
	utilruntime.Must(batchv1.AddToScheme(scheme))
	utilruntime.Must(configapi.AddToScheme(scheme))
}

func main() {
	podReadyDelay := flag.Duration("pod-ready-delay", time.Second, "how long a Pod stays Pending before the harness marks it Running and Ready")
	jobPending := flag.Duration("job-pending", time.Second, "how long a Ray job reports PENDING (from the first time the operator asks)")
	jobRunning := flag.Duration("job-running", 2*time.Second, "how long a Ray job then reports RUNNING before it ends")
	jobEnd := flag.String("job-end", "SUCCEEDED", "terminal Ray job status: SUCCEEDED or FAILED")
	submitterExit := flag.Duration("submitter-exit-delay", 500*time.Millisecond, "how long after its Ray job ended a submitter Job is marked finished")
	verbose := flag.Bool("v", false, "operator logs at debug level")
	flag.Parse() // also parses controller-runtime's --kubeconfig flag
	ctrl.SetLogger(zap.New(zap.UseDevMode(*verbose), zap.WriteTo(os.Stderr)))
	if *jobEnd != string(rayv1.JobStatusSucceeded) && *jobEnd != string(rayv1.JobStatusFailed) {
		fmt.Fprintln(os.Stderr, "kuberay-operator: --job-end must be SUCCEEDED or FAILED")
		os.Exit(2)
	}
	if err := run(*podReadyDelay, *submitterExit, jobTimeline{pending: *jobPending, running: *jobRunning, end: rayv1.JobStatus(*jobEnd)}); err != nil {
		fmt.Fprintln(os.Stderr, "kuberay-operator:", err)
		os.Exit(1)
	}
}

func run(podReadyDelay, submitterExit time.Duration, timeline jobTimeline) error {
	// Same cache selector as ray-operator/main.go cacheSelectors(): only Jobs the operator created.
	req, err := labels.NewRequirement(utils.KubernetesCreatedByLabelKey, selection.Equals, []string{utils.ComponentName})
	if err != nil {
		return err
	}
	options := ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&batchv1.Job{}: {Label: labels.NewSelector().Add(*req)},
		}},
	}
	restConfig := ctrl.GetConfigOrDie()
	restConfig.UserAgent = "kuberay-operator/" + utils.KUBERAY_VERSION
	mgr, err := ctrl.NewManager(restConfig, options)
	if err != nil {
		return fmt.Errorf("new manager: %w", err)
	}
	ctx := ctrl.SetupSignalHandler()

	config := configapi.Configuration{}
	schedulers, err := batchscheduler.NewSchedulerManager(ctx, config, restConfig, mgr.GetClient())
	if err != nil {
		return fmt.Errorf("batch scheduler manager: %w", err)
	}
	schedulers.AddToScheme(mgr.GetScheme())

	clusterOptions := ray.RayClusterReconcilerOptions{BatchSchedulerManager: schedulers}
	if err := ray.NewReconciler(ctx, mgr, clusterOptions).SetupWithManager(mgr, 1); err != nil {
		return fmt.Errorf("RayCluster controller: %w", err)
	}
	dashboards := newFakeDashboards(timeline)
	jobOptions := ray.RayJobReconcilerOptions{BatchSchedulerManager: schedulers}
	if err := ray.NewRayJobReconciler(ctx, mgr, jobOptions, clientProvider{dashboards: dashboards}).SetupWithManager(mgr, 1); err != nil {
		return fmt.Errorf("RayJob controller: %w", err)
	}
	if err := setupHarness(mgr, podReadyDelay, submitterExit, dashboards); err != nil {
		return fmt.Errorf("harness: %w", err)
	}
	if err := mgr.Add(manager.RunnableFunc(func(context.Context) error {
		fmt.Printf("kuberay-operator: started version=%s pod-ready-delay=%s job=%s+%s->%s\n",
			utils.KUBERAY_VERSION, podReadyDelay, timeline.pending, timeline.running, timeline.end)
		return nil
	})); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
