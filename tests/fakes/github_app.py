"""The fake GitHub's GitHub App side: who a request is, as GitHub decides it.

Without an app the fake accepts its one token (a PAT). With `FakeApp` it speaks App
authentication only: a JWT (RS256, verified with the app's public key; `iss` the app id;
`exp` in the future and at most 10 minutes after `iat`; `iat` not in the future) buys an
installation token (`POST /app/installations/{id}/access_tokens`, `expires_at` after
`token_lifetime` seconds of the fake's clock) and finds a repository's installation
(`GET /repos/{owner}/{repo}/installation`); every other route takes an unexpired
installation token, sees only its installation's repositories (others are 404, as GitHub
answers for what a token may not see) and spends that installation's own rate limit.
A PAT, an expired token or a bad JWT is 401. Tokens issued are kept in `issued`.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jwt

APP_ROUTES = [
    ("POST", r"/app/installations/(\d+)/access_tokens", "access_token"),
    ("GET", r"/repos/([\w.-]+)/([\w.-]+)/installation", "repo_installation"),
]
JWT_PATHS = ("/app/", "/app")
MAX_JWT_SECONDS = 600


@dataclass
class FakeApp:
    app_id: int
    public_key: bytes  # PEM
    installations: dict[int, list[str]]  # installation id → owner/name it is installed on
    token_lifetime: float = 3600.0  # GitHub: one hour
    limit: int = 5000  # each installation's hourly REST limit
    issued: list[tuple[int, str, float]] = field(default_factory=list)  # (installation, token, expires)
    refused: list[str] = field(default_factory=list)  # why each 401 was given

    def installation_of(self, full_name: str) -> int | None:
        return next(
            (i for i, repos in self.installations.items() if full_name.lower() in (r.lower() for r in repos)), None
        )


@dataclass(frozen=True)
class Caller:
    kind: str  # token | jwt | installation
    installation: int | None = None


class GithubAppAuthority:
    """Mixed into the fake GitHub: needs `self.app` (FakeApp or None), `self.token`, `self.clock`."""

    def caller(self, req) -> Caller | None:
        """Who sent `req`, or None (401). Records why a request was refused."""
        scheme, _, credential = req.headers.get("authorization", "").partition(" ")
        if self.app is None:
            return Caller("token") if credential == self.token and scheme in ("token", "Bearer") else None
        if any(req.path.startswith(p) for p in JWT_PATHS) or req.path.endswith("/installation"):
            return Caller("jwt") if scheme == "Bearer" and self._jwt_ok(credential) else None
        expires = {t: (i, e) for i, t, e in self.app.issued}.get(credential)
        if expires is None:
            return self._refuse("not an installation token (a PAT, a JWT or unknown)")
        if self.clock() >= expires[1]:
            return self._refuse("installation token expired")
        return Caller("installation", expires[0])

    def visible(self, caller: Caller, full_name: str) -> bool:
        return caller.kind != "installation" or self.app.installation_of(full_name) == caller.installation

    def _refuse(self, why: str) -> None:
        self.app.refused.append(why)
        return None

    def _jwt_ok(self, token: str) -> bool:
        try:
            claims = jwt.decode(
                token,
                self.app.public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError as exc:
            return self._refuse(f"JWT: {exc}") or False
        now, iat, exp = self.clock(), claims.get("iat"), claims.get("exp")
        problems = {
            "iss is not the app id": str(claims.get("iss")) != str(self.app.app_id),
            "iat/exp missing": not isinstance(iat, int) or not isinstance(exp, int),
        }
        if not any(problems.values()):
            problems.update(
                {
                    "JWT expired": exp <= now,
                    "iat in the future": iat > now,
                    "exp more than 10 minutes after iat": exp - iat > MAX_JWT_SECONDS,
                    "exp more than 10 minutes ahead": exp > now + MAX_JWT_SECONDS,
                }
            )
        wrong = [why for why, bad in problems.items() if bad]
        return not wrong or self._refuse("JWT: " + ", ".join(wrong)) or False

    # ------------------------------------------------------------ routes (JWT)
    def access_token(self, req, match):
        installation = int(match.group(1))
        if installation not in self.app.installations:
            return 404, {}, {"message": "Not Found"}
        token = "ghs_" + secrets.token_hex(18)
        expires = self.clock() + self.app.token_lifetime
        self.app.issued.append((installation, token, expires))
        at = datetime.fromtimestamp(expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return (
            201,
            {},
            {
                "token": token,
                "expires_at": at,
                "repository_selection": "selected",
                "permissions": {"metadata": "read", "pull_requests": "read"},
            },
        )

    def repo_installation(self, req, match):
        installation = self.app.installation_of(f"{match.group(1)}/{match.group(2)}")
        if installation is None:
            return 404, {}, {"message": "Not Found"}
        return (
            200,
            {},
            {
                "id": installation,
                "app_id": self.app.app_id,
                "target_type": "Organization",
                "account": {"login": match.group(1)},
            },
        )
