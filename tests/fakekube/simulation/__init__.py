"""Tests of the simulated kubelet and KubeRay operator (``create_app(simulate_operator=...)``)."""
