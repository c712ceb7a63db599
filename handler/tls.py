"""TLS serving for the gateway: certificates reloaded when their files change, client certificates
handed to the app as the ASGI TLS extension.

Two serving paths, chosen by whether the authentication mode needs the caller's certificate:

- **Plain TLS** (``--tls-cert-file``/``--tls-private-key-file`` with ``passthrough``,
  ``token-review``, ``oidc`` or ``none``): granian terminates TLS in Rust. granian 2.8 loads the
  files when a worker starts and never again, so :class:`CertificateWatcher` (a thread in granian's
  main process) polls the files' contents once a second and, when a new pair loads cleanly, sends
  the main process ``SIGHUP``: granian respawns its workers, which read the new files; connections
  made after that see the new certificate. Connections on the old workers (watches included) end
  when those workers stop, and Kubernetes clients re-establish watches as they do after any
  apiserver restart.
- **Client certificates** (``client-certificate`` and ``request-header``): granian does not expose
  the peer certificate to an ASGI app, so these modes are served by uvicorn (httptools parser,
  its ``websockets-sansio`` WebSocket protocol) on an asyncio TLS socket. :class:`ReloadingContext`
  builds each connection's ``SSLObject`` from the context of the files as they are now (re-read at
  most once a second, a broken new pair keeps the old one), so reload needs no restart and open
  connections are untouched; the protocols of :mod:`handler._uvicorn_tls` put the
  verified peer certificate into ``scope["extensions"]["tls"]`` (the ASGI TLS extension,
  https://asgi.readthedocs.io/en/latest/specs/tls.html) for every request on the connection.
  The handshake verifies the certificate against the mode's CA (``ssl.CERT_OPTIONAL``: no
  certificate is allowed, and the authenticator then sees none; one that does not verify fails
  the handshake), as Go's ``tls.Config`` with ``ClientAuth: RequestClientCert`` plus the x509
  authenticator's ``Verify`` end in the same place for a bad certificate: no identity.

Cost, a quick local check (not a benchmark run; 2 shared cores, load average 3-10 from other
jobs, so single runs vary by 2x): the gateway app with TLS, one worker, ``GET /healthz`` over
TLS 1.3 keep-alive connections from ``http.client`` threads, 3,000 requests after 100 warm-up,
each server started four times (twice as ``granian``/``uvicorn`` on ``handler.app:app``, twice
as ``kuberay-apiserver serve``; :data:`MEASURED`). One sequential client: granian
2,000-4,100 req/s, uvicorn 2,500-5,500 (the Python client is the limit). 16 concurrent clients:
granian 2,600-8,700 req/s, uvicorn 1,200-7,400, granian ahead in three of four pairs. No cost is
measurable for the certificate modes at this resolution; plain TLS stays on granian anyway,
because everything else about the gateway (uvloop, per-connection buffer and idle-watch memory,
the benchmarks) was measured on it and a mode that does not need the peer certificate has no
reason to change server.

Python 3.11's ``ssl`` exposes only the leaf of the peer's chain (``getpeercert``;
``get_verified_chain`` arrives in 3.13), so ``client_cert_chain`` holds the leaf alone: the x509
and request-header authenticators read only the leaf (``chains[0][0]`` in kube-apiserver).

``kuberay-apiserver serve`` imports this module in every mode, so ``cryptography`` (~10 MB and
tens of milliseconds to import) is imported by :func:`tls_extension` only, which runs only in the
client-certificate modes (``tests/handler/test_cold_start.py`` keeps it so).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "MEASURED",
    "RELOAD_INTERVAL",
    "CertificateWatcher",
    "ReloadingContext",
    "TLSConfigError",
    "files_digest",
    "server_context",
    "sighup_self",
    "tls_extension",
]

log = logging.getLogger("handler.tls")

#: The quick check behind the choice above: req/s of GET /healthz over TLS 1.3 (four runs each),
#: one sequential client and 16 concurrent ones, on the shared 2-core development machine.
MEASURED = {
    "granian_tls_c1": (3023, 4093, 2125, 2021),
    "uvicorn_tls_c1": (4496, 5489, 2503, 4639),
    "granian_tls_c16": (8748, 6418, 2640, 7727),
    "uvicorn_tls_c16": (7359, 6589, 1752, 1196),
}

#: How often (seconds) the certificate files are looked at again.
RELOAD_INTERVAL = 1.0


class TLSConfigError(ValueError):
    """A certificate, key or CA file cannot be read or does not load (message names the file)."""


def server_context(cert_file: str, key_file: str, client_ca_file: str | None = None) -> ssl.SSLContext:
    """A server ``SSLContext`` (TLS 1.2 minimum) serving ``cert_file``/``key_file`` (PEM; the cert
    file may carry intermediates after the leaf). With ``client_ca_file`` the handshake asks for a
    client certificate and verifies one that is sent against those CAs (``CERT_OPTIONAL``).

    Raises :class:`TLSConfigError` when a file cannot be read or the pair does not match.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as e:
        raise TLSConfigError(f"cannot load TLS certificate {cert_file} with key {key_file}: {e}") from e
    if client_ca_file:
        try:
            ctx.load_verify_locations(cafile=client_ca_file)
        except (OSError, ssl.SSLError) as e:
            raise TLSConfigError(f"cannot load client CA file {client_ca_file}: {e}") from e
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def files_digest(paths: Sequence[str]) -> bytes:
    """SHA-256 over the contents of ``paths`` in order (a missing file counts as empty), so a
    change of any of them is seen, kubelet's update of a mounted Secret (a symlink swap) included."""
    h = hashlib.sha256()
    for p in paths:
        with contextlib.suppress(OSError):
            h.update(Path(p).read_bytes())
        h.update(b"\0")
    return h.digest()


