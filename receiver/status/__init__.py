"""The status page: `GET /status` (HTML) and `GET /status.json` — whether deliveries arrive,
which collector failed, and the health scores, without opening Datadog.

Three inputs, one model (model()), two renderings:
- deliveries: a bounded in-memory record fed by the envelope's observer hook — per source
  the last RECENT deliveries (event, action, outcome, status, emitted metric names,
  delivery id) and per-minute counts by outcome for the last hour. Never a payload,
  a header or a secret: the hook is handed none of them to keep.
- the poller's and the informer's state file (orgpulse/state.py): a part older than two of
  its writer's intervals is shown as stale, and its values are not shown as current.
- settings: which sources are configured (and what is missing), `receiver.public_url`
  for the webhook URLs to paste into a provider, `fom.thresholds` for the grid colours.

On by default only in local mode (`receiver.status_page`): it reveals repository, project,
namespace and webhook names. In a cluster it is reached by `kubectl port-forward`.
"""

from receiver.status.model import DeliveryLog, enabled
from receiver.status.routes import install

__all__ = ["DeliveryLog", "enabled", "install"]
