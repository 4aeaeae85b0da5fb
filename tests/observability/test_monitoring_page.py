"""The monitoring pages of the Django admin, fed by the per-minute rollups in Redis."""

from __future__ import annotations

import re

from observability.rollups import rollups
from tests.observability.conftest import finished

HOST = "api.localhost"


def drawn_counts(page: str, chart_id: str) -> dict[str, float]:
    """The counts the bars of one chart draw, summed per series."""
    chart = re.search(rf'<svg id="{chart_id}".*?</svg>', page, re.S).group(0)
    counts: dict[str, float] = {}
    for series, count in re.findall(r'data-series="([^"]+)" data-count="([^"]+)"', chart):
        counts[series] = counts.get(series, 0) + float(count)
    return counts


def test_the_gateway_page_draws_the_traffic_sent(route, proxy_client, admin_client):
    limiter = {
        "name": "rate_limiter",
        "stage": "pre_request",
        "priority": 1,
        "settings": {"limits": {"per_key": {"limit": 5, "window": "1m"}}},
    }
    gateway = route(required_plugins=[limiter])
    statuses = [
        finished(proxy_client.get("/x", HTTP_HOST=HOST, HTTP_X_API_KEY=gateway.key)).status_code
        for _ in range(7)
    ]
    statuses.append(finished(proxy_client.get("/x", HTTP_HOST=HOST)).status_code)
    assert statuses == [200] * 5 + [429, 429, 401]
    rollups.flush()
    page = admin_client.get(f"/admin/monitoring/{gateway.id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert drawn_counts(html, "chart-requests") == {"2xx": 5, "4xx": 3}
    assert re.search(r'id="total-requests">8<', html)
    assert re.search(r'id="total-4xx">3<', html)
    assert '<td>rate_limiter</td><td class="num">2</td>' in html
    assert gateway.rule["id"] in html or gateway.rule["path"] in html
    assert 'class="point point-p95"' in html
    assert "No traffic in the last hour" not in html
    assert 'http-equiv="refresh"' in html


def test_with_no_traffic_the_pages_say_so(admin_client, api):
    gateway = api.post("/api/v1/gateways", {"name": "quiet", "subdomain": "quiet"}).json()
    overview = admin_client.get("/admin/monitoring/").content.decode()
    assert 'data-gateway="quiet"' in overview
    page = admin_client.get(f"/admin/monitoring/{gateway['id']}/").content.decode()
    assert "No traffic in the last hour." in page
    assert drawn_counts(page, "chart-requests") == {}


def test_the_overview_lists_a_hundred_gateways_busiest_first(
    admin_client, route, proxy_client, django_assert_max_num_queries
):
    from gateways.services import gateway_save

    for index in range(100):
        gateway_save(data={"name": f"gw-{index:03d}", "subdomain": f"gw-{index:03d}"})
    busy = route(subdomain="busy")
    for _ in range(3):
        finished(proxy_client.get("/x", HTTP_HOST="busy.localhost", HTTP_X_API_KEY=busy.key))
    rollups.flush()
    with django_assert_max_num_queries(6):  # session, user, gateways: not one per gateway
        page = admin_client.get("/admin/monitoring/").content.decode()
    rows = re.findall(r'<tr data-gateway="([^"]+)">', page)
    assert len(rows) == 101
    assert rows[0] == "busy"
    assert drawn_counts(page, "chart-all-requests")["requests"] >= 3


def test_the_pages_are_for_staff_only(client, admin_client, django_user_model):
    assert client.get("/admin/monitoring/").status_code == 302
    django_user_model.objects.create_user("visitor", password="pw-123456")
    client.login(username="visitor", password="pw-123456")
    assert client.get("/admin/monitoring/").status_code == 302
    assert admin_client.get("/admin/").content.decode().count('href="/admin/monitoring/"') >= 1
