package main

import (
	"context"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"github.com/ray-project/kuberay/ray-operator/controllers/ray/utils"
	"github.com/ray-project/kuberay/ray-operator/controllers/ray/utils/dashboardclient"
	utiltypes "github.com/ray-project/kuberay/ray-operator/controllers/ray/utils/types"
)

// jobTimeline is how every fake Ray job runs: PENDING for pending, then RUNNING for running, then end.
type jobTimeline struct {
	pending, running time.Duration
	end              rayv1.JobStatus
}

// fakeDashboards holds the Ray jobs of every (fake) Ray head, keyed by job (submission) id.
// A job exists from the first time the operator asks about it or submits it: in K8sJobMode the
// submitter Job (`ray job submit --submission-id <status.jobId>`) would submit it, but no Pod runs.
type fakeDashboards struct {
	timeline jobTimeline
	mu       sync.Mutex
	started  map[string]time.Time
	outcome  map[string]rayv1.JobStatus
}

// outcomeAnnotation scripts a job's end, as fakekube's simulation reads it
// (fakekube/_controllers/kuberay/rayjobs_model.py OUTCOME_KEY); the operator copies a RayJob's
// annotations to its RayCluster (constructRayClusterForRayJob), where the client provider sees it.
const outcomeAnnotation = "fakekube.kuberay.io/simulate-outcome"

func newFakeDashboards(t jobTimeline) *fakeDashboards {
	return &fakeDashboards{timeline: t, started: map[string]time.Time{}, outcome: map[string]rayv1.JobStatus{}}
}

// status returns the Ray job's status now, creating the job on first sight (ending in end, or
// the timeline's end when end is empty).
func (d *fakeDashboards) status(jobID string, end rayv1.JobStatus) (rayv1.JobStatus, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t0, ok := d.started[jobID]
	if !ok {
		t0 = time.Now()
		d.started[jobID] = t0
		if end == "" {
			end = d.timeline.end
		}
		d.outcome[jobID] = end
	}
	age := time.Since(t0)
	switch {
	case age < d.timeline.pending:
		return rayv1.JobStatusPending, t0
	case age < d.timeline.pending+d.timeline.running:
		return rayv1.JobStatusRunning, t0
	default:
		return d.outcome[jobID], t0
	}
}

// known reports whether a job id was already seen, and if so its status and when it ends.
func (d *fakeDashboards) known(jobID string) (rayv1.JobStatus, time.Time, bool) {
	d.mu.Lock()
	_, ok := d.started[jobID]
	d.mu.Unlock()
	if !ok {
		return "", time.Time{}, false
	}
	s, t0 := d.status(jobID, "")
	return s, t0.Add(d.timeline.pending + d.timeline.running), true
}

// fakeDashboardClient answers the Jobs API calls the RayJob controller makes; the Serve calls come
// from utils.FakeRayDashboardClient (ray-operator/controllers/ray/utils/fake_serve_httpclient.go).
type fakeDashboardClient struct {
	utils.FakeRayDashboardClient
	d   *fakeDashboards
	end rayv1.JobStatus // from the RayCluster's outcomeAnnotation; empty: the timeline's
}

var _ dashboardclient.RayDashboardClientInterface = (*fakeDashboardClient)(nil)

func (c *fakeDashboardClient) info(jobID string) *utiltypes.RayJobInfo {
	s, t0 := c.d.status(jobID, c.end)
	info := &utiltypes.RayJobInfo{JobStatus: s, JobId: jobID, SubmissionId: jobID, Entrypoint: "fake"}
	if s != rayv1.JobStatusPending {
		info.StartTime = uint64(t0.Add(c.d.timeline.pending).UnixMilli())
	}
	if rayv1.IsJobTerminal(s) {
		info.EndTime = uint64(t0.Add(c.d.timeline.pending + c.d.timeline.running).UnixMilli())
		// Ray's job manager messages (ray/dashboard/modules/job/job_manager.py).
		info.Message = "Job finished successfully."
		if s == rayv1.JobStatusFailed {
			info.Message = "Job entrypoint command failed with exit code 1"
		}
	}
	return info
}

// GetJobInfo reports the job's status on the timeline (ray dashboard GET /api/jobs/{id}).
func (c *fakeDashboardClient) GetJobInfo(_ context.Context, jobID string) (*utiltypes.RayJobInfo, error) {
	return c.info(jobID), nil
}

// ListJobs lists every job seen so far.
func (c *fakeDashboardClient) ListJobs(_ context.Context) (*[]utiltypes.RayJobInfo, error) {
	c.d.mu.Lock()
	ids := make([]string, 0, len(c.d.started))
	for id := range c.d.started {
		ids = append(ids, id)
	}
	c.d.mu.Unlock()
	out := make([]utiltypes.RayJobInfo, 0, len(ids))
	for _, id := range ids {
		out = append(out, *c.info(id))
	}
	return &out, nil
}

// SubmitJob starts the job's timeline (HTTPMode submission).
func (c *fakeDashboardClient) SubmitJob(_ context.Context, rayJob *rayv1.RayJob) (string, error) {
	c.d.status(rayJob.Status.JobId, c.end)
	return rayJob.Status.JobId, nil
}

// clientProvider is a utils.ClientProvider handing out the fake dashboard, as TestClientProvider
// in ray-operator/controllers/ray/suite_test.go does.
type clientProvider struct{ dashboards *fakeDashboards }

func (p clientProvider) GetDashboardClient(_ manager.Manager) func(*rayv1.RayCluster, string) (dashboardclient.RayDashboardClientInterface, error) {
	return func(cluster *rayv1.RayCluster, _ string) (dashboardclient.RayDashboardClientInterface, error) {
		c := &fakeDashboardClient{d: p.dashboards}
		if cluster != nil {
			switch v := rayv1.JobStatus(cluster.Annotations[outcomeAnnotation]); v {
			case rayv1.JobStatusSucceeded, rayv1.JobStatusFailed:
				c.end = v
			}
		}
		return c, nil
	}
}

func (p clientProvider) GetHttpProxyClient(_ manager.Manager) func(string, string, string, int) utils.RayHttpProxyClientInterface {
	return func(string, string, string, int) utils.RayHttpProxyClientInterface {
		return &utils.FakeRayHttpProxyClient{}
	}
}
