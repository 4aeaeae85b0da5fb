"""A WebSocket through a rule, once the request passed its checks (key, IP rules, limits): the
upstream's handshake, the 101 to the client, the relay until both sides close."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.http import HttpRequest, HttpResponse
from wsproto.connection import Connection, ConnectionType
from wsproto.utilities import generate_accept_token

from gateway_project.takeovers import taken_over
from observability.metrics import ACTIVE_WEBSOCKETS
from plugins.sdk.context import RequestContext
from proxy.balancer import Target
from proxy.inbound import ProxyError
from proxy.llm.front import refuse_unknown_model
from proxy.llm.openai import AZURE_API_VERSION
from proxy.llm.wire import api_path
from proxy.matching import RouteMatch
from proxy.outgoing import OutgoingRequest, build_outgoing
from proxy.ws.handshake import BadHandshake, accept_response, client_key, subprotocols
from proxy.ws.relay import Leg, Relay
from proxy.ws.upstream import Opened, UpstreamRefused, UpstreamUnreachable, open_upstream

REALTIME_PATH = "/v1/realtime"  # OpenAI's Realtime API, served on openai and azure targets
REALTIME_PROVIDERS = frozenset({"openai", "azure"})


class TakenOver(HttpResponse):
    """The answer of a request whose connection the relay took over and has closed: the server
    writes nothing more on it (gateway_project/workers.py). Its status and counts are for the
    access log and metrics."""

    socket_taken_over = True


def serve_websocket(
    request: HttpRequest, match: RouteMatch, context: RequestContext
) -> HttpResponse:
    """The WebSocket the client asked for, relayed to the first target that accepts it."""
    try:
        key = client_key(context.method, request.headers)  # hop-by-hop ones included
    except BadHandshake as exc:
        raise ProxyError(400, str(exc)) from exc
    client_socket = request.META.get("gunicorn.socket")
    if client_socket is None:
        raise ProxyError(501, "WebSockets are served by the gateway's gunicorn server")
    opened = open_first_target(request, match, context)
    client_socket.sendall(
        accept_response(generate_accept_token(key.encode()).decode(), opened.subprotocol)
    )
    settings = match.route.websocket
    client = Leg("client", client_socket, Connection(ConnectionType.SERVER), settings.read_size)
    relay = Relay(client, opened.leg, settings)
    with taken_over(relay.shutdown), ACTIVE_WEBSOCKETS.track_inprogress():
        relay.run()
    response = TakenOver(status=101)
    response["X-WebSocket-Close-Code"] = str(relay.close_code or "")
    return response


def open_first_target(request: HttpRequest, match: RouteMatch, context: RequestContext) -> Opened:
    """The upstream's WebSocket on the first target that answers: 502 when none can be reached,
    or with the upstream's refusal (its status and body when `return_error_details`)."""
    route = match.route
    model = realtime_model(match, context)
    failure: Exception | None = None
    for target in route.balancer.attempts(route.retry_attempts, model):
        outgoing = websocket_request(match, context, target, request, model)
        try:
            return open_upstream(outgoing, subprotocols(context.headers), route.websocket)
        except UpstreamUnreachable as exc:
            route.balancer.record_failure(target)
            failure = exc
        except UpstreamRefused as exc:
            message = str(exc)
            if route.websocket.return_error_details:
                message += f": {exc.body.decode('utf-8', 'replace')}"
            raise ProxyError(502, message) from exc
    detail = f": {failure}" if failure and route.websocket.return_error_details else ""
    raise ProxyError(502, f"upstream unreachable{detail}")


def realtime_model(match: RouteMatch, context: RequestContext) -> str | None:
    """The `model` of a Realtime request on an LLM rule (400 for one no target serves)."""
    llm = match.route.llm
    if llm is None:
        return None
    if context.path.rstrip("/") != REALTIME_PATH:
        raise ProxyError(
            404, f"WebSockets on LLM rules are OpenAI's Realtime API ({REALTIME_PATH})"
        )
    model = dict(parse_qsl(context.query_string)).get("model")
    if model is not None:
        refuse_unknown_model(llm, model)
    return model


def websocket_request(
    match: RouteMatch,
    context: RequestContext,
    target: Target,
    request: HttpRequest,
    model: str | None,
) -> OutgoingRequest:
    """The handshake request for `target`: as any request to it (headers, credentials), the
    Realtime API's location on provider targets."""
    outgoing = build_outgoing(match, context, target, request)
    if target.provider:
        if target.provider not in REALTIME_PROVIDERS:
            raise ProxyError(400, f"{target.provider} targets have no Realtime API")
        outgoing.url = target.base_url + realtime_location(
            match, target, model or target.default_model
        )
    return outgoing


def realtime_location(match: RouteMatch, target: Target, model: str) -> str:
    """OpenAI's `/v1/realtime?model=`, or Azure's `/openai/realtime?api-version=&deployment=`."""
    if target.provider == "openai":
        path = api_path(target, "/v1", "/realtime")
        return f"{path}?{urlencode({'model': model})}"
    options = match.route.llm.options[target.key]
    query = {
        "api-version": options.api_version or AZURE_API_VERSION,
        "deployment": options.deployments.get(model, model),
    }
    return f"/openai/realtime?{urlencode(query)}"
