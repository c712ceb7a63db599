"""Tests of the gateway, the ``handler`` package."""