class ReloadingContext(ssl.SSLContext):
    """An ``SSLContext`` whose connections use the certificate files as they are now.

    asyncio (and uvloop) make each server-side ``SSLObject`` with ``context.wrap_bio``; this
    override first re-reads the files (at most every :data:`RELOAD_INTERVAL` seconds, compared by
    :func:`files_digest`) and builds a fresh :func:`server_context` when they changed, then wraps
    with it. A new pair that does not load is logged and the previous context kept. Build with
    :meth:`create`; the instance's own settings are unused.
    """

    _files: tuple[str, str, str | None]
    _current: ssl.SSLContext
    _digest: bytes
    _checked: float

    @classmethod
    def create(cls, cert_file: str, key_file: str, client_ca_file: str | None = None) -> ReloadingContext:
        """Load the files now (raises :class:`TLSConfigError` as :func:`server_context`)."""
        self = cls(ssl.PROTOCOL_TLS_SERVER)
        self._files = (cert_file, key_file, client_ca_file)
        self._current = server_context(cert_file, key_file, client_ca_file)
        self._digest = files_digest(self._paths())
        self._checked = time.monotonic()
        return self

    def _paths(self) -> list[str]:
        return [p for p in self._files if p]

    def current(self) -> ssl.SSLContext:
        """The context new connections get, reloaded first if the files changed."""
        now = time.monotonic()
        if now - self._checked >= RELOAD_INTERVAL:
            self._checked = now
            digest = files_digest(self._paths())
            if digest != self._digest:
                try:
                    self._current = server_context(*self._files)
                except TLSConfigError as e:
                    log.warning("TLS files changed but do not load, keeping the previous ones: %s", e)
                else:
                    log.info("TLS certificate reloaded from %s", self._files[0])
                self._digest = digest
        return self._current

    def wrap_bio(
        self,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        server_side: bool = False,
        server_hostname: str | bytes | None = None,
        session: ssl.SSLSession | None = None,
    ) -> ssl.SSLObject:
        """``SSLContext.wrap_bio`` on :meth:`current`."""
        return self.current().wrap_bio(incoming, outgoing, server_side, server_hostname, session)


_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_extension(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> dict[str, Any] | None:
    """The ASGI TLS extension dict for a connection: ``client_cert_chain`` (PEM strings, leaf
    first; empty without a client certificate), ``client_cert_name`` (the leaf's subject, RFC 4514,
    or None), ``client_cert_error`` (None: a certificate that failed verification never completes
    the handshake), ``tls_version`` (0x0303/0x0304) and ``cipher_suite`` (None: Python does not
    give the IANA number), ``server_cert`` (None). None for a plain-text connection."""
    if ssl_object is None:
        return None
    from cryptography import x509  # client-certificate modes only (module docstring)
    from cryptography.hazmat.primitives.serialization import Encoding

    der = ssl_object.getpeercert(binary_form=True)
    chain: list[str] = []
    name = None
    if der:
        cert = x509.load_der_x509_certificate(der)
        chain.append(cert.public_bytes(Encoding.PEM).decode("ascii"))
        name = cert.subject.rfc4514_string()
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


class CertificateWatcher(threading.Thread):
    """A daemon thread that calls ``on_change`` when the contents of ``paths`` change and
    ``check`` (e.g. :func:`server_context` on the new pair) accepts them; polls every
    ``interval`` seconds. A change that ``check`` refuses (raises :class:`TLSConfigError`, say a
    certificate written before its key), or that ``on_change`` could not act on (returns False),
    is retried on the next poll.
    """

    def __init__(
        self,
        paths: Sequence[str],
        on_change: Callable[[], bool],
        check: Callable[[], object],
        interval: float = RELOAD_INTERVAL,
    ) -> None:
        super().__init__(name="tls-certificate-watcher", daemon=True)
        self.paths = list(paths)
        self.on_change = on_change
        self.check = check
        self.interval = interval
        self._stopped = threading.Event()
        self._digest = files_digest(self.paths)

    def run(self) -> None:
        """Poll until :meth:`stop`."""
        while not self._stopped.wait(self.interval):
            digest = files_digest(self.paths)
            if digest == self._digest:
                continue
            try:
                self.check()
            except TLSConfigError as e:
                log.warning("TLS files changed but do not load yet: %s", e)
                continue
            if self.on_change():
                self._digest = digest
                log.info("TLS certificate files changed, reloaded")

    def stop(self) -> None:
        """End the thread after its current poll."""
        self._stopped.set()


def sighup_self() -> bool:
    """Send this process ``SIGHUP`` (granian's main process respawns its workers on it) and return
    True, but only once a handler is installed (else False): before granian's is, the default
    action would end the process."""
    if signal.getsignal(signal.SIGHUP) in (signal.SIG_DFL, signal.SIG_IGN, None):
        return False
    os.kill(os.getpid(), signal.SIGHUP)
    return True
