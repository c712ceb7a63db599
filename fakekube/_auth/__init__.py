"""Who a request is made by and whether it may proceed: fakekube's ``k8s.io/apiserver``
``pkg/endpoints/filters`` (opt-in; off by default, when every request is allowed as before).

- :mod:`.authentication`: the static token file (``--token-auth-file``) and the bearer-token
  authenticator; ``system:authenticated`` added; no anonymous access (401).
- :mod:`.rbac`: the RBAC authorizer over the stored Roles, ClusterRoles and their bindings
  (``plugin/pkg/auth/authorizer/rbac``), with the ``system:masters`` bypass and the bootstrap
  policy kube-apiserver creates.
- :mod:`.impersonation`: ``Impersonate-*`` headers, checked as
  ``pkg/endpoints/filters/impersonation`` does (constrained modes, then legacy ``impersonate``).
- :mod:`.reviews`: TokenReview, SubjectAccessReview, SelfSubjectAccessReview,
  LocalSubjectAccessReview (create-only, never stored).
- :mod:`.audit`: the audit log (``--audit-log-path``): who authenticated, whom they impersonated.
- :mod:`.filters`: :class:`~.filters.AuthFilter`, the chain run on every request before routing
  (authentication → impersonation → authorization, the order of ``DefaultBuildHandlerChain``).
"""
