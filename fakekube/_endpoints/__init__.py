"""fakekube's endpoints layer (private): what ``k8s.io/apiserver/pkg/endpoints`` is to kube-apiserver.

Routing and request info (:mod:`.routing`), option parsing (:mod:`.options`), one handler per verb
(:mod:`.handlers`: get, list, watch, create, update, patch, apply, delete, deletecollection,
proxy), rendering (:mod:`.rendering`: objects, lists, Tables), discovery (:mod:`.apidiscovery`),
OpenAPI (:mod:`.openapidocs`), the Service proxy (:mod:`.serviceproxy`), request bodies
(:mod:`.decoding`) and ASGI plumbing (:mod:`.asgi`).
"""
