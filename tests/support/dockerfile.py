"""The image and the pod without a container engine: the Dockerfile's steps performed into a
directory (a fresh venv, the same pip install, the same files, the same ENV), and a container
of the rendered chart as a process — its exact command and environment, each volume a
directory, each container path mapped to where that directory is on this machine.

Only the instructions and RUN steps the Dockerfile uses are understood; anything else fails
with the step to teach this module, so the image cannot change without this test seeing it.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The python image's own ENV (docker.io/library/python): what `$PATH` expands to in the Dockerfile.
BASE_ENV = {"PATH": "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
PINNED = re.compile(r"^python:(\d+\.\d+)\.\d+-slim-[a-z]+$")


class UnknownStep(AssertionError):
    pass


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    return [
        (op.upper(), args.strip())
        for op, _, args in (line.strip().partition(" ") for line in joined.splitlines() if line.strip())
    ]


@dataclass
class Image:
    root: Path  # where the image's own paths live here
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    user: str = ""
    uid: int | None = None
    cmd: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    bases: list[str] = field(default_factory=list)
    paths: set[str] = field(default_factory=set)  # image paths the steps made
    constraints: str | None = None  # the pip install's --constraint file

    def host(self, path: str) -> Path:
        return self.root / path.lstrip("/")


def _here(image: Image, words: list[str]) -> list[str]:
    """A command's words with the image's absolute paths (globs expanded) mapped to this tree."""
    out = []
    for word in words:
        if not word.startswith("/"):
            out.append(word)
            continue
        found = sorted(str(p) for p in image.root.glob(word.lstrip("/"))) if "*" in word else []
        out.extend(found or [str(image.host(word))])
    return out


def _run(image: Image, command: str) -> None:
    """One RUN step (one `&&` part), by what it does."""
    words = shlex.split(command)
    workdir = image.host(image.workdir)

    def run_here() -> None:
        subprocess.run(_here(image, words), cwd=workdir, check=True)

    steps = {
        r"python -m venv --without-pip (/\S+)": lambda m: (
            image.paths.add(m[1]),
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", image.host(m[1])], check=True),
        ),
        # The build stage's own venv (with pip) and what its pip does there: the pinned build backend.
        r"python -m venv (/\S+)": lambda m: (
            image.paths.add(m[1]),
            subprocess.run([sys.executable, "-m", "venv", image.host(m[1])], check=True),
        ),
        r"/\S+/bin/pip install --no-cache-dir --quiet setuptools==\S+": lambda m: run_here(),
        r"/\S+/bin/pip wheel .* --wheel-dir (/\S+) \.": lambda m: (image.paths.add(m[1]), run_here()),
        r"pip --python (/\S+) install --no-cache-dir --constraint (\S+) (/\S+)": lambda m: (
            setattr(image, "constraints", m[2]),
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "--python",
                    image.host(m[1]),
                    "install",
                    "--quiet",
                    "--no-cache-dir",
                    "--constraint",
                    m[2],
                    *_here(image, [m[3]]),
                ],
                cwd=workdir,
                check=True,
            ),
        ),
        # The base image's own build tools: not part of this tree (checked: the venv has no pip).
        r"python -m pip uninstall --yes --quiet pip setuptools wheel": lambda m: None,
        r"useradd --uid (\d+) .*": lambda m: setattr(image, "uid", int(m[1])),
        r"mkdir (/\S+)": lambda m: (image.paths.add(m[1]), image.host(m[1]).mkdir(parents=True)),
        r"chown \S+ (/\S+)": lambda m: None,  # ownership: this tree belongs to whoever runs the test
    }
    for pattern, step in steps.items():
        match = re.fullmatch(pattern, " ".join(words))
        if match:
            step(match)
            return
    raise UnknownStep(f"RUN {command!r}: teach tests/support/dockerfile.py what this step does")


def _copy(image: Image, args: str) -> None:
    words = shlex.split(args)
    if words[0].startswith("--from="):
        source, dest = words[1:]
        if source != dest:  # the stages share one tree here: only same-path copies are free
            raise UnknownStep(f"COPY {args}: teach tests/support/dockerfile.py a cross-stage copy")
        assert image.host(source).exists(), f"COPY --from: {source} was not built"
        return
    *sources, dest = words
    target = image.host(dest if dest.startswith("/") else f"{image.workdir}/{dest}")
    image.paths.add(dest if dest.startswith("/") else image.workdir)
    for source in sources:
        src = ROOT / source
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            is_dir = dest.endswith("/") or len(sources) > 1
            (target / src.name if is_dir else target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, target / src.name if is_dir else target)


def _env(image: Image, args: str) -> None:
    for pair in shlex.split(args):
        key, value = pair.split("=", 1)
        image.env[key] = re.sub(r"\$(\w+)", lambda m: {**BASE_ENV, **image.env}[m[1]], value)


def build(root: Path) -> Image:
    image = Image(root)
    handlers = {
        "FROM": lambda a: image.bases.append(a.split()[0]),
        "WORKDIR": lambda a: (
            setattr(image, "workdir", a),
            image.paths.add(a),
            image.host(a).mkdir(parents=True, exist_ok=True),
        ),
        "COPY": lambda a: _copy(image, a),
        "RUN": lambda a: [_run(image, part.strip()) for part in a.split("&&")],
        "ENV": lambda a: _env(image, a),
        "USER": lambda a: setattr(image, "user", a),
        "EXPOSE": lambda a: image.ports.append(int(a)),
        "CMD": lambda a: setattr(image, "cmd", json.loads(a)),
    }
    for op, args in instructions((ROOT / "Dockerfile").read_text()):
        if op not in handlers:
            raise UnknownStep(f"{op} {args}: teach tests/support/dockerfile.py this instruction")
        handlers[op](args)
    return image


# ---------------------------------------------------------------------- the pod
def _field(path: str, pod: dict, facts: dict[str, str]) -> str:
    label = re.fullmatch(r"metadata\.labels\['(.+)'\]", path)
    return pod["metadata"]["labels"][label[1]] if label else facts[path]


@dataclass
class Container:
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    mounts: dict[str, Path]  # container path → directory here


def container(image: Image, docs: list[dict], name: str, volumes_root: Path, facts: dict[str, str]) -> Container:
    """The rendered container `name` as a process: argv, environment, working directory."""
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    pod = deployment["spec"]["template"]
    spec = next(c for c in pod["spec"]["containers"] if c["name"] == name)
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    mounts = {
        m["mountPath"]: _volume(volumes[m["name"]], docs, volumes_root / m["name"], facts) for m in spec["volumeMounts"]
    }

    def host(path: str) -> str:
        for mount in sorted(mounts, key=len, reverse=True):
            if path == mount or path.startswith(mount + "/"):
                return str(mounts[mount]) + path[len(mount) :]
        if any(path == p or path.startswith(p.rstrip("/") + "/") for p in image.paths):
            return str(image.host(path))
        return path

    def translate(value: str) -> str:
        if value.startswith("unix://"):
            return "unix://" + host(value[len("unix://") :])
        return (
            ":".join(host(part) if part.startswith("/") else part for part in value.split(":"))
            if value.startswith("/")
            else value
        )

    env = {**BASE_ENV, **image.env}
    for item in spec.get("env", []):
        env[item["name"]] = (
            item["value"] if "value" in item else _field(item["valueFrom"]["fieldRef"]["fieldPath"], pod, facts)
        )
    argv = (spec.get("command") or image.cmd) + spec.get("args", [])
    return Container(argv, {k: translate(v) for k, v in env.items()}, Path(host(image.workdir)), mounts)


def _volume(volume: dict, docs: list[dict], where: Path, facts: dict[str, str]) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    if "configMap" in volume:
        data = next(
            d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == volume["configMap"]["name"]
        )["data"]
        for key, text in data.items():
            (where / key).write_text(text)
    elif "secret" in volume:
        secret = next(
            d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == volume["secret"]["secretName"]
        )
        for item in volume["secret"]["items"]:
            (where / item["path"]).write_bytes(base64.b64decode(secret["data"][item["key"]]))
    elif "projected" in volume:  # the ServiceAccount's token, CA and namespace: the cluster's facts
        for source in volume["projected"]["sources"]:
            if "serviceAccountToken" in source:
                (where / source["serviceAccountToken"]["path"]).write_text(facts["serviceAccountToken"])
            for item in (source.get("configMap") or {}).get("items", []):
                (where / item["path"]).write_text(facts[f"{source['configMap']['name']}/{item['key']}"])
            for item in (source.get("downwardAPI") or {}).get("items", []):
                (where / item["path"]).write_text(facts[item["fieldRef"]["fieldPath"]])
    elif not ("emptyDir" in volume or "hostPath" in volume):
        raise UnknownStep(f"volume {volume}: teach tests/support/dockerfile.py this kind")
    return where
