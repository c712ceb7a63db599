"""Divergences from the real kube-apiserver that are known, each with the reason it is accepted.

Keys are ``(scenario, target)``. Each entry pins its divergence: a listed comparison is an
expected failure only while every one of its differences matches one of the entry's
``differences`` patterns (``re.search`` on the lines ``normalise.diff_transcripts``
gives); any other difference fails the test as a new divergence, and a listed comparison that
agrees fails too ("remove it from KNOWN"), so this list can neither hide a new bug nor go stale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Known:
    """Why a divergence is accepted, and regexes that every one of its differences must match."""

    reason: str
    differences: tuple[str, ...]

    def unexplained(self, diffs: list[str]) -> list[str]:
        """The differences in ``diffs`` that none of ``self.differences`` matches."""
        return [d for d in diffs if not any(re.search(p, d) for p in self.differences)]


_GATEWAY_FIELDS = Known(
    "by design (README 'Field selectors on any field'): the gateway evaluates fieldSelector terms "
    "on its allowlisted fields (status.state, spec.rayVersion, ...) itself and answers 200 with "
    "the matching objects, where an API server answers 400 'field label not supported'",
    (
        r"fieldSelector=(spec\.rayVersion|status\.state)",
        r"^assertion failed on gateway-[a-z]+: \{'spec\.rayVersion=2\.52\.0': 200",
    ),
)
_GATEWAY_DISCOVERY = Known(
    "by design (README, allowlist): the gateway serves only ray.io/v1, so /apis and the OpenAPI "
    "v3 index list no ray.io/v1alpha1, which the official CRDs also serve",
    (r"NOTE (ray\.io group|openapi v3 ray\.io paths): .*v1alpha1",),
)
KNOWN: dict[tuple[str, str], Known] = {
    ("field_selector_ray_fields", "gateway-refkube"): _GATEWAY_FIELDS,
    ("field_selector_ray_fields", "gateway-fakekube"): _GATEWAY_FIELDS,
    ("discovery_groups", "gateway-refkube"): _GATEWAY_DISCOVERY,
    ("discovery_groups", "gateway-fakekube"): _GATEWAY_DISCOVERY,
}

# test_operator_fidelity: differences between the real KubeRay operator (v1.5.0, on refkube, with
# infra/kuberay-operator's harness) and fakekube's simulated operator. Keys are (sample, regex on
# the "path: real X vs simulated Y" line); the value is why the difference is accepted. An entry
# that matches no difference fails the test (remove it).
KNOWN_OPERATOR: dict[tuple[str, str], str] = {}
