"""The simulated Ray Serve controller of one Ray cluster: what ``PUT /api/serve/applications/``
deploys and ``GET /api/serve/applications/`` reports (Ray's ``dashboard/modules/serve``;
KubeRay reads it through ``GetMultiApplicationStatus``, ``utils/types/serve_api_models.go``).

:meth:`ServeModel.deploy` takes a ``serveConfigV2`` YAML (``applications: [{name, import_path,
route_prefix, deployments: [{name, ...}]}]``); each application is ``DEPLOYING`` (its deployments
``UPDATING``) for ``deploy_delay`` seconds, then ``RUNNING`` (``HEALTHY``). An application named
in :data:`SERVE_OUTCOME_KEY`'s annotation value (comma-separated) ends ``DEPLOY_FAILED``
(deployments ``UNHEALTHY``) instead, so UIs can show a failed upgrade. Redeploying an unchanged
application keeps its state, as Serve does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import yaml

from kubeapi.types import JSON

#: RayService annotation: comma-separated application names whose deployment fails.
SERVE_OUTCOME_KEY = "fakekube.kuberay.io/simulate-serve-failed-apps"
#: ``utils.DefaultServeAppName``: the name of an application without one.
DEFAULT_APP = "default"


@dataclass
class _App:
    config: JSON
    deployments: list[str]
    since: dt.datetime
    fails: bool


@dataclass
class ServeModel:
    """The applications of one cluster; ``deploy_delay`` seconds from DEPLOYING to RUNNING."""

    deploy_delay: float = 1.0
    apps: dict[str, _App] = field(default_factory=dict)

    def deploy(self, config_yaml: str, now: dt.datetime, failing: frozenset[str] = frozenset()) -> None:
        """Apply ``config_yaml`` (a malformed one raises ValueError, as Serve answers 400):
        new or changed applications start DEPLOYING, missing ones are removed."""
        try:
            config = yaml.safe_load(config_yaml or "") or {}
        except yaml.YAMLError as e:
            raise ValueError(f"invalid serveConfigV2: {e}") from e
        if not isinstance(config, dict):
            raise ValueError("invalid serveConfigV2: not a mapping")
        wanted: dict[str, JSON] = {}
        for app in config.get("applications") or []:
            if isinstance(app, dict):
                wanted[str(app.get("name") or DEFAULT_APP)] = app
        for name in list(self.apps):
            if name not in wanted:
                del self.apps[name]
        for name, app in wanted.items():
            old = self.apps.get(name)
            if old is not None and old.config == app:
                continue
            deps = [
                str(d.get("name"))
                for d in app.get("deployments") or []
                if isinstance(d, dict) and d.get("name")
            ]
            if not deps:
                deps = [str(app.get("import_path") or name).rsplit(":", 1)[-1].rsplit(".", 1)[-1]]
            self.apps[name] = _App(app, deps, now, name in failing)

    def statuses(self, now: dt.datetime) -> dict[str, JSON]:
        """``applicationStatuses`` as KubeRay stores them: name → {status, message,
        serveDeploymentStatuses: name → {status, message}}."""
        out: dict[str, JSON] = {}
        for name, app in self.apps.items():
            done = now >= app.since + dt.timedelta(seconds=self.deploy_delay)
            if not done:
                status, dep, message = "DEPLOYING", "UPDATING", ""
            elif app.fails:
                status, dep = "DEPLOY_FAILED", "UNHEALTHY"
                message = f"Deploying application {name} failed: simulated failure ({SERVE_OUTCOME_KEY})"
            else:
                status, dep, message = "RUNNING", "HEALTHY", ""
            entry: JSON = {
                "status": status,
                "serveDeploymentStatuses": {d: {"status": dep} for d in app.deployments},
            }
            if message:
                entry["message"] = message
            out[name] = entry
        return out

    def next_change(self, now: dt.datetime) -> dt.datetime | None:
        """When an application next changes status (None: all settled)."""
        times = [a.since + dt.timedelta(seconds=self.deploy_delay) for a in self.apps.values()]
        later = [t for t in times if t > now]
        return min(later) if later else None
