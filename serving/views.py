"""The monitoring page of a model: traffic, latency and score drift per version, as inline SVG."""

from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views import View
from django.views.decorators.http import require_GET

from core import charts
from core.auth import client_ip
from core.permissions import CapabilityRequiredMixin
from serving import metrics, registry, selectors
from serving.stats import SCORE_BINS

WINDOWS = selectors.WINDOWS


class MonitoringPage(CapabilityRequiredMixin, View):
    required_capability = "models.read"

    def get(self, request: HttpRequest, name: str) -> HttpResponse:
        if not registry.model_exists(name):
            raise Http404(f"No model named {name!r}.")
        window = request.GET.get("window", "1h")
        minutes = WINDOWS.get(window, 60)
        now = timezone.now()
        start = selectors.window_start(now, minutes)
        by_version = selectors.traffic(name, minutes=minutes, now=now)
        aliases = registry.alias_versions(name)
        versions = sorted(by_version, reverse=True)

        rate_series, latency_series = [], []
        for i, number in enumerate(versions):
            color = charts.PALETTE[i % len(charts.PALETTE)]
            mins = by_version[number].minutes
            rate_series.append(
                charts.Series(
                    f"v{number}", selectors.per_minute(mins, start, now, lambda m: m.requests, quiet=0.0), color
                )
            )
            for q, dashed in ((50, False), (99, True)):
                latency_series.append(
                    charts.Series(
                        f"v{number} p{q}",
                        selectors.per_minute(
                            mins, start, now, lambda m, q=q: selectors.latency_percentile(m.latency_counts, q)
                        ),
                        color,
                        dashed,
                    )
                )

        rows = []
        bins = [f"{i / SCORE_BINS:.2f}" for i in range(SCORE_BINS)]
        for i, number in enumerate(versions):
            traffic = by_version[number]
            reference = selectors.reference_counts(name, number)
            live = traffic.score_counts
            value = selectors.psi(reference, live) if reference is not None else None
            groups = [("live", (live / max(live.sum(), 1)).tolist())]
            if reference is not None:
                groups.append(("test split", (reference / max(reference.sum(), 1)).tolist()))
            rows.append(
                {
                    "version": number,
                    "aliases": sorted(a for a, v in aliases.items() if v == number),
                    "requests": traffic.requests,
                    "errors": traffic.errors,
                    "rate": traffic.requests / minutes,
                    "mean": traffic.mean_latency_ms,
                    "p50": traffic.percentile(50),
                    "p95": traffic.percentile(95),
                    "p99": traffic.percentile(99),
                    "scored": int(live.sum()),
                    "psi": value,
                    "psi_reading": selectors.psi_reading(value) if reference is not None else "no test-split reference",
                    "chart": charts.bar_chart(
                        bins,
                        groups,
                        y_label="share of scores",
                        title=f"Score distribution of v{number}",
                        colors=(charts.PALETTE[i % len(charts.PALETTE)], charts.GREY),
                    ),
                }
            )
        context: dict[str, Any] = {
            "name": name,
            "window": window,
            "windows": list(WINDOWS),
            "aliases": sorted(aliases.items()),
            "rows": rows,
            "rate_chart": charts.line_chart(
                rate_series, x_range=(start, now), y_label="requests / min", title="Requests per minute"
            )
            if rate_series
            else None,
            "latency_chart": charts.line_chart(
                latency_series, x_range=(start, now), y_label="ms", title="Latency p50 and p99"
            )
            if latency_series
            else None,
            "recent": selectors.recent_predictions(name),
            "psi_stable": selectors.PSI_STABLE,
            "psi_shift": selectors.PSI_SHIFT,
            "flush_s": settings.STEWARD_SERVING_STATS_FLUSH_S,
            "palette": list(charts.PALETTE),  # the live chart colours versions as the SVG does
        }
        return render(request, "serving/monitoring.html", context)


def _may_scrape(request: HttpRequest) -> bool:
    """A scraper sends `Authorization: Bearer <STEWARD_METRICS_TOKEN>`, or comes from STEWARD_METRICS_ALLOW_IPS."""
    token = settings.STEWARD_METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    if token and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].strip().encode(), token.encode()):
        return True
    address = client_ip(request)
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.STEWARD_METRICS_ALLOW_IPS)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _may_scrape(request):
        return HttpResponse(
            "metrics: send the STEWARD_METRICS_TOKEN as a Bearer token, or scrape from STEWARD_METRICS_ALLOW_IPS\n",
            status=403,
            content_type="text/plain",
        )
    body, content_type = metrics.exposition()
    return HttpResponse(body, content_type=content_type)
