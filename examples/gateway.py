"""A gateway built from the ``kuberay-apiserver`` package with one custom hook: a GPU quota.

Run it in front of any Kubernetes API server (here fakekube)::

    fakekube serve --port 8001 &
    KUBERAY_APISERVER_AUTHENTICATION=none \
        python examples/gateway.py --upstream http://127.0.0.1:8001 --port 31889 --max-gpus 4

Every other setting comes from the usual ``KUBERAY_APISERVER_*`` variables (``--defaults`` is
``KUBERAY_APISERVER_DEFAULTS``); authentication is ``passthrough`` unless
``KUBERAY_APISERVER_AUTHENTICATION`` says otherwise (fakekube authenticates nobody, hence ``none``
above; in front of a real cluster keep the default, see the README's "Security"). The
module-level ``app`` is what granian serves; its worker processes import this file again (as
``gateway``), configured through the environment.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from litestar import Litestar

from handler import Settings, create_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hooks import gpu_quota  # examples/ is not a package: imported from its own folder

MAX_GPUS_VAR = "EXAMPLE_MAX_GPUS"


def build() -> Litestar:
    """The gateway: settings from ``KUBERAY_APISERVER_*``, plus the GPU quota hook."""
    return create_app(Settings.from_env(), middleware=[gpu_quota(int(os.environ.get(MAX_GPUS_VAR, "8")))])


def main() -> None:
    """Parse ``--upstream``, ``--port`` and ``--max-gpus`` and serve ``app`` with granian."""
    from granian import Granian
    from granian.constants import Interfaces

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--upstream", required=True, help="Kubernetes API server URL")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=31889)
    p.add_argument("--max-gpus", type=int, default=8, help="GPU quota per Ray cluster")
    args = p.parse_args()
    os.environ["KUBERAY_APISERVER_UPSTREAM"] = args.upstream
    os.environ[MAX_GPUS_VAR] = str(args.max_gpus)
    here = str(Path(__file__).resolve().parent)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [here, os.environ.get("PYTHONPATH")]))
    Granian("gateway:app", address=args.host, port=args.port, interface=Interfaces.ASGI).serve()


if __name__ == "__main__":
    main()
else:  # imported by granian's worker as gateway:app, configured by the environment main() set
    app = build()
