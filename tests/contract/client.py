"""Targets (API servers under test) and a recording HTTP session over plain httpx.

A ``Target`` is one API server as a client sees it: base URL, credentials (bearer token), TLS
trust (CA file) and, for a gateway, the ``admin`` target behind it used for setup the gateway
does not route (namespaces). A ``Session`` runs one scenario against one target in a fresh
namespace and records every response in a transcript for ``tests.contract.normalise``.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

Json = Any
RAY = "/apis/ray.io/v1"


@dataclass(frozen=True)
class Target:
    """An API server endpoint. ``verify`` is a CA bundle path, or True/False as for httpx."""

    name: str
    url: str
    token: str | None = None
    verify: str | bool = True
    admin: Target | None = None  # where setup goes when this target does not route it
    reference: bool = False  # the real kube-apiserver every other target is compared against

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """A new httpx client for this target (caller closes it)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        verify = self.verify
        if isinstance(verify, str):
            verify = ssl.create_default_context(cafile=verify)  # type: ignore[assignment]
        return httpx.Client(base_url=self.url, headers=headers, verify=verify, timeout=timeout)

    @property
    def setup(self) -> Target:
        """The target that creates namespaces for scenarios (itself unless it is a gateway)."""
        return self.admin or self


def create_namespace(target: Target, prefix: str = "ct", unique: bool = True) -> str:
    """Create namespace ``{prefix}-{random}`` (or ``prefix`` when not ``unique``) on ``target.setup``.

    Namespaces are never deleted: the reference server runs no namespace controller, so a deleted
    namespace would stay Terminating forever; names are unique per run instead.
    """
    name = f"{prefix}-{uuid.uuid4().hex[:10]}" if unique else prefix
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    with target.setup.client() as c:
        r = c.post("/api/v1/namespaces", json=body)
    if r.status_code != 201:
        raise RuntimeError(f"cannot create namespace on {target.setup.name}: {r.status_code} {r.text}")
    return name


@dataclass(frozen=True)
class RefKube:
    """A running refkube: its direct TLS target and its plain-HTTP admin proxy URL."""

    target: Target
    proxy_url: str
    kubeconfig: Path
    started_in: float  # seconds from process start to "ready" (CRDs established)
    audit_log: Path | None = None  # kube-apiserver's audit log (JSON lines, Metadata level)


@dataclass
class Step:
    """One recorded response: request line, status code, JSON body, Warning header."""

    req: str
    code: int
    body: Json
    warning: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"req": self.req, "code": self.code, "body": self.body, "warning": self.warning}


@dataclass
class Session:
    """A scenario's view of a target: a fresh namespace ``ns`` and a transcript of responses."""

    target: Target
    ns: str
    http: httpx.Client
    steps: list[Step] = field(default_factory=list)
    extra_namespaces: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, target: Target) -> Session:
        return cls(target, create_namespace(target), target.client())

    def close(self) -> None:
        self.http.close()

    def transcript(self) -> list[dict[str, Any]]:
        return [s.as_dict() for s in self.steps]

    def note(self, label: str, value: Json) -> None:
        """Record a derived value (not a response) in the transcript, for comparison."""
        self.steps.append(Step(f"NOTE {label}", 0, value))

    def new_namespace(self) -> str:
        """Another fresh namespace ``{ns}-N`` (sorting after ``ns``; normalised as ``<nsN>``)."""
        ns = create_namespace(self.target, f"{self.ns}-{len(self.extra_namespaces) + 2}", unique=False)
        self.extra_namespaces.append(ns)
        return ns

    # -- paths ----------------------------------------------------------------------------------
    def ray(
        self,
        plural: str = "rayclusters",
        name: str | None = None,
        sub: str | None = None,
        ns: str | None = None,
    ) -> str:
        """``/apis/ray.io/v1/namespaces/{ns}/{plural}[/{name}[/{sub}]]``."""
        p = f"{RAY}/namespaces/{ns or self.ns}/{plural}"
        if name is not None:
            p += f"/{name}"
        if sub:
            p += f"/{sub}"
        return p

    def core(self, plural: str, name: str | None = None, ns: str | None = None) -> str:
        """``/api/v1/namespaces/{ns}/{plural}[/{name}]``."""
        p = f"/api/v1/namespaces/{ns or self.ns}/{plural}"
        return p if name is None else f"{p}/{name}"

    # -- requests -------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Json = None,
        content: bytes | str | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        record: bool = True,
    ) -> httpx.Response:
        """Send one request; record its response unless ``record`` is False; return it.

        ``body`` is sent as JSON (Content-Type ``content_type`` or application/json); ``content`` raw.
        """
        h = dict(headers or {})
        data: bytes | str | None = content
        if body is not None:
            data = json.dumps(body)
            h.setdefault("Content-Type", content_type or "application/json")
        elif content is not None and content_type:
            h["Content-Type"] = content_type
        query = f"?{urlencode(params)}" if params else ""
        r = self.http.request(method, path + query, content=data, headers=h)
        if record:
            try:
                parsed: Json = r.json()
            except ValueError:
                parsed = {"<non-json>": r.text[:200]}
            self.steps.append(
                Step(f"{method} {path}{query}", r.status_code, parsed, r.headers.get("warning"))
            )
        return r

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Json = None, **kw: Any) -> httpx.Response:
        return self.request("POST", path, body=body, **kw)

    def put(self, path: str, body: Json = None, **kw: Any) -> httpx.Response:
        return self.request("PUT", path, body=body, **kw)

    def patch(self, path: str, body: Json, content_type: str, **kw: Any) -> httpx.Response:
        return self.request("PATCH", path, body=body, content_type=content_type, **kw)

    def delete(self, path: str, body: Json = None, **kw: Any) -> httpx.Response:
        return self.request("DELETE", path, body=body, **kw)

    def watch(
        self, path: str, params: Mapping[str, str | int], *, during: Any = None, max_seconds: float = 15.0
    ) -> list[Json]:
        """Run a watch (``?watch=1`` plus ``params``; give ``timeoutSeconds``) and record its events.

        The stream is read on a thread; ``during`` (a callable) runs once the response headers
        arrived, so its writes happen while the watch is open. Returns the decoded events.
        """
        q = {"watch": "1", **params}
        url = f"{path}?{urlencode(q)}"
        events: list[Json] = []
        status: list[int] = []
        opened = threading.Event()
        errors: list[BaseException] = []

        def read() -> None:
            try:
                with self.http.stream("GET", url, timeout=max_seconds) as r:
                    status.append(r.status_code)
                    opened.set()
                    if r.status_code != 200:
                        r.read()
                        events.append(r.json())
                        return
                    for line in r.iter_lines():
                        if line.strip():
                            events.append(json.loads(line))
            except BaseException as e:
                errors.append(e)
            finally:
                opened.set()

        t = threading.Thread(target=read, daemon=True)
        t.start()
        opened.wait(max_seconds)
        if during is not None:
            time.sleep(0.2)  # let the server register the watcher before writing
            during()
        t.join(max_seconds)
        if errors:
            raise errors[0]
        if t.is_alive():
            raise TimeoutError(f"watch {url} still open after {max_seconds}s")
        self.steps.append(Step(f"WATCH {url}", status[0] if status else 0, events))
        return events


def sessions(target: Target) -> Iterator[Session]:
    """Context helper: open a Session and close it afterwards."""
    s = Session.open(target)
    try:
        yield s
    finally:
        s.close()
