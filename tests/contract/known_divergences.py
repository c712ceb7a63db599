"""Divergences from the real kube-apiserver that are known, each with the reason it is accepted.

Keys are ``(scenario, target)`` (target ``"*"`` for every non-reference target); a listed
comparison is an expected failure while it diverges and a failure once it agrees, so this list
cannot go stale.
"""

from __future__ import annotations

KNOWN: dict[tuple[str, str], str] = {}
