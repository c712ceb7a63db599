"""The RayService state machine of the KubeRay operator, as plain Python over a
:class:`~fakekube._controllers.kuberay.rayservice_rules.RayServiceWorld`.

One :func:`reconcile` is ``RayServiceReconciler.Reconcile`` (``rayservice_controller.go``,
KubeRay feeaf72) for the blue/green ``NewCluster`` upgrade; see
:mod:`fakekube._controllers.kuberay.rayservice_rules` for what it covers and what it leaves out.
"""

from __future__ import annotations

import copy
import datetime as dt
import random

from fakekube._controllers.kuberay.rayjob_machine import rand5, rfc3339
from fakekube._controllers.kuberay.rayservice_rules import (
    DEFAULT_REQUEUE,
    DELETION_DELAY,
    FINALIZER,
    Memory,
    Outcome,
    RayServiceWorld,
    condition_true,
    construct_cluster,
    hash_equal,
    rayservice_services,
    set_condition,
    should_update_cluster,
    update_head_serve_label,
    upgrade_enabled,
    validate,
)
from fakekube._controllers.kuberay.serve_model import SERVE_OUTCOME_KEY
from kubeapi.types import JSON


def reconcile(
    rs: JSON, world: RayServiceWorld, memory: Memory, now: dt.datetime, rng: random.Random
) -> Outcome:
    """One ``Reconcile`` of RayService ``rs`` (not modified) at ``now``."""
    return _Pass(rs, world, memory, now, rng).run()


