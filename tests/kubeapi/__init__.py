"""Tests of ``kubeapi``, the core that the gateway and fakekube share."""
