"""Production tokens: an OIDC provider's JWKS served on loopback, Keycloak-shaped claims."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from asnflow.api.auth import ensure_dev_keys, mint_token
from tests.support import api_client, make_settings

ISSUER = "https://sso.batangharikab.go.id/realms/asn"


class Provider:
    """A minimal OIDC key endpoint: publishes the current keys as a JWKS."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.rotate("k1")
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = json.dumps({"keys": [provider.jwk(kid) for kid in provider.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/protocol/openid-connect/certs"

    def rotate(self, kid: str) -> None:
        self.keys = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)}

    def jwk(self, kid: str) -> dict:
        data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
        return {**data, "kid": kid, "use": "sig", "alg": "RS256"}

    def token(self, kid: str, key: rsa.RSAPrivateKey | None = None, **overrides: object) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER, "aud": "asnflow", "iat": now, "exp": now + 300, "sub": "f3b0c-uuid",
            "preferred_username": "198306172008012001", "name": "Rina Oktaviani",
            "realm_access": {"roles": ["ATASAN", "PEGAWAI", "offline_access", "uma_authorization"]},
            "unit_kerja": "DISKOMINFO",
        }
        claims.update(overrides)
        return jwt.encode(claims, key or self.keys[kid], algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def provider() -> Iterator[Provider]:
    p = Provider()
    yield p
    p.server.shutdown()


async def test_tokens_from_the_provider_are_verified_by_jwks(provider: Provider, database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path).model_copy(
        update={
            "dev_mode": False, "jwks_url": provider.url, "jwt_issuer": ISSUER, "jwt_nip_claim": "preferred_username",
            "jwt_roles_claim": "realm_access.roles", "jwt_unit_claim": "unit_kerja", "jwt_tenant_claim": "attributes.instansi",
            "jwks_refetch_cooldown_seconds": 0.0,
        }
    )
    async with api_client(settings) as api:
        r = await api.http.get("/api/v1/me", headers={"Authorization": f"Bearer {provider.token('k1')}"})
        assert r.status_code == 200, r.text
        assert r.json() == {"nip": "198306172008012001", "name": "Rina Oktaviani", "roles": ["ATASAN", "PEGAWAI"], "unit": "DISKOMINFO",
                                "tenant": "batanghari"}
        # The tenant claim sits where the provider's mapper puts it (a Keycloak user attribute here).
        other = provider.token("k1", attributes={"instansi": "muarojambi"})
        r = await api.http.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"})
        assert r.status_code == 200 and r.json()["tenant"] == "muarojambi"
        bad = provider.token("k1", attributes={"instansi": "Muaro Jambi; DROP"})
        assert (await api.http.get("/api/v1/me", headers={"Authorization": f"Bearer {bad}"})).status_code == 401

        forged = provider.token("k1", key=rsa.generate_private_key(public_exponent=65537, key_size=2048))
        expired = provider.token("k1", exp=int(time.time()) - 120)
        wrong_audience = provider.token("k1", aud="another-app")
        wrong_issuer = provider.token("k1", iss="https://evil.example/realms/asn")
        no_nip = provider.token("k1", preferred_username=None)
        ensure_dev_keys(tmp_path / "dev.pem", tmp_path / "dev.pub.pem")
        dev = mint_token(tmp_path / "dev.pem", nip="1", name="x", roles=["ADMIN"], unit=None, issuer=ISSUER, audience="asnflow")
        for bad in (forged, expired, wrong_audience, wrong_issuer, no_nip, dev, "garbage"):
            r = await api.http.get("/api/v1/me", headers={"Authorization": f"Bearer {bad}"})
            assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer", bad
            assert r.json()["message_id"] and r.json()["message_en"]
        assert (await api.http.get("/dev/token", params={"nip": "198306172008012001"})).status_code == 404

        provider.rotate("k2")  # the provider rotates its key: the new kid is fetched, the old one no longer verifies
        r = await api.http.get("/api/v1/me", headers={"Authorization": f"Bearer {provider.token('k2')}"})
        assert r.status_code == 200, r.text


def test_the_api_refuses_to_start_without_a_verifier(database_url: str, tmp_path: Path) -> None:
    from asnflow.api.app import make_verifier

    settings = make_settings(database_url, tmp_path).model_copy(update={"dev_mode": False})
    with pytest.raises(RuntimeError, match="token verifier"):
        make_verifier(settings)