class _Pass:
    """One reconcile: reads ``rs``, acts on ``world``, builds the new status."""

    def __init__(
        self, rs: JSON, world: RayServiceWorld, memory: Memory, now: dt.datetime, rng: random.Random
    ) -> None:
        self.rs, self.world, self.memory, self.now, self.rng = rs, world, memory, now, rng
        self.ns: str = rs["metadata"]["namespace"]
        self.name: str = rs["metadata"]["name"]
        self.original: JSON = rs.get("status") or {}
        self.status: JSON = copy.deepcopy(self.original)
        self.wait: float | None = None

    def _soon(self, seconds: float) -> None:
        self.wait = seconds if self.wait is None else min(self.wait, seconds)

    def run(self) -> Outcome:
        """``Reconcile``."""
        meta = self.rs["metadata"]
        if (self.rs["spec"].get("managedBy") or "ray.io/kuberay-operator") != "ray.io/kuberay-operator":
            return Outcome(None, None)
        to_clean = self._clean_up_clusters()
        if meta.get("deletionTimestamp"):
            if not to_clean and FINALIZER in (meta.get("finalizers") or []):
                self.world.set_finalizers(self.rs, [f for f in meta["finalizers"] if f != FINALIZER])
                return Outcome(None, None)
            return Outcome(None, DEFAULT_REQUEUE)
        if FINALIZER not in (meta.get("finalizers") or []):
            self.world.set_finalizers(self.rs, [*(meta.get("finalizers") or []), FINALIZER])
            return Outcome(None, 0.0)
        invalid = validate(self.rs)
        if invalid is not None:
            reason, message = invalid
            self.world.event(self.rs, "Warning", reason, "Validate", f"{self.ns}/{self.name}: {message}")
            set_condition(self.status, "Ready", "False", "ValidationFailed", message, self.now)
            self.status["lastUpdateTime"] = rfc3339(self.now)
            return Outcome(self.status, None)
        active, pending = self._reconcile_clusters()
        for cluster in (active, pending):
            if cluster is not None:
                update_head_serve_label(self.rs, self.world, cluster)
        active_ready = pending_ready = False
        active_apps: JSON | None = None
        pending_apps: JSON | None = None
        if pending is not None:
            pending_ready, pending_apps = self._reconcile_serve(pending)
        if active is not None and pending is None and not self._should_prepare(active, None, False):
            active_ready, active_apps = self._reconcile_serve(active)
        head = serve = None
        if pending_ready or active_ready:
            target = pending if pending_ready else active
            assert target is not None
            head, serve = self._point_services(target)
        self._calculate_status(head, serve, active, pending, active_apps, pending_apps)
        if _inconsistent(self.original, self.status):
            self.status["lastUpdateTime"] = rfc3339(self.now)
            return Outcome(self.status, self.wait if self.wait is not None else 0.0)
        return Outcome(None, self.wait)

    # -- clusters ---------------------------------------------------------------------------------

    def _clean_up_clusters(self) -> bool:
        """``cleanUpRayClusterInstance``: whether clusters remain to clean up."""
        deleting = bool(self.rs["metadata"].get("deletionTimestamp"))
        delay = self.rs["spec"].get("rayClusterDeletionDelaySeconds")
        delay = DELETION_DELAY if delay is None else float(delay)
        keep = {
            (self.status.get("activeServiceStatus") or {}).get("rayClusterName"),
            (self.status.get("pendingServiceStatus") or {}).get("rayClusterName"),
        }
        left = False
        for c in self.world.owned_clusters(self.ns, self.name):
            cname = c["metadata"]["name"]
            if not deleting and cname in keep:
                continue
            left = True
            at = self.memory.deletions.get(cname)
            if at is None and not deleting:
                self.memory.deletions[cname] = self.now + dt.timedelta(seconds=delay)
                self._soon(delay)
                continue
            if deleting or (at is not None and self.now > at):
                if not c["metadata"].get("deletionTimestamp"):
                    self.world.delete_cluster(c)
                    self.world.event(
                        self.rs,
                        "Normal",
                        "DeletedRayCluster",
                        "Delete",
                        f"Deleted the RayCluster {self.ns}/{cname}",
                    )
            elif at is not None:
                self._soon((at - self.now).total_seconds() + 0.001)
        return left

    def _cluster(self, key: str) -> JSON | None:
        name = (self.status.get(key) or {}).get("rayClusterName")
        return self.world.get_cluster(self.ns, name) if name else None

    def _reconcile_clusters(self) -> tuple[JSON | None, JSON | None]:
        """``reconcileRayCluster``: create the named pending cluster, update clusters in place."""
        active, pending = self._cluster("activeServiceStatus"), self._cluster("pendingServiceStatus")
        pname = (self.status.get("pendingServiceStatus") or {}).get("rayClusterName")
        if pname and pending is None:
            obj = construct_cluster(self.rs, pname)
            self.world.create_cluster(obj)
            self.world.event(
                self.rs, "Normal", "CreatedRayCluster", "Create", f"Created the RayCluster {self.ns}/{pname}"
            )
            return active, self.world.get_cluster(self.ns, pname) or obj
        for cluster, is_active in ((active, True), (pending, False)):
            if cluster is None or not should_update_cluster(self.rs, self.status, cluster, is_active):
                continue
            goal = construct_cluster(self.rs, cluster["metadata"]["name"])
            updated = copy.deepcopy(cluster)
            suspend = (cluster.get("spec") or {}).get("suspend")
            updated["spec"] = goal["spec"]
            if suspend is not None:
                updated["spec"]["suspend"] = suspend
            updated["metadata"]["labels"] = goal["metadata"]["labels"]
            updated["metadata"]["annotations"] = goal["metadata"]["annotations"]
            self.world.update_cluster(updated)
            which = "active" if is_active else "pending"
            self.world.event(
                self.rs,
                "Normal",
                "UpdatedRayCluster",
                "Update",
                f"Updated the {which} RayCluster {self.ns}/{cluster['metadata']['name']}",
            )
        return active, pending

    def _should_prepare(self, active: JSON | None, pending: JSON | None, pending_serving: bool) -> bool:
        """``shouldPrepareNewCluster``."""
        if pending_serving:
            return False
        if active is None and pending is None:
            return True
        cluster = pending if pending is not None else active
        assert cluster is not None
        if hash_equal(self.rs, cluster, False) or hash_equal(self.rs, cluster, True):
            return False
        return upgrade_enabled(self.rs)

    # -- serve --------------------------------------------------------------------------------------

    def _reconcile_serve(self, cluster: JSON) -> tuple[bool, JSON | None]:
        """``reconcileServe``: (ready to serve, application statuses)."""
        cstatus = cluster.get("status") or {}
        if not condition_true(cstatus, "HeadPodReady"):
            return False, None
        cname = cluster["metadata"]["name"]
        model = self.world.serve(self.ns, cname)
        apps = model.statuses(self.now)
        ready = bool(apps) and all(a["status"] == "RUNNING" for a in apps.values())
        config = self.rs["spec"].get("serveConfigV2") or ""
        key = f"{self.ns}/{self.name}/{cname}"
        cached = self.memory.serve_configs.get(key)
        if cached is None or cached != config or not apps:
            failing = (self.rs["metadata"].get("annotations") or {}).get(SERVE_OUTCOME_KEY, "")
            try:
                model.deploy(config, self.now, frozenset(a.strip() for a in failing.split(",") if a.strip()))
            except ValueError as e:
                self.world.event(
                    self.rs,
                    "Warning",
                    "FailedToUpdateServeApplications",
                    "Update",
                    f"Failed to update serve applications to the RayCluster {self.ns}/{cname}: {e}",
                )
                return False, apps
            self.memory.serve_configs[key] = config
            self.world.event(
                self.rs,
                "Normal",
                "UpdatedServeApplications",
                "Update",
                f"Updated serve applications to the RayCluster {self.ns}/{cname}",
            )
        nxt = model.next_change(self.now)
        self._soon(
            0.0
            if cached != config
            else (DEFAULT_REQUEUE if nxt is None else (nxt - self.now).total_seconds())
        )
        return ready, apps

    def _point_services(self, cluster: JSON) -> tuple[JSON, JSON]:
        """``reconcileServicesToReadyCluster``: ``<name>-head-svc`` and ``<name>-serve-svc`` select
        ``cluster`` (created, or their selector switched: Events ``CreatedService``/``UpdatedService``)."""
        cname = cluster["metadata"]["name"]
        out = []
        for svc in rayservice_services(self.rs, cluster):
            svc_name = svc["metadata"]["name"]
            old = self.world.get_service(self.ns, svc_name)
            if old is not None and (old.get("spec") or {}).get("selector", {}).get("ray.io/cluster") == cname:
                out.append(old)
                continue
            self.world.put_service(svc)
            verb, action = ("Updated", "Update") if old is not None else ("Created", "Create")
            self.world.event(
                self.rs, "Normal", f"{verb}Service", action, f"{verb} the service {self.ns}/{svc_name}"
            )
            out.append(svc)
        return out[0], out[1]

    # -- status ------------------------------------------------------------------------------------

    def _calculate_status(
        self,
        head: JSON | None,
        serve: JSON | None,
        active: JSON | None,
        pending: JSON | None,
        active_apps: JSON | None,
        pending_apps: JSON | None,
    ) -> None:
        """``calculateStatus`` + ``calculateConditions``."""
        s = self.status
        s["observedGeneration"] = self.rs["metadata"].get("generation", 0)
        act = s.setdefault("activeServiceStatus", {})
        pend = s.setdefault("pendingServiceStatus", {})
        act["rayClusterStatus"] = (active or {}).get("status") or {}
        pend["rayClusterStatus"] = (pending or {}).get("status") or {}
        for part, apps in ((act, active_apps), (pend, pending_apps)):
            if apps:
                part["applicationStatuses"] = apps
            else:
                part.pop("applicationStatuses", None)
        pending_serving = False
        if head is not None and serve is not None:
            points_to = head["spec"]["selector"]["ray.io/cluster"]
            if act.get("rayClusterName") != points_to:
                s["activeServiceStatus"], s["pendingServiceStatus"] = pend, {}
                act, pend = s["activeServiceStatus"], s["pendingServiceStatus"]
                active, pending = pending, None
                pending_serving = True
        if self._should_prepare(active, pending, pending_serving):
            s["pendingServiceStatus"] = {"rayClusterName": f"{self.name}-{rand5(self.rng)}"}
            self._soon(0.0)
        s["numServeEndpoints"] = self.world.serve_endpoints(self.ns, f"{self.name}-serve-svc")
        if not s.get("conditions"):
            for t in ("Ready", "UpgradeInProgress"):
                set_condition(s, t, "False", "Initializing", "RayService is initializing", self.now)
        if s["numServeEndpoints"] > 0:
            set_condition(
                s,
                "Ready",
                "True",
                "NonZeroServeEndpoints",
                "Number of serve endpoints is greater than 0",
                self.now,
            )
        elif condition_true(s, "Ready"):
            set_condition(
                s, "Ready", "False", "ZeroServeEndpoints", "Number of serve endpoints dropped to 0", self.now
            )
        a_name = (s.get("activeServiceStatus") or {}).get("rayClusterName")
        p_name = (s.get("pendingServiceStatus") or {}).get("rayClusterName")
        if a_name and p_name:
            set_condition(
                s,
                "UpgradeInProgress",
                "True",
                "BothActivePendingClustersExist",
                "Both active and pending Ray clusters exist",
                self.now,
            )
        elif a_name:
            set_condition(
                s,
                "UpgradeInProgress",
                "False",
                "NoPendingCluster",
                "Active Ray cluster exists and no pending Ray cluster",
                self.now,
            )
        s["serviceStatus"] = "Running" if condition_true(s, "Ready") else ""
        if not s["serviceStatus"]:
            del s["serviceStatus"]
        for key in ("activeServiceStatus", "pendingServiceStatus"):
            s.setdefault(key, {})
        if not s["numServeEndpoints"]:
            del s["numServeEndpoints"]


def _inconsistent(old: JSON, new: JSON) -> bool:
    """``InconsistentRayServiceStatuses``: serviceStatus, numServeEndpoints, conditions, and per
    side the cluster name and application/deployment statuses and messages."""
    if old.get("serviceStatus") != new.get("serviceStatus") or old.get("numServeEndpoints") != new.get(
        "numServeEndpoints"
    ):
        return True
    if old.get("conditions") != new.get("conditions"):
        return True
    for side in ("activeServiceStatus", "pendingServiceStatus"):
        o, n = old.get(side) or {}, new.get(side) or {}
        if o.get("rayClusterName") != n.get("rayClusterName"):
            return True
        if (o.get("applicationStatuses") or {}) != (n.get("applicationStatuses") or {}):
            return True
    return False
