"""The cache on Redis Sentinel: Django's own RedisCache, given a connection pool that asks the
sentinels where the primary is (redis-py's SentinelConnectionPool).

REDIS_URL names the sentinels as kombu does for the broker, so one form serves both:
`sentinel://[:password@]host:port[/db];sentinel://host2:port;...`, the database and password
from the first. After a failover a connection to the old primary fails once (the cache's
breaker, cpis/resilience.py, carries the request on without it) and the pool's next connection
goes to the primary the sentinels name then.
"""

from typing import Any
from urllib.parse import unquote, urlsplit

from redis.sentinel import Sentinel, SentinelConnectionPool

DEFAULT_SENTINEL_PORT = 26379


def sentinel_addresses(url: str) -> tuple[list[tuple[str, int]], int]:
    """The (host, port) of each sentinel in `url`, and the database number."""
    addresses = []
    db = 0
    for index, part in enumerate(p for p in url.split(";") if p.strip()):
        parsed = urlsplit(part.strip())
        if parsed.scheme != "sentinel" or not parsed.hostname:
            raise ValueError("a Sentinel URL is sentinel://host:port[/db];sentinel://host:port;...")
        addresses.append((parsed.hostname, parsed.port or DEFAULT_SENTINEL_PORT))
        if index == 0 and parsed.path.strip("/"):
            db = int(parsed.path.strip("/"))
    return addresses, db


def _password(url: str) -> str | None:
    password = urlsplit(url.split(";")[0].strip()).password
    return unquote(password) if password else None


class SentinelPool(SentinelConnectionPool):
    """Made by Django's RedisCacheClient with `from_url(LOCATION, **OPTIONS)`."""

    @classmethod
    def from_url(cls, url: str, **options: Any) -> "SentinelPool":
        addresses, db = sentinel_addresses(url)
        service_name = options.pop("service_name")
        # Asking a sentinel gets the same short timeouts as asking Redis: a frozen sentinel
        # must not hold a request longer than a frozen primary would.
        timeouts = {key: options[key] for key in ("socket_timeout", "socket_connect_timeout") if key in options}
        manager = Sentinel(addresses, sentinel_kwargs=timeouts)
        return cls(service_name, manager, db=db, password=_password(url), **options)
