"""`orgpulse asana webhooks create|list|delete|arm`: manage Asana webhooks with the asana client.

create arms the name in the secret store, then asks Asana to create the webhook;
Asana performs the handshake against the receiver before it answers, so when
create returns, the receiver holds the secret durably.
"""

from __future__ import annotations

from receiver import secretstore

HANDSHAKE_WINDOW = 600  # seconds an armed name accepts a handshake


def _api(token: str, base_url: str | None):
    import asana  # ~0.3 s to import: only `orgpulse asana webhooks create | list | delete` need it

    cfg = asana.Configuration()
    cfg.access_token = token
    if base_url:
        cfg.host = base_url.rstrip("/")
    return asana.WebhooksApi(asana.ApiClient(cfg))


def target_url(receiver_url: str, name: str) -> str:
    return f"{receiver_url.rstrip('/')}/webhooks/asana/{name}"


def parse_filter(text: str) -> dict:
    """'task:changed:completed' → {resource_type, action, fields}; action and fields optional."""
    resource_type, _, rest = text.partition(":")
    action, _, fields = rest.partition(":")
    out: dict[str, str | list[str]] = {"resource_type": resource_type}
    if action:
        out["action"] = action
    if fields:
        out["fields"] = fields.split(",")
    return out


def create(store, token, base_url, name, resource, receiver_url, filters) -> dict:
    secretstore.arm(store, name, HANDSHAKE_WINDOW)
    body = {
        "data": {
            "resource": resource,
            "target": target_url(receiver_url, name),
            **({"filters": [parse_filter(f) for f in filters]} if filters else {}),
        }
    }
    return _api(token, base_url).create_webhook(body, {})


def list_webhooks(token, base_url, workspace) -> list[dict]:
    return list(_api(token, base_url).get_webhooks(workspace, {}))


def delete(store, token, base_url, gid, name=None) -> None:
    _api(token, base_url).delete_webhook(gid)
    if name:
        secretstore.forget(store, name)
