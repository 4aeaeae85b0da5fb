"""Redis Cluster support: `REDIS_URL=redis+cluster://host:port` gives every Redis user (the
rate limiters' scripts, the config version) a redis-py RedisCluster through django-redis."""

from __future__ import annotations

from typing import Any, ClassVar

import redis
from django_redis.pool import ConnectionFactory
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}


def is_cluster_url(url: str) -> bool:
    return url.split("://", 1)[0] in CLUSTER_SCHEMES


def node_url(url: str) -> str:
    """The plain redis URL of the seed node named by a cluster URL."""
    scheme, rest = url.split("://", 1)
    return f"{CLUSTER_SCHEMES[scheme]}://{rest}"


class GatewayRedisCluster(RedisCluster):
    """A RedisCluster whose own failures (no reachable node, slots not covered) are
    `redis.ConnectionError`: callers treat every `redis.RedisError` as Redis unavailable."""

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_command(*args, **kwargs)
        except RedisClusterException as exc:
            raise redis.ConnectionError(f"Redis Cluster unavailable: {exc}") from exc


class ClusterConnectionFactory(ConnectionFactory):
    """django-redis CONNECTION_FACTORY returning one RedisCluster per URL and process (it
    discovers the other nodes and follows slot moves). Keys used together in one command or
    script must share a hash tag: see plugins/builtin/*.py `keys()`."""

    _clusters: ClassVar[dict[str, RedisCluster]] = {}

    def connect(self, url: str) -> RedisCluster:  # type: ignore[override]
        """The process's client of the cluster (its first use connects to the seed node)."""
        if url not in self._clusters:
            try:
                self._clusters[url] = self._new_cluster(url)
            except RedisClusterException as exc:  # no reachable node: retried on next use
                raise redis.ConnectionError(f"Redis Cluster unavailable: {exc}") from exc
        return self._clusters[url]

    def _new_cluster(self, url: str) -> RedisCluster:
        pool_kwargs = self.options.get("CONNECTION_POOL_KWARGS", {})
        return GatewayRedisCluster.from_url(
            node_url(url),
            socket_timeout=self.options.get("SOCKET_TIMEOUT"),
            socket_connect_timeout=self.options.get("SOCKET_CONNECT_TIMEOUT"),
            max_connections=pool_kwargs.get("max_connections", 1000),
            retry=Retry(NoBackoff(), 0),  # fail fast like the single-node set-up
        )

    def disconnect(self, connection: Any) -> None:
        connection.disconnect_connection_pools()
