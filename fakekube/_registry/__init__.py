"""fakekube's registry layer (private): what ``k8s.io/apiserver/pkg/registry`` is to kube-apiserver.

One generic store (:mod:`.generic`, ``registry/generic/registry/store.go``) serves every kind; what
differs between kinds is said by their strategies (:mod:`.strategy`, ``rest.RESTCreateStrategy``,
``RESTUpdateStrategy``, ``RESTDeleteStrategy``) and table convertors (:mod:`.tables`). The served kinds
come from the installed CRDs (:mod:`.kinds`). Write helpers: managedFields (:mod:`.managedfields`),
server-side apply (:mod:`.apply`), patches (:mod:`.patch`), the ``scale`` subresource (:mod:`.scale`),
deletion with finalizers (:mod:`.deletion`), object lifecycle rules shared by strategies (:mod:`.objects`).
"""
