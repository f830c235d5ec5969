"""One Settings object for every process, read from ASNFLOW_* environment variables."""

from __future__ import annotations

import base64
import binascii
import os
from functools import cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# eventsourcing.cryptography.AESCipher with its AES key schedule made once (same stored bytes).
STORE_CIPHER_TOPIC = "asnflow.activities.eventstore:StoreCipher"
# Keys that only ever appear in examples and documentation: refused everywhere.
_DEFAULT_KEYS = frozenset({bytes(32), b"0" * 32, b"changeme" * 4})


class StoreKeyError(ValueError):
    """The event store's encryption key is missing, unreadable or a well-known default."""


def read_store_key(path: Path) -> str:
    """The base64 AES key in `path`, checked: 16/24/32 bytes, not an all-same-byte or documented default."""
    try:
        text = path.read_text().strip()
        raw = base64.b64decode(text, validate=True)
    except (OSError, binascii.Error, ValueError) as exc:
        raise StoreKeyError(
            f"Kunci penyimpanan peristiwa tidak terbaca: {path} / The event-store key cannot be read: {path} ({exc})"
        ) from None
    if len(raw) not in (16, 24, 32):
        raise StoreKeyError(
            f"Kunci penyimpanan peristiwa harus 16, 24 atau 32 bita (base64): {path} / "
            f"The event-store key must be 16, 24 or 32 bytes (base64): {path}"
        )
    if raw in _DEFAULT_KEYS or len(set(raw)) <= 2:
        raise StoreKeyError(
            f"Kunci penyimpanan peristiwa adalah kunci bawaan/lemah: {path} / The event-store key is a default or weak key: {path}"
        )
    return text


def ensure_store_key(path: Path) -> Path:
    """Generate a dev event-store key once (atomically: concurrent processes all end up with the first one)."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(base64.b64encode(os.urandom(32)).decode())
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # fails if another process won the race: theirs stands
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path


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
    # Workflow tasks one worker process takes at once. Activations share one GIL, so more slots only queue work
    # inside the worker while each task's 10 s timeout runs: after a crash, a worker that took 100 replays at
    # once timed them all out and retried them for minutes (a selection round starting 200 applicant cases got
    # none through the same way). Few slots leave the rest waiting on the server,
    # where any worker can take them.
    worker_workflow_tasks: int = Field(8, ge=2)  # the SDK needs two with a workflow cache
    # AES-256 key (base64) encrypting Temporal payloads; `asnflow dev` generates one into the data folder.
    payload_key_file: Path | None = None
    # AES key (base64) encrypting every stored event (eventsourcing's cipher); required outside dev mode,
    # where DATA/keys/event-store.key is generated instead. Losing it loses the record: back it up apart.
    store_key_file: Path | None = None
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

    @model_validator(mode="after")
    def _store_key_present(self) -> Settings:
        """Refuse a missing event-store key outside dev mode, and a default/weak key anywhere."""
        if self.store_key_file is not None:
            read_store_key(self.store_key_file)
        elif not self.dev_mode:
            raise StoreKeyError(
                "ASNFLOW_STORE_KEY_FILE wajib di luar mode dev (kunci enkripsi penyimpanan peristiwa) / "
                "ASNFLOW_STORE_KEY_FILE is required outside dev mode (the event-store encryption key)"
            )
        return self

    @property
    def dev_store_key_path(self) -> Path:
        return self.data_dir / "keys" / "event-store.key"

    def store_key(self) -> str:
        """The event store's AES key (base64): the configured file, or in dev the data folder's (generated)."""
        if self.store_key_file is not None:
            return read_store_key(self.store_key_file)
        return read_store_key(ensure_store_key(self.dev_store_key_path))

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
        """The eventsourcing environment for this database, every stored event encrypted (AES-GCM)."""
        from asnflow.activities.eventstore import postgres_env

        return postgres_env(self.database_url, CIPHER_TOPIC=STORE_CIPHER_TOPIC, CIPHER_KEY=self.store_key())


@cache
def get_settings() -> Settings:
    """The process's settings (tests construct their own)."""
    return Settings()
