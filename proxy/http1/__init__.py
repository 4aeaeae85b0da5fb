"""The upstream HTTP/1.1 client: kept-alive gevent sockets per origin, answers parsed by
httptools (llhttp) and their bodies streamed as they arrive."""

from proxy.http1.client import send

__all__ = ["send"]
