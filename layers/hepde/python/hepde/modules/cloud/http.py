"""A small HTTP adapter (standard library ``urllib``) and OAuth2 client-credentials tokens.

Used by the GCE Compute API and NERSC Superfacility API sources.  Everything that touches the network
goes through a *transport*: ``transport(method, url, headers, body, timeout) -> HttpResponse``.  The
default is :class:`UrllibTransport`; tests pass a transport that serves recorded responses.

Tokens:

* :class:`ClientCredentials` — OAuth2 ``client_credentials`` grant, authenticated with a client secret
  (``client_secret_basic``) or a signed JWT assertion (``private_key_jwt``, RFC 7523, as NERSC's
  Superfacility API requires);
* :class:`ServiceAccountToken` — Google's service-account JWT-bearer grant (RFC 7523 §2.1).

Tokens are cached in memory until shortly before they expire (a warm Lambda reuses them); nothing is
written to disk.  RS256 signing uses the ``cryptography`` package, imported only when a key is used.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hepde.modules.cloud.common import CloudConfigError, ProviderError

logger = logging.getLogger(__name__)

USER_AGENT = "hepde-serverless (cloud economics)"


@dataclass
class HttpResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    url: str = ""

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            snippet = self.body[:200].decode("utf-8", "replace")
            raise ProviderError(f"{self.url}: expected a JSON answer, got {snippet!r}") from exc


Transport = Callable[[str, str, Mapping[str, str], bytes | None, float], HttpResponse]


class UrllibTransport:
    """The real transport: one HTTPS request with ``urllib``; HTTP error statuses are returned, not raised."""

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float
    ) -> HttpResponse:
        request = urllib.request.Request(
            url, data=body, method=method, headers={"User-Agent": USER_AGENT, **headers}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 - URLs come from config
                return HttpResponse(answer.status, answer.read(), dict(answer.headers), url)
        except urllib.error.HTTPError as exc:
            return HttpResponse(exc.code, exc.read() or b"", dict(exc.headers or {}), url)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ProviderError(f"{method} {url}: {getattr(exc, 'reason', exc)}") from exc


class HttpClient:
    """JSON over HTTP with bounded retries on 429/5xx and connection errors."""

    def __init__(
        self,
        transport: Transport | None = None,
        *,
        retries: int = 2,
        retry_wait: float = 1.0,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.transport = transport or UrllibTransport()
        self.retries = max(0, retries)
        self.retry_wait = retry_wait
        self.timeout = timeout
        self._sleep = sleep

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str] | None = None, body: bytes | None = None
    ) -> HttpResponse:
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self.retry_wait * (2 ** (attempt - 1)))
            try:
                answer = self.transport(method, url, dict(headers or {}), body, self.timeout)
            except ProviderError as exc:
                last = exc
                continue
            if answer.status == 429 or answer.status >= 500:
                last = ProviderError(f"{method} {url}: HTTP {answer.status}: {_snippet(answer)}")
                continue
            if answer.status >= 400:
                raise ProviderError(f"{method} {url}: HTTP {answer.status}: {_snippet(answer)}")
            return answer
        assert last is not None
        raise ProviderError(f"{last} (after {self.retries + 1} attempts)")

    def get_json(self, url: str, *, headers: Mapping[str, str] | None = None) -> Any:
        return self.request("GET", url, headers={"Accept": "application/json", **(headers or {})}).json()

    def post_form(
        self, url: str, form: Mapping[str, str], *, headers: Mapping[str, str] | None = None
    ) -> Any:
        body = urllib.parse.urlencode(dict(form)).encode()
        hdrs = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            **(headers or {}),
        }
        return self.request("POST", url, headers=hdrs, body=body).json()


def _snippet(answer: HttpResponse) -> str:
    text = answer.body[:300].decode("utf-8", "replace").strip()
    return text or "(empty body)"


# -- JWT (RS256) ------------------------------------------------------------------------------------
def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_rs256_jwt(claims: Mapping[str, Any], private_key_pem: str, *, key_id: str | None = None) -> str:
    """A compact JWS (RS256) of ``claims`` signed with a PEM RSA private key."""
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise CloudConfigError(
            "signing a JWT needs the 'cryptography' package (pip install cryptography)"
        ) from exc
    try:
        key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise CloudConfigError(f"the private key is not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CloudConfigError(f"the private key must be an RSA key, got {type(key).__name__}")
    header: dict[str, Any] = {"alg": "RS256", "typ": "JWT"}
    if key_id:
        header["kid"] = key_id
    signing_input = (
        f"{_b64url(json.dumps(header, separators=(',', ':')).encode())}."
        f"{_b64url(json.dumps(dict(claims), separators=(',', ':')).encode())}"
    )
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def jwt_claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a compact JWT — for tests and diagnostics only."""
    try:
        payload = token.split(".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as exc:
        raise ProviderError("not a compact JWT") from exc


# -- tokens -------------------------------------------------------------------------------------------
class _CachedToken:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def get(self, fetch: Callable[[], tuple[str, float]]) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires - 60:
                token, lifetime = fetch()
                self._token, self._expires = token, self._clock() + lifetime
            return self._token


#: token caches shared by every module instance of this process (a warm Lambda reuses its tokens)
_SHARED_CACHES: dict[str, _CachedToken] = {}
_SHARED_LOCK = threading.Lock()


def _shared_cache(key: str, clock: Callable[[], float]) -> _CachedToken:
    with _SHARED_LOCK:
        cache = _SHARED_CACHES.get(key)
        if cache is None or cache._clock is not clock:
            cache = _SHARED_CACHES[key] = _CachedToken(clock)
        return cache


def clear_token_cache() -> None:
    """Forget every cached token (tests; a rotated credential)."""
    with _SHARED_LOCK:
        _SHARED_CACHES.clear()


def _token_from(answer: Any, url: str) -> tuple[str, float]:
    if not isinstance(answer, dict) or not isinstance(answer.get("access_token"), str):
        raise ProviderError(f"{url}: the token answer has no 'access_token'")
    try:
        lifetime = float(answer.get("expires_in", 600))
    except (TypeError, ValueError):
        lifetime = 600.0
    return answer["access_token"], lifetime


class ClientCredentials:
    """OAuth2 client-credentials grant; ``auth_method`` is ``private_key_jwt`` or ``client_secret_basic``."""

    def __init__(
        self,
        http: HttpClient,
        token_url: str,
        client_id: str,
        secret: Callable[[], str],
        *,
        auth_method: str = "private_key_jwt",
        scope: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if auth_method not in ("private_key_jwt", "client_secret_basic"):
            raise CloudConfigError(
                f"auth_method must be 'private_key_jwt' or 'client_secret_basic', got {auth_method!r}"
            )
        self.http, self.token_url, self.client_id = http, token_url, client_id
        self._secret, self.auth_method, self.scope, self._clock = secret, auth_method, scope, clock
        self._cache = _shared_cache(
            f"client_credentials {token_url} {client_id} {auth_method} {scope}", clock
        )

    def _fetch(self) -> tuple[str, float]:
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        headers: dict[str, str] = {}
        if self.auth_method == "private_key_jwt":
            now = int(self._clock())
            assertion = sign_rs256_jwt(
                {
                    "iss": self.client_id,
                    "sub": self.client_id,
                    "aud": self.token_url,
                    "iat": now,
                    "exp": now + 300,
                    "jti": uuid.uuid4().hex,
                },
                self._secret(),
            )
            form.update(
                client_id=self.client_id,
                client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                client_assertion=assertion,
            )
        else:
            pair = f"{urllib.parse.quote(self.client_id)}:{urllib.parse.quote(self._secret())}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        return _token_from(self.http.post_form(self.token_url, form, headers=headers), self.token_url)

    def token(self) -> str:
        return self._cache.get(self._fetch)


class ServiceAccountToken:
    """Google service-account credentials (the JSON key file's content) → an OAuth2 access token."""

    SCOPE = "https://www.googleapis.com/auth/compute.readonly"

    def __init__(
        self,
        http: HttpClient,
        key: Callable[[], Mapping[str, Any]],
        *,
        scope: str = SCOPE,
        cache_key: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.http, self._key, self.scope, self._clock = http, key, scope, clock
        self._cache = (
            _shared_cache(f"service_account {cache_key} {scope}", clock) if cache_key else _CachedToken(clock)
        )

    def _fetch(self) -> tuple[str, float]:
        key = self._key()
        missing = [k for k in ("client_email", "private_key") if not key.get(k)]
        if missing:
            raise CloudConfigError(f"the service-account key has no {', '.join(missing)}")
        token_uri = key.get("token_uri") or "https://oauth2.googleapis.com/token"
        now = int(self._clock())
        assertion = sign_rs256_jwt(
            {
                "iss": key["client_email"],
                "scope": self.scope,
                "aud": token_uri,
                "iat": now,
                "exp": now + 3600,
            },
            key["private_key"],
            key_id=key.get("private_key_id"),
        )
        answer = self.http.post_form(
            token_uri, {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}
        )
        return _token_from(answer, token_uri)

    def token(self) -> str:
        return self._cache.get(self._fetch)


class StaticToken:
    """An access token handed over as it is (e.g. from an environment variable)."""

    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def token(self) -> str:
        return self._token()
