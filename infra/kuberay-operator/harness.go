package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"github.com/ray-project/kuberay/ray-operator/controllers/ray/utils"
)

// setupHarness adds the two stand-in controllers (there is no kubelet, scheduler or job
// controller beside refkube).
func setupHarness(mgr manager.Manager, podReadyDelay, submitterExit time.Duration, d *fakeDashboards) error {
	if err := ctrl.NewControllerManagedBy(mgr).Named("harness-pods").For(&corev1.Pod{}).
		Complete(&podMarker{c: mgr.GetClient(), delay: podReadyDelay}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).Named("harness-jobs").For(&batchv1.Job{}).
		Complete(&jobMarker{c: mgr.GetClient(), d: d, exitDelay: submitterExit})
}

// podMarker marks Pods created by the operator Running and Ready delay after their creation,
// with a podIP and startTime, as updateHeadPodToRunningAndReady in KubeRay's envtest helpers
// (ray-operator/controllers/ray/suite_helpers_test.go) sets phase and the Ready condition.
type podMarker struct {
	c     client.Client
	delay time.Duration
}

func (m *podMarker) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var pod corev1.Pod
	if err := m.c.Get(ctx, req.NamespacedName, &pod); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if pod.Labels[utils.KubernetesCreatedByLabelKey] != utils.ComponentName || pod.DeletionTimestamp != nil ||
		pod.Status.Phase == corev1.PodRunning {
		return ctrl.Result{}, nil
	}
	now := metav1.Now()
	if wait := time.Until(pod.CreationTimestamp.Add(m.delay)); wait > 0 {
		if len(pod.Status.ContainerStatuses) > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
		// What the scheduler and kubelet report first: bound, containers being created
		// (kubelet's ContainerCreating waiting reason, pkg/kubelet/kubelet_pods.go).
		pod.Status.Conditions = []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", LastTransitionTime: now},
		}
		pod.Status.ContainerStatuses = containerStatuses(&pod, false)
		if err := m.c.Status().Update(ctx, &pod); err != nil && !apierrors.IsConflict(err) {
			return ctrl.Result{}, err
		}
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(pod.UID))
	pod.Status.Phase = corev1.PodRunning
	pod.Status.PodIP = fmt.Sprintf("10.244.%d.%d", h.Sum32()%250, 2+(h.Sum32()>>8)%250)
	pod.Status.PodIPs = []corev1.PodIP{{IP: pod.Status.PodIP}}
	pod.Status.HostIP = "10.0.0.1"
	pod.Status.StartTime = &now
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	pod.Status.ContainerStatuses = containerStatuses(&pod, true)
	if err := m.c.Status().Update(ctx, &pod); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// jobMarker plays the batch Job controller plus the submitter Pod for a RayJob's submitter Job:
// once the Ray job (status.jobId of the owning RayJob) is terminal on the fake dashboard, the Job
// gets the status the Job controller gives a Job whose one Pod exited 0 (SuccessCriteriaMet and
// Complete, succeeded 1) or non-zero past its backoffLimit (FailureTarget and Failed) —
// pkg/controller/job/job_controller.go; `ray job submit` exits non-zero when the job FAILED.
type jobMarker struct {
	c         client.Client
	d         *fakeDashboards
	exitDelay time.Duration
}

func (m *jobMarker) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var job batchv1.Job
	if err := m.c.Get(ctx, req.NamespacedName, &job); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if _, done := utils.IsJobFinished(&job); done || job.DeletionTimestamp != nil {
		return ctrl.Result{}, nil
	}
	owner := metav1.GetControllerOf(&job)
	if owner == nil || owner.Kind != "RayJob" {
		return ctrl.Result{}, nil
	}
	var rayJob rayv1.RayJob
	if err := m.c.Get(ctx, client.ObjectKey{Namespace: job.Namespace, Name: owner.Name}, &rayJob); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	now := metav1.Now()
	if job.Status.StartTime == nil {
		job.Status.StartTime = &now
		job.Status.Active = 1
		if err := m.c.Status().Update(ctx, &job); err != nil {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{RequeueAfter: 200 * time.Millisecond}, nil
	}
	s, endedAt, ok := m.d.known(rayJob.Status.JobId)
	if !ok || !rayv1.IsJobTerminal(s) {
		return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
	}
	if wait := time.Until(endedAt.Add(m.exitDelay)); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	job.Status.Active = 0
	job.Status.Ready = ptr(int32(0))
	if s == rayv1.JobStatusSucceeded {
		job.Status.Succeeded = 1
		job.Status.CompletionTime = &now
		job.Status.Conditions = append(job.Status.Conditions,
			batchv1.JobCondition{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, Message: "Reached expected number of succeeded pods", LastProbeTime: now, LastTransitionTime: now},
			batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonCompletionsReached, Message: "Reached expected number of succeeded pods", LastProbeTime: now, LastTransitionTime: now})
	} else {
		job.Status.Failed = 1
		job.Status.Conditions = append(job.Status.Conditions,
			batchv1.JobCondition{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, Message: "Job has reached the specified backoff limit", LastProbeTime: now, LastTransitionTime: now},
			batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: batchv1.JobReasonBackoffLimitExceeded, Message: "Job has reached the specified backoff limit", LastProbeTime: now, LastTransitionTime: now})
	}
	if err := m.c.Status().Update(ctx, &job); err != nil {
		if apierrors.IsConflict(err) {
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

func ptr[T any](v T) *T { return &v }

// containerStatuses: every container waiting (ContainerCreating) or running and ready.
func containerStatuses(pod *corev1.Pod, running bool) []corev1.ContainerStatus {
	out := make([]corev1.ContainerStatus, 0, len(pod.Spec.Containers))
	for _, c := range pod.Spec.Containers {
		st := corev1.ContainerStatus{Name: c.Name, Image: c.Image, Ready: running}
		if running {
			st.State.Running = &corev1.ContainerStateRunning{StartedAt: metav1.Now()}
			st.Started = ptr(true)
		} else {
			st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
			st.Started = ptr(false)
		}
		out = append(out, st)
	}
	return out
}
