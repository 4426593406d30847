"""The Datadog API through datadog-api-client: list what orgpulse owns, create,
update, delete. One place for the settings (DD_API_KEY, DD_APP_KEY, DD_SITE,
DD_API_URL) and for rate limits: a 429 waits for `X-RateLimit-Reset` seconds,
a 5xx backs off, both a bounded number of times. Keys go into the client's
headers and nowhere else: no log line, message or exception text here holds them.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dashboards import identity
from dashboards.validate import to_model
from orgpulse.config import Settings

MAX_WAIT_SECONDS = 120.0
PAGE = 100

# datadog-api-client takes ~0.3 s to import: it is imported where it is used, so `orgpulse --help`
# (which registers every command) and the actions that need no request body never load it.


class SettingsError(ValueError):
    pass


@dataclass
class Live:
    kind: str
    key: str
    id: Any
    body: dict


def _json(response: Any) -> Any:
    """The body of a raw response (the client is set not to build response models: what
    orgpulse compares is plain JSON, and building models of 30 dashboards costs seconds)."""
    return json.loads(response.data or b"null")


def _header(headers: dict | None, name: str) -> str | None:
    return next((v for k, v in (headers or {}).items() if k.lower() == name.lower()), None)


class Datadog:
    def __init__(
        self, settings: Settings, sleep: Callable[[float], None] = time.sleep, attempts: int = 6, backoff: float = 1.0
    ):
        from datadog_api_client import ApiClient, Configuration
        from datadog_api_client.v1.api.dashboards_api import DashboardsApi
        from datadog_api_client.v1.api.monitors_api import MonitorsApi
        from datadog_api_client.v1.api.service_level_objectives_api import ServiceLevelObjectivesApi

        if settings.datadog_api_key is None or settings.datadog_app_key is None:
            raise SettingsError("DD_API_KEY and DD_APP_KEY (or their _FILE) are required")
        config = Configuration(host=settings.datadog_api_url) if settings.datadog_api_url else Configuration()
        if not settings.datadog_api_url and settings.datadog_site:
            config.server_variables["site"] = settings.datadog_site
        config.api_key = {
            "apiKeyAuth": settings.datadog_api_key.reveal().decode(),
            "appKeyAuth": settings.datadog_app_key.reveal().decode(),
        }
        config.enable_retry = False  # retried here, with an injectable clock
        config.preload_content = False
        self.client = ApiClient(config)
        self.dashboards_api = DashboardsApi(self.client)
        self.monitors_api = MonitorsApi(self.client)
        self.slos_api = ServiceLevelObjectivesApi(self.client)
        self.sleep, self.attempts, self.backoff = sleep, attempts, backoff
        self.calls = 0

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------- retries
    def call(self, fn: Callable, *args, **kwargs) -> Any:
        from datadog_api_client.exceptions import ApiException

        for attempt in range(self.attempts):
            try:
                self.calls += 1
                return _json(fn(*args, **kwargs))
            except ApiException as exc:
                wait = self._wait(exc, attempt)
                if wait is None or attempt == self.attempts - 1:
                    raise
                self.sleep(wait)
        raise AssertionError("unreachable")

    def _wait(self, exc, attempt: int) -> float | None:
        if exc.status == 429:
            reset = _header(exc.headers, "X-RateLimit-Reset")
            with contextlib.suppress(ValueError):  # a reset that is no number: back off as below
                if reset is not None:
                    return min(max(float(reset), 0.0), MAX_WAIT_SECONDS)
            return self.backoff * 2**attempt
        if exc.status is not None and exc.status >= 500:
            return self.backoff * 2**attempt
        return None

    # ------------------------------------------------------------- listing
    def owned(self, kind: str, env: str | None) -> list[Live]:
        """Objects orgpulse owns: every marked dashboard; monitors and SLOs of `env`."""
        return {"dashboard": self._dashboards, "monitor": self._monitors, "slo": self._slos}[kind](env)

    def _dashboards(self, env: str | None) -> list[Live]:
        out, start = [], 0
        while True:
            page = self.call(self.dashboards_api.list_dashboards, count=PAGE, start=start)
            summaries = page.get("dashboards") or []
            for s in summaries:
                key = identity.dashboard_key(s.get("description"))
                if key:
                    body = self.call(self.dashboards_api.get_dashboard, s["id"])
                    out.append(Live("dashboard", key, s["id"], body))
            if len(summaries) < PAGE:
                return out
            start += PAGE

    def _monitors(self, env: str | None) -> list[Live]:
        out, page = [], 0
        while env is not None:
            found = self.call(self.monitors_api.list_monitors, monitor_tags=identity.MANAGED, page=page, page_size=PAGE)
            for body in found:
                key = identity.tagged_key(body.get("tags"), env)  # the filter is the server's; check
                if key:
                    out.append(Live("monitor", key, body["id"], body))
            if len(found) < PAGE:
                break
            page += 1
        return out

    def _slos(self, env: str | None) -> list[Live]:
        out, offset = [], 0
        while env is not None:
            found = (
                self.call(self.slos_api.list_slos, tags_query=identity.MANAGED, limit=PAGE, offset=offset).get("data")
                or []
            )
            for body in found:
                key = identity.tagged_key(body.get("tags"), env)
                if key:
                    out.append(Live("slo", key, body["id"], body))
            if len(found) < PAGE:
                break
            offset += PAGE
        return out

    # ------------------------------------------------------------- writing
    def create(self, kind: str, body: dict) -> Live:
        if kind == "dashboard":
            made = self.call(self.dashboards_api.create_dashboard, to_model("dashboard", body))
        elif kind == "monitor":
            made = self.call(self.monitors_api.create_monitor, to_model("monitor", body))
        else:
            made = self.call(self.slos_api.create_slo, to_model("slo", body))["data"][0]
        return Live(kind, "", made["id"], made)

    def update(self, kind: str, object_id: Any, body: dict) -> None:
        from datadog_api_client.model_utils import validate_and_convert_types
        from datadog_api_client.v1.model.monitor_update_request import MonitorUpdateRequest
        from datadog_api_client.v1.model.service_level_objective import ServiceLevelObjective

        if kind == "dashboard":
            self.call(self.dashboards_api.update_dashboard, object_id, to_model("dashboard", body))
            return
        model = MonitorUpdateRequest if kind == "monitor" else ServiceLevelObjective
        request = validate_and_convert_types(
            body, (model,), [kind], True, True, configuration=self.client.configuration
        )
        api = self.monitors_api.update_monitor if kind == "monitor" else self.slos_api.update_slo
        self.call(api, object_id, request)

    def delete(self, kind: str, object_id: Any) -> None:
        deletes: dict[str, Callable[..., Any]] = {
            "dashboard": self.dashboards_api.delete_dashboard,
            "monitor": self.monitors_api.delete_monitor,
            "slo": self.slos_api.delete_slo,
        }
        self.call(deletes[kind], object_id)
