"""The chart's RBAC grants exactly what the code calls. The calls are read from the code
itself (its AST): kubernetes client methods on the API objects each module builds, the list
functions handed to a watch, and the raw HTTP calls of the Kubernetes secret store. The
rendered ClusterRole and Roles must grant that set, no more and no less, with resourceNames
where the code addresses one object by its configured name."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from tests.support.chart_render import NAMESPACE, RELEASE, VALUE_SETS, manifests, one

ROOT = Path(__file__).resolve().parents[2]
# Each part of orgpulse that talks to the API server, and the config switch that turns it on.
PARTS = {
    "informer": (
        "pollers/kubernetes/informer.py",
        "pollers/kubernetes/informer_output.py",
        "pollers/kubernetes/cluster.py",
        "pollers/kubernetes/client.py",
    ),
    "lease": ("pollers/kubernetes/lease.py",),
    "secret store": ("receiver/secretstore.py",),
}
API_GROUPS = {"CoreV1Api": "", "AppsV1Api": "apps", "CoordinationV1Api": "coordination.k8s.io"}
METHOD = re.compile(r"^(list|read|create|replace|patch|delete)_(namespaced_)?([a-z_]+?)(_for_all_namespaces)?$")
VERBS = {"list": "list", "read": "get", "create": "create", "replace": "update", "patch": "patch", "delete": "delete"}
HTTP_VERBS = {"GET": "get", "PATCH": "patch", "PUT": "update", "POST": "create", "DELETE": "delete"}
NAMED = {"get", "update", "patch", "delete"}  # verbs on one object, by its name


def _api_objects(tree: ast.AST) -> dict[str, str]:
    """self.<attr>[: type] = client.<Api>(...) → attr → API group."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call):
            func = node.value.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Attribute) and name in API_GROUPS:
                    out[target.attr] = API_GROUPS[name]
                elif isinstance(target, ast.Attribute) and name == "CustomObjectsApi":
                    out[target.attr] = "custom"
    return out


def _constants(args: list[ast.expr], module: ast.AST) -> list[str]:
    """The string arguments of a call, `*self.NAME` expanded from the class's NAME = (…)."""
    names = {
        t.id: n.value
        for n in ast.walk(module)
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name)
    }
    out = []
    for arg in args:
        if isinstance(arg, ast.Starred) and isinstance(arg.value, ast.Attribute):
            out += [e.value for e in names[arg.value.attr].elts]
        elif isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            out.append(arg.value)
    return out


def _method_calls(
    tree: ast.AST, apis: dict[str, str], verb_override: str | None = None, module: ast.AST | None = None
) -> set[tuple]:
    """Every reference self.<api>.<method> (called or handed on) → (group, resource, verb)."""
    module = module or tree
    out = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr in apis):
            continue
        group = apis[node.value.attr]
        if group == "custom":  # list_{cluster,namespaced}_custom_object(group, version, [ns,] plural)
            call = next(c for c in ast.walk(tree) if isinstance(c, ast.Call) and c.func is node)
            strings = _constants(call.args, module)
            out.add((strings[0], strings[-1], verb_override or VERBS[node.attr.split("_")[0]]))
            continue
        match = METHOD.match(node.attr)
        assert match, f"unrecognised API call {node.attr}: teach this test its verb"
        out.add((group, match.group(3) + "s", verb_override or VERBS[match.group(1)]))
    return out


def _watched(tree: ast.AST, apis: dict[str, str]) -> set[tuple]:
    """<watch>.stream(self.<fn>(…), …): the list functions <fn> reaches (following the
    module's own self.<method> calls) are watched."""
    functions = {f.name: f for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "stream":
            todo, seen = [node.args[0]], set()
            while todo:
                source = todo.pop()
                out |= _method_calls(source, apis, verb_override="watch", module=tree)
                for call in ast.walk(source):
                    name = getattr(getattr(call, "func", None), "attr", None)
                    if isinstance(call, ast.Call) and name in functions and name not in seen:
                        seen.add(name)
                        todo.append(functions[name])
    return out


def _raw_http(tree: ast.AST) -> set[tuple]:
    """A module speaking plain HTTPS: the resource in its URL, the verbs of its _call(METHOD)."""
    urls = [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.JoinedStr)
        and any(isinstance(v, ast.Constant) and "/api/v1/namespaces/" in str(v.value) for v in n.values)
    ]
    if not urls:
        return set()
    text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in urls[0].values)
    resource = re.search(r"/api/v1/namespaces/\{\}/(\w+)/\{\}", text).group(1)
    methods = {
        n.args[0].value
        for n in ast.walk(tree)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "_call"
        and n.args
        and isinstance(n.args[0], ast.Constant)
    }
    return {("", resource, HTTP_VERBS[m]) for m in methods}


