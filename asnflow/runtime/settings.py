"""One Settings object for every process, read from ASNFLOW_* environment variables."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASNFLOW_", env_ignore_empty=True, extra="ignore")

    database_url: str = "postgresql://postgres@127.0.0.1:5432/asnflow"
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    task_queue: str = "asnflow"
    data_dir: Path = Path("var")
    # Dev mode: tokens signed by a key generated into the data folder (`asnflow token`).
    dev_mode: bool = False
    jwt_issuer: str = "asnflow-dev"
    jwt_audience: str = "asnflow"
    jwt_public_key_file: Path | None = None
    jwks_url: str | None = None
    # Where the claims live in the provider's tokens (dotted paths; Keycloak: realm_access.roles).
    jwt_nip_claim: str = "sub"
    jwt_roles_claim: str = "roles"
    jwt_unit_claim: str = "unit"
    jwt_name_claim: str = "name"
    # The tenant (instansi) claim; a token without it belongs to the default tenant, whose case ids
    # carry no prefix (asnflow.domain.tenancy). Keycloak: a user attribute mapped to e.g. "instansi".
    jwt_tenant_claim: str = "tenant"
    default_tenant: str = "batanghari"
    # An unknown key id refetches the JWKS at most this often (key rotation without refetch floods).
    jwks_refetch_cooldown_seconds: float = 30.0
    public_url: str = "http://127.0.0.1:8000"
    # Cross-origin callers allowed (JSON list); empty = same-origin only, the pages' own case.
    cors_origins: list[str] = []
    read_wait_seconds: float = 5.0
    # AES-256 key (base64) encrypting Temporal payloads; `asnflow dev` generates one into the data folder.
    payload_key_file: Path | None = None
    evaluation_policy: dict[str, object] = {}  # JSON: EvaluationPolicy fields, per unit under "units" (asnflow.domain.rules)
    smtp_host: str = ""  # empty: mail disabled (the outbox says so); reminders stay in-app
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    mail_from: str = "asnflow BKPSDMD Batanghari <noreply@batangharikab.go.id>"
    mail_address_template: str = "{nip}@asn.batangharikab.go.id"  # the directory has no e-mail column yet
    temporal_ui_url: str | None = None  # drill-down links; default: the UI `asnflow dev` started (DATA/stack.json)
    audit_signing_key_file: Path | None = None  # Ed25519 PEM sealing checkpoints and bundles; dev: DATA/keys/audit-signing-key.pem
    audit_public_key_file: Path | None = None  # trusted Ed25519 public key for verification (production)
    audit_retention_file: Path | None = None  # JSON retention classes per process (default: asnflow.domain.audit)

    @property
    def dev_private_key_path(self) -> Path:
        return self.data_dir / "keys" / "dev-signing-key.pem"

    @property
    def dev_public_key_path(self) -> Path:
        return self.data_dir / "keys" / "dev-signing-key.pub.pem"

    @property
    def dev_payload_key_path(self) -> Path:
        return self.data_dir / "keys" / "temporal-payload.key"

    def store_env(self) -> dict[str, str]:
        """The eventsourcing environment for this database."""
        from asnflow.activities.eventstore import postgres_env

        return postgres_env(self.database_url)


@cache
def get_settings() -> Settings:
    """The process's settings (tests construct their own)."""
    return Settings()
