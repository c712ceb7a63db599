"""``python -m benchmarks.service_label_window FAKEKUBE GATEWAY BACKEND_PORT SECONDS``: issue 13
finding 8's toggling experiment.

Needs ``fakekube serve --service-backend default/tsvc=http://127.0.0.1:BACKEND_PORT`` at FAKEKUBE
and ``kuberay-apiserver serve --upstream FAKEKUBE`` at GATEWAY. Creates Service ``default/tsvc``
labelled ``app.kubernetes.io/name=kuberay``, toggles the label every ~10 ms while 4 clients GET
``services/tsvc/proxy/x`` through the gateway for SECONDS, and prints how many requests the
backend (started here on BACKEND_PORT) received after a label removal had completed, during a
label change, and the gateway's answers by code (see ``handler.steps.RequireKubeRayService``).
"""

from __future__ import annotations

import bisect
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

SVC = "/api/v1/namespaces/default/services/tsvc"
LABEL = "app.kubernetes.io/name"


def main(fk: str, gw: str, backend_port: int, duration: float) -> None:
    """Run the experiment (arguments as in the module docstring) and print its counts."""
    arrivals: list[float] = []

    class Backend(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            arrivals.append(time.monotonic())
            body = b'{"ok":true}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", backend_port), Backend)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    with httpx.Client(base_url=fk) as c:
        c.delete(SVC)
        svc = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "tsvc", "namespace": "default", "labels": {LABEL: "kuberay"}},
            "spec": {"ports": [{"port": 80}]},
        }
        r = c.post("/api/v1/namespaces/default/services", json=svc)
        assert r.status_code == 201, r.text
    # (time the PATCH was sent, time it was answered, labelled after it)
    timeline = [(0.0, 0.0, True)]
    stop = threading.Event()
    codes: dict[int, int] = {}

    def toggle() -> None:
        labeled = True
        with httpx.Client(base_url=fk) as t:
            while not stop.is_set():
                labeled = not labeled
                patch = {"metadata": {"labels": {LABEL: "kuberay" if labeled else None}}}
                t0 = time.monotonic()
                t.patch(
                    SVC, content=json.dumps(patch), headers={"content-type": "application/merge-patch+json"}
                )
                timeline.append((t0, time.monotonic(), labeled))
                time.sleep(0.01)

    def load() -> None:
        with httpx.Client(base_url=gw, timeout=10) as g:
            while not stop.is_set():
                code = g.get(SVC + "/proxy/x").status_code
                codes[code] = codes.get(code, 0) + 1

    threads = [threading.Thread(target=toggle)] + [threading.Thread(target=load) for _ in range(4)]
    for th in threads:
        th.start()
    time.sleep(duration)
    stop.set()
    for th in threads:
        th.join()
    srv.shutdown()
    # An arrival counts as "absent" when the last PATCH sent before it had completed and left the
    # label absent; arrivals while a PATCH was in flight are counted apart.
    starts = [x[0] for x in timeline]
    absent = changing = 0
    for a in arrivals:
        _, answered, labeled = timeline[bisect.bisect_right(starts, a) - 1]
        if a < answered:
            changing += 1
        elif not labeled:
            absent += 1
    print(
        f"backend requests {len(arrivals)}; after a removal completed {absent}; "
        f"during a label change {changing}; gateway answers {codes}"
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
