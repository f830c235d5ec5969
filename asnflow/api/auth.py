"""Bearer JWT authentication: dev keys from the data folder, or an OIDC provider's JWKS."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from asnflow.api.errors import ApiError
from asnflow.domain.organisation import Role
from asnflow.domain.tenancy import DEFAULT_TENANT, valid_tenant
from asnflow.workflows.contracts import Actor

ALGORITHMS = ["EdDSA", "RS256", "ES256"]
CLOCK_SKEW_SECONDS = 30
# Verified tokens are remembered briefly: a client sends the same token on every request, and checking
# its signature again costs more than the rest of a small read (bench/api.py). An entry lives until the
# token expires but never longer than VERIFIED_TTL_SECONDS, so a key withdrawn from the provider's JWKS
# stops being honoured about as soon as the JWKS cache (300 s) would notice.
VERIFIED_CACHE_SIZE = 1024
VERIFIED_TTL_SECONDS = 60.0


@dataclass
class User:
    """The authenticated caller."""

    nip: str
    name: str = ""
    roles: list[str] = field(default_factory=list)
    unit: str | None = None
    tenant: str = DEFAULT_TENANT
    default_tenant: bool = True  # the deployment's default tenant: its case ids carry no prefix

    def has(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    def case_id(self, natural: str) -> str:
        """A case id in my tenant (prefixed unless it is the default tenant)."""
        return natural if self.default_tenant else f"{self.tenant}.{natural}"

    def actor(self) -> Actor:
        return Actor(nip=self.nip, roles=list(self.roles), unit=self.unit, name=self.name,
            tenant=None if self.default_tenant else self.tenant,
        )


def ensure_dev_keys(private_path: Path, public_path: Path) -> None:
    """Generate the dev signing key pair once (never committed: it lives in the data folder)."""
    if private_path.exists() and public_path.exists():
        return
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


def mint_token(
    private_path: Path,
    *,
    nip: str,
    name: str,
    roles: list[str],
    unit: str | None,
    issuer: str,
    audience: str,
    ttl_seconds: int = 12 * 3600,
    tenant: str | None = None,
) -> str:
    """A dev token for a demo user (tenant claim only for a tenant other than the default)."""
    key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    now = int(time.time())
    claims = {
        "sub": nip, "name": name, "roles": roles, "unit": unit,
        "iss": issuer, "aud": audience, "iat": now, "nbf": now, "exp": now + ttl_seconds,
    }
    if tenant is not None:
        claims["tenant"] = tenant
    return jwt.encode(claims, key, algorithm="EdDSA")  # type: ignore[arg-type]


@dataclass
class ClaimMap:
    """Where a provider puts our claims (dotted paths into the token)."""

    nip: str = "sub"
    roles: str = "roles"
    unit: str = "unit"
    name: str = "name"
    tenant: str = "tenant"


def claim(claims: dict[str, Any], path: str) -> Any:
    """A dotted-path claim, e.g. realm_access.roles."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


KNOWN_ROLES = {role.value for role in Role}


class TokenVerifier:
    """Checks signature, issuer, audience and expiry (with clock skew); maps claims to a User."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        public_key_pem: bytes | None = None,
        jwks_url: str | None = None,
        claims: ClaimMap | None = None,
        jwks_cooldown: float = 30.0,
        default_tenant: str = DEFAULT_TENANT,
    ):
        self.default_tenant = default_tenant
        self.issuer = issuer
        self.audience = audience
        self.claims = claims or ClaimMap()
        self._key: Any = serialization.load_pem_public_key(public_key_pem) if public_key_pem else None
        # Keys are fetched from the provider and cached; an unknown kid triggers one refetch (key rotation).
        self._jwks = (
            jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5, cooldown_duration=jwks_cooldown)
            if jwks_url
            else None
        )
        self._verified: OrderedDict[str, tuple[float, User]] = OrderedDict()  # token -> (valid until, user)
        self._verified_lock = threading.Lock()  # sync dependencies may call verify from the thread pool

    def verify(self, token: str) -> User:
        """The caller of a token (from the cache of recently verified tokens when it is still valid); 401 otherwise."""
        now = time.time()
        with self._verified_lock:
            hit = self._verified.get(token)
            if hit is not None:
                if now < hit[0]:
                    self._verified.move_to_end(token)
                    return replace(hit[1], roles=list(hit[1].roles))  # a copy: a handler cannot change the cached caller
                del self._verified[token]
        user, expires = self._verify(token)  # outside the lock: a JWKS fetch may take a while
        with self._verified_lock:
            # exp is honoured with the same clock skew that jwt.decode allows.
            self._verified[token] = (min(expires + CLOCK_SKEW_SECONDS, now + VERIFIED_TTL_SECONDS), user)
            while len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return replace(user, roles=list(user.roles))

    def _verify(self, token: str) -> tuple[User, float]:
        """Check the token itself; the user and the token's expiry (epoch seconds)."""
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._key
            claims = jwt.decode(
                token, key, algorithms=ALGORITHMS, audience=self.audience, issuer=self.issuer,
                leeway=CLOCK_SKEW_SECONDS, options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise ApiError(
                401, "Token tidak sah atau kedaluwarsa.", f"Invalid or expired token ({type(exc).__name__}).",
                headers={"WWW-Authenticate": "Bearer"},
            ) from None
        nip = claim(claims, self.claims.nip)
        if not nip:
            raise ApiError(401, "Token tanpa NIP.", "The token carries no NIP.", headers={"WWW-Authenticate": "Bearer"})
        roles = claim(claims, self.claims.roles) or []
        # Providers carry many roles of their own; only ours mean anything here.
        roles = [str(r) for r in roles if str(r) in KNOWN_ROLES] if isinstance(roles, list) else []
        unit = claim(claims, self.claims.unit)
        # A token names one tenant or none (the default); anything else is refused, never guessed.
        tenant = claim(claims, self.claims.tenant) or self.default_tenant
        if not isinstance(tenant, str) or not valid_tenant(tenant):
            raise ApiError(401, "Token dengan instansi tidak sah.", "The token names an invalid tenant.", headers={"WWW-Authenticate": "Bearer"})
        user = User(
            nip=str(nip), name=str(claim(claims, self.claims.name) or ""), roles=roles, unit=str(unit) if unit else None,
            tenant=tenant, default_tenant=tenant == self.default_tenant,
        )
        return user, float(claims["exp"])
