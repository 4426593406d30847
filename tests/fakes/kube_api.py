"""A fake Kubernetes API server: pods list/watch with the real wire protocol, plus nodes,
deployments, metrics.k8s.io pods and coordination.k8s.io Leases — for the real client.

Watches stream chunked JSON lines from a resourceVersion; events older than the
compaction point answer an ERROR event with code 410 (Gone); idle watches get
BOOKMARK events when asked for them; a watch ends at timeoutSeconds (or at once on
expire_watches()); drop() cuts every open watch mid-stream, as a load balancer or an
API server restart does. Lists and watches honour equality-based label selectors
(`a=b,c!=d`), as the API server and metrics-server do.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time

import orjson

from tests.fakes.http import FakeServer

LEASE = r"/apis/coordination.k8s.io/v1/namespaces/([\w-]+)/leases/([\w.-]+)"


class FakeKube(FakeServer):
    routes = [
        ("GET", r"/api/v1/pods", "pods"),
        ("GET", r"/api/v1/namespaces/([\w-]+)/pods", "pods"),
        ("GET", r"/api/v1/nodes", "nodes"),
        ("GET", r"/apis/apps/v1/deployments", "deployments"),
        ("GET", r"/apis/apps/v1/namespaces/([\w-]+)/deployments", "deployments"),
        ("GET", r"/apis/metrics.k8s.io/v1beta1/pods", "pod_metrics"),
        ("GET", r"/apis/metrics.k8s.io/v1beta1/namespaces/([\w-]+)/pods", "pod_metrics"),
        ("GET", LEASE, "get_lease"),
        ("POST", r"/apis/coordination.k8s.io/v1/namespaces/([\w-]+)/leases", "create_lease"),
        ("PUT", LEASE, "replace_lease"),
    ]

    def __init__(self, bookmark_after: float = 0.3):
        self.objects: dict[str, dict] = {}
        self.events: list[tuple[int, str, dict]] = []
        self.rv = 100
        self.oldest = 0
        self.generation = 0  # drop(): open watches are cut
        self.expiry = 0  # expire_watches(): open watches end cleanly
        self.bookmark_after = bookmark_after
        self.bookmarks = 0  # BOOKMARK events sent
        self.offline = False  # disconnected(): watch requests wait
        self.cond = threading.Condition()
        self.node_list = {"kind": "NodeList", "items": []}
        self.deployment_list = {"kind": "DeploymentList", "items": []}
        self.metrics_list: dict | None = {"kind": "PodMetricsList", "items": []}
        self.leases: dict[tuple[str, str], dict] = {}
        super().__init__()
        # Headers and body go out in separate writes; with Nagle's algorithm each answer then
        # waits ~40 ms for the client's delayed ACK. The API server sets TCP_NODELAY (Go does).
        self.server.RequestHandlerClass.disable_nagle_algorithm = True

    def reset(self) -> None:
        """Forget every object, list, lease and request (tests share one server per module:
        stopping one costs half a second). resourceVersions keep growing."""
        self.drop()
        with self.cond:
            self.objects.clear()
            self.events, self.oldest, self.offline = [], self.rv, False
            self.bookmark_after, self.bookmarks = 0.3, 0
            self.node_list = {"kind": "NodeList", "items": []}
            self.deployment_list = {"kind": "DeploymentList", "items": []}
            self.metrics_list = {"kind": "PodMetricsList", "items": []}
            self.leases = {}
        with self._lock:
            self.requests.clear()
            self.log.clear()
            self._failures.clear()

    # ----------------------------------------------------------- scripting
    def put(self, pod: dict, kind: str | None = None) -> None:
        with self.cond:
            self.rv += 1
            pod = copy.deepcopy(pod)
            pod["metadata"]["resourceVersion"] = str(self.rv)
            uid = pod["metadata"]["uid"]
            kind = kind or ("MODIFIED" if uid in self.objects else "ADDED")
            self.objects[uid] = pod
            self.events.append((self.rv, kind, pod))
            self.cond.notify_all()

    def delete(self, uid: str) -> None:
        with self.cond:
            self.rv += 1
            pod = self.objects.pop(uid)
            pod["metadata"]["resourceVersion"] = str(self.rv)
            self.events.append((self.rv, "DELETED", pod))
            self.cond.notify_all()

    def put_silently(self, pod: dict) -> None:
        """Change a pod while no watch can see it: the event is compacted at once."""
        self.put(pod)
        self.compact()

    def compact(self) -> None:
        with self.cond:
            self.oldest = self.rv
            self.events = []

    def drop(self) -> None:
        with self.cond:
            self.generation += 1
            self.cond.notify_all()

    @contextlib.contextmanager
    def disconnected(self):
        """Cut every watch and hold new watch requests until the block ends: what happens
        inside (changes, compaction) is seen only on reconnecting — deterministically."""
        with self.cond:
            self.offline = True
            self.generation += 1
            self.cond.notify_all()
        try:
            yield self
        finally:
            with self.cond:
                self.offline = False
                self.cond.notify_all()

    def expire_watches(self) -> None:
        """End every open watch as the API server does at timeoutSeconds: a clean end of stream."""
        with self.cond:
            self.expiry += 1
            self.cond.notify_all()

    # ----------------------------------------------------------- pods
    def pods(self, req, match):
        namespace = match.group(1) if match.groups() else None
        q = {k: v[0] for k, v in req.query.items()}
        selected = selector(q.get("labelSelector", ""))
        if q.get("watch") not in ("true", "1", "True"):
            with self.cond:
                items = [
                    p for p in self.objects.values() if namespace in (None, p["metadata"]["namespace"]) and selected(p)
                ]
                meta = {"resourceVersion": str(self.rv)}
                if q.get("limit"):  # pages: `continue` is the next offset (the API's is opaque)
                    start, size = int(q.get("continue") or 0), int(q["limit"])
                    if start + size < len(items):
                        meta["continue"] = str(start + size)
                    items = items[start : start + size]
                return 200, {}, {"kind": "PodList", "apiVersion": "v1", "metadata": meta, "items": items}
        with self.cond:  # an unreachable server answers nothing, not even headers
            while self.offline:
                self.cond.wait(0.05)
            connection = (self.generation, self.expiry)  # a drop from now on cuts this watch
        return (
            200,
            {},
            self._watch(
                namespace,
                int(q.get("resourceVersion") or self.rv),
                float(q.get("timeoutSeconds") or 300),
                q.get("allowWatchBookmarks") in ("true", "True"),
                selected,
                connection,
            ),
        )

    def _watch(self, namespace, since, timeout, bookmarks, selected, connection):
        if since < self.oldest:
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "code": 410,
                "reason": "Expired",
                "message": f"too old resource version: {since}",
            }
            yield orjson.dumps({"type": "ERROR", "object": status}) + b"\n"
            return
        deadline = time.monotonic() + timeout
        (generation, expiry), cursor = connection, since
        idle_since = time.monotonic()
        while time.monotonic() < deadline and self.expiry == expiry:
            with self.cond:
                pending = [e for e in self.events if e[0] > cursor]
                if not pending and self.generation == generation and self.expiry == expiry:
                    self.cond.wait(0.05)
                    pending = [e for e in self.events if e[0] > cursor]
                dropped = self.generation != generation
                current = self.rv
            if dropped:
                yield None
                return
            for rv, kind, pod in pending:
                cursor = rv
                if namespace in (None, pod["metadata"]["namespace"]) and selected(pod):
                    yield orjson.dumps({"type": kind, "object": pod}) + b"\n"
                    idle_since = time.monotonic()
            if bookmarks and time.monotonic() - idle_since > self.bookmark_after and current > cursor - 1:
                cursor = max(cursor, current)
                mark = {"kind": "Pod", "apiVersion": "v1", "metadata": {"resourceVersion": str(cursor)}}
                yield orjson.dumps({"type": "BOOKMARK", "object": mark}) + b"\n"
                self.bookmarks += 1
                idle_since = time.monotonic()

    # ----------------------------------------------------------- lists
    def nodes(self, req, match):
        return 200, {}, self.node_list

    def deployments(self, req, match):
        return 200, {}, _in_scope(self.deployment_list, req, match)

    def pod_metrics(self, req, match):
        if self.metrics_list is None:  # no metrics-server: the APIService is absent
            return 404, {}, {"kind": "Status", "code": 404, "reason": "NotFound"}
        return 200, {}, _in_scope(self.metrics_list, req, match)

    # ----------------------------------------------------------- leases
    def get_lease(self, req, match):
        lease = self.leases.get(match.groups())
        return (200, {}, lease) if lease else (404, {}, {"kind": "Status", "code": 404})

    def create_lease(self, req, match):
        body = req.json()
        key = (match.group(1), body["metadata"]["name"])
        with self.cond:
            if key in self.leases:
                return 409, {}, {"kind": "Status", "code": 409, "reason": "AlreadyExists"}
            self.rv += 1
            body["metadata"]["resourceVersion"] = str(self.rv)
            self.leases[key] = body
        return 201, {}, body

    def replace_lease(self, req, match):
        body = req.json()
        with self.cond:
            current = self.leases.get(match.groups())
            if current is None:
                return 404, {}, {"kind": "Status", "code": 404}
            if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                return 409, {}, {"kind": "Status", "code": 409, "reason": "Conflict"}
            self.rv += 1
            body["metadata"]["resourceVersion"] = str(self.rv)
            self.leases[match.groups()] = body
        return 200, {}, body


def selector(text: str):
    """An equality-based label selector (`a=b`, `a==b`, `a!=b`, comma-joined) as a predicate."""
    terms = []
    for term in filter(None, (t.strip() for t in text.split(","))):
        negate = "!=" in term
        key, value = term.replace("!=", "=").replace("==", "=").split("=", 1)
        terms.append((key.strip(), value.strip(), negate))

    def matches(obj: dict) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all((labels.get(k) == v) != negate for k, v, negate in terms)

    return matches


def _in_scope(listing: dict, req, match) -> dict:
    """A list restricted to the request's namespace (if any) and label selector."""
    namespace = match.group(1) if match.groups() else None
    selected = selector((req.query.get("labelSelector") or [""])[0])
    items = [
        x
        for x in listing.get("items") or []
        if namespace in (None, (x.get("metadata") or {}).get("namespace")) and selected(x)
    ]
    return {**listing, "items": items}
