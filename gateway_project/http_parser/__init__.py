"""gunicorn's HTTP/1.1 request parser done by httptools (llhttp, in C), with gunicorn's answers:
the connection's request stream (stream.py) yields gunicorn's own request objects, their heads
judged by gunicorn's rules (head.py), anything unusual handed to gunicorn's own parser."""

from gateway_project.http_parser.stream import RequestStream, parses_here

__all__ = ["RequestStream", "parses_here"]
