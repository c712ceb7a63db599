"""Static token authentication: kube-apiserver's ``--token-auth-file`` and bearer tokens.

- :class:`TokenFile` reads the CSV file of ``k8s.io/apiserver``
  ``plugin/pkg/authenticator/token/tokenfile/tokenfile.go``: ``token,user,uid[,"g1,g2"]`` per
  record (at least three columns, groups optional and split on ``,`` as ``strings.Split`` does, so
  an empty fourth column is the group ``""``; extra columns ignored; a blank record is skipped, as
  is a record with an empty token; a duplicate token: the later record wins, as the Go map does).
- :func:`bearer_token` is ``plugin/pkg/authenticator/request/bearertoken/bearertoken.go``: the
  ``Authorization`` header ``Bearer <token>`` (scheme case-insensitive); no header or another
  scheme means "no credentials of this kind"; an empty token is invalid.
- :meth:`TokenFile.authenticate` adds ``system:authenticated`` to the user's groups unless already
  there (``pkg/authentication/group/authenticated_group_adder.go``).

Anonymous requests are not accepted (``--anonymous-auth=false``): the filter answers them 401.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

from kubeapi.authn import ALL_AUTHENTICATED, UserInfo, unauthorized

__all__ = ["TokenFile", "bearer_token"]


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The bearer token of ``headers`` (lower-case names), or None when the request carries none.

    Raises the 401 ``StatusError`` for ``Authorization: Bearer`` with an empty token (Go:
    ``invalidToken``)."""
    auth = headers.get("authorization", "").strip()
    parts = auth.split(" ", 2)
    if len(parts) < 2 or parts[0].lower() != "bearer":
        return None
    token = parts[1]
    if not token:
        raise unauthorized()
    return token


class TokenFile:
    """Users by static bearer token, read from a kube-apiserver ``--token-auth-file``.

    Build with :meth:`load` (a path) or :meth:`parse` (the CSV text). Raises ValueError for a
    record with fewer than three columns, naming its line (Go: ``token file ... must have at least
    3 columns``)."""

    def __init__(self, users: Mapping[str, UserInfo]) -> None:
        self._users = dict(users)

    @classmethod
    def parse(cls, text: str, source: str = "<text>") -> TokenFile:
        """Parse the CSV ``text`` (``source`` names it in errors)."""
        users: dict[str, UserInfo] = {}
        for lineno, record in enumerate(csv.reader(io.StringIO(text)), start=1):
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            if len(record) < 3:
                raise ValueError(
                    f"token file '{source}' must have at least 3 columns (token, user name, user uid), "
                    f"found {len(record)} (line {lineno})"
                )
            token, name, uid = record[0], record[1], record[2]
            if not token:  # Go: "empty token has been found", the record skipped
                continue
            # strings.Split(record[3], ","): an empty column is the one group "" (as Go reads it).
            groups = record[3].split(",") if len(record) >= 4 else []
            users[token] = UserInfo.of(name, uid, groups)
        return cls(users)

    @classmethod
    def load(cls, path: str | Path) -> TokenFile:
        """Read and parse the file at ``path`` (OSError when unreadable)."""
        return cls.parse(Path(path).read_text(encoding="utf-8"), str(path))

    def __len__(self) -> int:
        return len(self._users)

    def authenticate(self, headers: Mapping[str, str]) -> UserInfo | None:
        """The user of the request's bearer token: None without a bearer token; the 401
        ``StatusError`` for an unknown token (``invalid bearer token``, answered ``Unauthorized``);
        ``system:authenticated`` appended to the groups."""
        token = bearer_token(headers)
        if token is None:
            return None
        user = self.lookup(token)
        if user is None:
            raise unauthorized()
        return user

    def lookup(self, token: str) -> UserInfo | None:
        """The user ``token`` belongs to (with ``system:authenticated``), or None (TokenReview)."""
        user = self._users.get(token)
        if user is None:
            return None
        if ALL_AUTHENTICATED in user.groups:
            return user
        return UserInfo(user.name, user.uid, (*user.groups, ALL_AUTHENTICATED), user.extra)
