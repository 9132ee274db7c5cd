"""A client for NHS England's PDS FHIR R4 API: `GET /Patient/{nhs-number}`, application-restricted.

Authentication (NHS England API platform, "signed JWT"): the client signs a short-lived JWT
with its private key (RS512; `iss` = `sub` = the API key, `aud` = the token URL, a fresh
`jti`, `exp` at most five minutes ahead, the key id in `kid`) and posts it to the OAuth token
endpoint as a client-credentials grant's `client_assertion`; the access token it gets back is
reused until shortly before it expires.

Robustness: short timeouts; 429s, 5xx answers, timeouts and refused connections are retried
with exponential back-off (honouring Retry-After); anything still failing raises
PdsUnavailable, which the caller turns into CPF05 (file held). Lookups run concurrently on a
few threads under a shared rate limit. No NHS number or name is ever logged.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import httpx
import jwt

from identity.records import LookupStatus, PdsRecord, error_code, record_from_patient

logger = logging.getLogger(__name__)

_ASSERTION_LIFETIME = 300  # seconds; the platform refuses an `exp` more than 5 minutes ahead
_TOKEN_MARGIN = 30  # seconds before expiry that a token is renewed
_RETRY_AFTER_CAP = 30.0


class PdsUnavailable(Exception):
    """PDS could not answer (down, too slow, refusing us): the upload is held as CPF05."""


class RateLimiter:
    """At most `per_second` starts a second across every thread sharing this limiter."""

    def __init__(self, per_second: float):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class PdsClient:
    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        api_key: str,
        private_key: str,
        key_id: str,
        timeout: float = 5.0,
        retries: int = 3,
        retry_base: float = 0.5,
        concurrency: int = 4,
        rate_per_second: float = 20.0,
        transport: httpx.BaseTransport | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.token_url = token_url
        self.api_key = api_key
        self.private_key = private_key
        self.key_id = key_id
        self.retries = retries
        self.retry_base = retry_base
        self.concurrency = max(1, concurrency)
        self.limiter = RateLimiter(rate_per_second)
        # One pool of keep-alive connections shared by the lookup threads (httpx.Client is
        # thread-safe); a TLS handshake per lookup would cost more than the lookup.
        self.http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            limits=httpx.Limits(max_connections=self.concurrency + 1, max_keepalive_connections=self.concurrency + 1),
            transport=transport,
        )
        self._token = ""
        self._token_expires = 0.0
        self._token_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    # --- authentication ---------------------------------------------------------------------

    def client_assertion(self) -> str:
        now = int(time.time())
        claims = {
            "iss": self.api_key,
            "sub": self.api_key,
            "aud": self.token_url,
            "jti": str(uuid.uuid4()),
            "exp": now + _ASSERTION_LIFETIME,
        }
        return jwt.encode(claims, self.private_key, algorithm="RS512", headers={"kid": self.key_id})

    def _access_token(self, *, renew: bool = False) -> str:
        with self._token_lock:
            if not renew and self._token and time.monotonic() < self._token_expires:
                return self._token
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self.client_assertion(),
            }
            response = self._send(lambda: self.http.post(self.token_url, data=form))
            if response.status_code != 200:
                logger.error("PDS token endpoint refused the client assertion: HTTP %s", response.status_code)
                raise PdsUnavailable(f"token endpoint answered {response.status_code}")
            try:
                body = response.json()
                self._token = str(body["access_token"])
                self._token_expires = time.monotonic() + max(0, int(body.get("expires_in", 0)) - _TOKEN_MARGIN)
            except (ValueError, TypeError, KeyError, AttributeError):
                raise PdsUnavailable("malformed token response") from None
            return self._token

    # --- one lookup -------------------------------------------------------------------------

    def _send(self, request: Callable[[], httpx.Response]) -> httpx.Response:
        """One request with retries: transport failures, 429 and 5xx are retried with back-off."""
        delay = self.retry_base
        for attempt in range(self.retries + 1):
            self.limiter.acquire()
            try:
                response = request()
            except httpx.TransportError as error:
                failure = type(error).__name__
                wait_for = delay
            else:
                if response.status_code != 429 and response.status_code < 500:
                    return response
                failure = f"HTTP {response.status_code}"
                wait_for = _retry_after(response) or delay
            if attempt == self.retries:
                logger.warning("PDS unavailable after %d attempts: %s", attempt + 1, failure)
                raise PdsUnavailable(failure)
            time.sleep(min(wait_for, _RETRY_AFTER_CAP))
            delay *= 2
        raise AssertionError("unreachable")

    def lookup(self, nhs_number: str) -> PdsRecord:
        """`GET /Patient/{nhs_number}` as a PdsRecord; raises PdsUnavailable."""
        url = f"{self.base_url}/Patient/{nhs_number}"
        renewed = False
        while True:
            token = self._access_token()

            def get(token: str = token) -> httpx.Response:
                return self.http.get(
                    url,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "X-Request-ID": str(uuid.uuid4()),
                        "Accept": "application/fhir+json",
                    },
                )

            response = self._send(get)
            if response.status_code == 401 and not renewed:
                # Revoked or expired early: one fresh token, then give up.
                self._access_token(renew=True)
                renewed = True
                continue
            break
        if response.status_code == 200:
            try:
                return record_from_patient(nhs_number, response.json())
            except (ValueError, TypeError, AttributeError, KeyError):
                # Not a Patient we can read: treat it as PDS failing, never as an answer.
                logger.error("PDS answered a lookup with a body that is not a readable Patient")
                raise PdsUnavailable("malformed Patient") from None
        code = _error_code(response)
        if response.status_code == 404:
            status = LookupStatus.INVALIDATED if code == "INVALIDATED_RESOURCE" else LookupStatus.NOT_FOUND
            return PdsRecord(nhs_number=nhs_number, status=status)
        if response.status_code == 400 and code == "INVALID_RESOURCE_ID":
            return PdsRecord(nhs_number=nhs_number, status=LookupStatus.NOT_FOUND)
        # 401/403/412 and the like: our configuration is wrong. Never guess an answer from it.
        logger.error("PDS refused a lookup: HTTP %s %s", response.status_code, code)
        raise PdsUnavailable(f"HTTP {response.status_code} {code}")

    # --- many lookups -----------------------------------------------------------------------

    def lookup_many(self, nhs_numbers: Iterable[str], *, on_result: Callable[[PdsRecord], None]) -> None:
        """Looks each number up on `concurrency` threads, calling `on_result` (in this thread)
        with each answer as it arrives. On the first PdsUnavailable no new lookup starts; the
        ones in flight finish (their answers are still handed over, so nothing already paid for
        is lost) and PdsUnavailable is raised."""
        numbers = iter(nhs_numbers)
        failure: PdsUnavailable | None = None
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="pds") as pool:
            running: set[Future[PdsRecord]] = set()
            while True:
                while failure is None and len(running) < self.concurrency * 2:
                    number = next(numbers, None)
                    if number is None:
                        break
                    running.add(pool.submit(self.lookup, number))
                if not running:
                    break
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        on_result(future.result())
                    except PdsUnavailable as error:
                        failure = failure or error
        if failure is not None:
            raise failure


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _error_code(response: httpx.Response) -> str:
    try:
        return error_code(response.json())
    except ValueError:
        return ""
