"""Reproducible performance measurements of the gateway and fakekube.

Every figure is measured in one run on one machine against a reference (``kubectl proxy``, the
upstream itself, or the reference API server), so that a noisy shared machine still yields
comparable ratios.  Entry point: ``python -m benchmarks.run [names]``; see ``benchmarks/README.md``.
"""
