"""Who is calling the gateway, and what the upstream sees them as (issue 12).

- :mod:`handler.auth.authenticator`: the :class:`Authenticator` protocol (an ASGI scope in, a
  verified :class:`kubeapi.authn.UserInfo` or None out) and the bearer-token reader;
- :mod:`handler.auth.modes`: the ``--authentication`` modes, a registry others add to
  (:func:`handler.auth.modes.register_mode`), and :func:`handler.auth.modes.build_authenticator`.

The verified user reaches steps, request rules and object hooks as ``GatewayRequest.user``.
"""