def code_calls(part: str) -> set[tuple]:
    out = set()
    for path in PARTS[part]:
        tree = ast.parse((ROOT / path).read_text())
        apis = _api_objects(tree)
        out |= _method_calls(tree, apis) | _watched(tree, apis) | _raw_http(tree)
    return out


def granted(docs: list[dict]) -> dict[tuple, set[str]]:
    """(group, resource, verb) → resourceNames ('*' = any) over every rendered Role/ClusterRole."""
    out: dict[tuple, set[str]] = {}
    for doc in docs:
        if doc["kind"] not in ("Role", "ClusterRole"):
            continue
        for rule in doc["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        out.setdefault((group, resource, verb), set()).update(rule.get("resourceNames") or ["*"])
    return out


def test_the_code_calls_are_what_the_readme_says():
    """The derivation itself, pinned: a new API call shows up here first."""
    assert code_calls("informer") == {
        ("", "pods", "list"),
        ("", "pods", "watch"),
        ("", "nodes", "list"),
        ("apps", "deployments", "list"),
        ("metrics.k8s.io", "pods", "list"),
    }
    assert code_calls("lease") == {("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")}
    assert code_calls("secret store") == {("", "secrets", "get"), ("", "secrets", "patch")}


@pytest.mark.parametrize("name", sorted(VALUE_SETS))
def test_rendered_rbac_grants_exactly_the_code_calls_both_ways(name):
    values = VALUE_SETS[name]
    docs = manifests(values)
    config = yaml.safe_load(one(docs, "ConfigMap")["data"]["config.yaml"])
    enabled = {
        "informer": config.get("poller", {}).get("run_informer", True),
        "lease": config["kubernetes"].get("lease_enabled", True),
        "secret store": config["receiver"]["secret_store"] == "kubernetes",
    }
    expected = set().union(*(code_calls(part) for part, on in enabled.items() if on))
    rules = granted(docs)
    assert set(rules) == expected  # both ways: nothing missing, nothing extra
    names = {
        ("coordination.k8s.io", "leases"): config["kubernetes"]["lease_name"],
        ("", "secrets"): config["receiver"]["kubernetes_secret"],
    }
    for (group, resource, verb), resource_names in rules.items():
        if verb in NAMED:
            assert resource_names == {names[(group, resource)]}, (group, resource, verb)
        else:
            assert resource_names == {"*"}, (group, resource, verb)


def test_roles_live_where_the_code_looks_and_bind_the_pods_service_account():
    docs = manifests(VALUE_SETS["kubernetes-store"])
    roles = {(d["metadata"]["name"], d["metadata"]["namespace"]) for d in docs if d["kind"] == "Role"}
    assert roles == {
        (f"{RELEASE}-pods", "ml"),
        (f"{RELEASE}-pods", "ci"),
        (f"{RELEASE}-lease", "leases"),
        (f"{RELEASE}-webhook-secrets", "hooks"),
    }
    cluster_role = one(docs, "ClusterRole")
    # Listed namespaces: the code's namespaced calls, granted by a Role in each; nodes stay cluster-wide.
    assert set(granted([cluster_role])) == {("", "nodes", "list")}
    for namespace in ("ml", "ci"):
        role = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["namespace"] == namespace)
        assert set(granted([role])) == {
            ("", "pods", "list"),
            ("", "pods", "watch"),
            ("apps", "deployments", "list"),
            ("metrics.k8s.io", "pods", "list"),
        }
    account = one(docs, "Deployment")["spec"]["template"]["spec"]["serviceAccountName"]
    for binding in (d for d in docs if d["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]
        target = binding["roleRef"]
        assert any(
            d["kind"] == target["kind"]
            and d["metadata"]["name"] == target["name"]
            and d["metadata"].get("namespace") == binding["metadata"].get("namespace")
            for d in docs
        )
    store = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == "asana-hooks"]
    assert store and store[0]["metadata"]["namespace"] == "hooks" and "data" not in store[0]


def test_parts_turned_off_are_not_granted_and_rbac_can_be_left_to_the_platform():
    docs = manifests(
        {
            "env": "x",
            "config": {
                "poller": {"run_informer": False},
                "kubernetes": {"lease_enabled": False},
                "receiver": {"secret_store": "file"},
            },
        }
    )
    assert granted(docs) == {}
    assert [
        d
        for d in manifests({"env": "x", "rbac": {"create": False}})
        if d["kind"] in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")
    ] == []
