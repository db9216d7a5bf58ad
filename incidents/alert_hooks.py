"""The alerts raised while the API answers, and where incidents plugs into lower apps.

``connect()`` (called from ``IncidentsConfig.ready``) registers:

- with ``accounts.api_auth``: every authenticated API call tells ``api_key_network_seen``
  the key and the client address. The first network (IPv4 /24, IPv6 /48) a key is used
  from is its baseline; each later new one is recorded and raises a ``new_network``
  alert (unless the workspace turned those off). A network seen within the hour is
  answered from the cache, without touching the database.
- with ``kernel.api.errors``: every 404 the API answers to a key is counted by
  ``api_not_found_seen`` in the cache, in 5-minute buckets; when the last hour's count
  reaches ``not_found_per_hour`` a ``cross_tenant_404`` alert is raised (or the key's
  ongoing one extended), at most once per bucket. Many not-founds from one key are what
  probing for other workspaces' ids looks like: row-level security answers them 404
  exactly like ids that exist nowhere, so the count cannot tell them apart and need not.
- with ``reporting.panels``: the dashboard's count of open alerts, for the members who
  handle them (``incidents.manage``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.api_auth import register_api_key_use_listener
from accounts.models import ApiKey, Membership, Workspace
from accounts.roles import can
from incidents import alert_tasks  # noqa: F401  (registers the beat task with Celery)
from incidents.alert_selectors import alert_counts
from incidents.alerts import WINDOWS, Burst, alert_raise, network_of
from incidents.models import AlertKind, AlertStatus, ApiKeyNetwork
from incidents.services import thresholds_for
from kernel.api.errors import register_not_found_listener
from kernel.middleware import client_ip
from reporting.panels import DashboardPanel, register_dashboard_panel

NETWORK_CACHE_SECONDS = 3600
BUCKET_SECONDS = 300
EARLIER_NETWORKS_SHOWN = 10


def _network_cache_key(api_key_id: Any, network: str) -> str:
    return f"incidents:key-network:{api_key_id}:{network}"


def api_key_network_seen(*, api_key: ApiKey, ip: str | None, now: datetime | None = None) -> ApiKeyNetwork | None:
    """Record that ``api_key`` was used from ``ip``'s network; a network new to a key that
    already had one raises a ``new_network`` alert. Returns the network's row (None when
    the address is unknown or the network was seen within the hour)."""
    network = network_of(ip)
    if network is None or cache.get(_network_cache_key(api_key.pk, network)):
        return None
    now = now or timezone.now()
    workspace = api_key.workspace
    with transaction.atomic():
        known = ApiKeyNetwork.objects.for_workspace(workspace).filter(api_key=api_key)
        row = known.filter(network=network).first()
        if row is not None:
            known.filter(pk=row.pk).update(last_seen=now)
        else:
            earlier = list(known.order_by("first_seen").values_list("network", flat=True)[:EARLIER_NETWORKS_SHOWN])
            had_any = bool(earlier)
            row = ApiKeyNetwork(workspace=workspace, api_key=api_key, network=network, first_seen=now, last_seen=now)
            try:
                with transaction.atomic():
                    row.save(force_insert=True)
            except IntegrityError:
                had_any = False  # another request of this key recorded it (and alerted) just now
            if had_any and thresholds_for(workspace).new_network_alerts:
                burst = Burst(
                    f"key:{api_key.pk}:{network}",
                    count=1,
                    first_at=now,
                    last_at=now,
                    actor_api_key_id=str(api_key.pk),
                    evidence={
                        "api_key_id": str(api_key.pk),
                        "api_key_prefix": api_key.prefix,
                        "network": network,
                        "known_networks": earlier,
                    },
                )
                alert_raise(workspace=workspace, kind=AlertKind.NEW_NETWORK, burst=burst, threshold=1, now=now)
    transaction.on_commit(lambda: cache.set(_network_cache_key(api_key.pk, network), 1, NETWORK_CACHE_SECONDS))
    return row


def _bucket(moment: datetime) -> int:
    return int(moment.timestamp()) // BUCKET_SECONDS


def api_not_found_seen(*, api_key: ApiKey, ip: str | None, now: datetime | None = None) -> bool:
    """Count one 404 answered to ``api_key``; raise or extend its ``cross_tenant_404``
    alert when the last hour holds ``not_found_per_hour`` of them. Returns whether an
    alert was raised or extended by this call."""
    now = now or timezone.now()
    window = WINDOWS[AlertKind.CROSS_TENANT]
    current = _bucket(now)
    buckets = list(range(current - int(window.total_seconds()) // BUCKET_SECONDS + 1, current + 1))
    prefix = f"incidents:not-found:{api_key.pk}:"
    key = f"{prefix}{current}"
    cache.add(key, 0, int(window.total_seconds()) + BUCKET_SECONDS)
    cache.incr(key)
    counts = cache.get_many([f"{prefix}{b}" for b in buckets])
    total = sum(int(v) for v in counts.values())
    threshold = thresholds_for(api_key.workspace).not_found_per_hour
    if total < threshold or not cache.add(f"{prefix}alerted:{current}", 1, BUCKET_SECONDS * 2):
        return False
    first = min(b for b in buckets if counts.get(f"{prefix}{b}"))
    network = network_of(ip)
    burst = Burst(
        f"key:{api_key.pk}",
        count=total,
        first_at=datetime.fromtimestamp(first * BUCKET_SECONDS, tz=UTC),
        last_at=now,
        actor_api_key_id=str(api_key.pk),
        evidence={
            "api_key_id": str(api_key.pk),
            "api_key_prefix": api_key.prefix,
            "not_found": total,
            "networks": [network] if network else [],
            "window_minutes": int(window.total_seconds() // 60),
        },
    )
    alert_raise(
        workspace=api_key.workspace,
        kind=AlertKind.CROSS_TENANT,
        burst=burst,
        threshold=threshold,
        now=now,
        window=window,
    )
    return True


def _on_api_key_use(*, api_key: ApiKey, ip: str | None) -> None:
    api_key_network_seen(api_key=api_key, ip=ip)


def _on_not_found(*, request: Any) -> None:
    api_key = getattr(request, "auth", None)
    if isinstance(api_key, ApiKey):
        api_not_found_seen(api_key=api_key, ip=client_ip(request._request))


def dashboard_security_alerts(*, workspace: Workspace, membership: Membership, now: datetime) -> dict[str, Any] | None:
    """The open alerts' count, for the members who handle them, while there are any."""
    if not can(membership, "incidents.manage"):
        return None
    counts = alert_counts(workspace=workspace)
    if not counts[AlertStatus.OPEN]:
        return None
    return {"open": counts[AlertStatus.OPEN], "kinds": counts["open_kinds"]}


def connect() -> None:
    register_api_key_use_listener(_on_api_key_use)
    register_not_found_listener(_on_not_found)
    register_dashboard_panel(
        DashboardPanel("security_alerts", "incidents/alert_dashboard_panel.html", dashboard_security_alerts, order=11)
    )
