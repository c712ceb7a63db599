"""Kubernetes API primitives shared by the gateway (:mod:`handler`) and :mod:`fakekube`.

Both sides must read request syntax exactly as k8s.io/apimachinery does; keeping one copy here
means the gateway's own selector evaluation and fakekube's can never drift apart. Nothing in this
package imports either side.
"""
