"""Connecting to Temporal with workflow payloads encrypted (AES-GCM), so histories hold no readable personal data."""

from __future__ import annotations

import base64
import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import temporalio.converter
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"


class EncryptionCodec(PayloadCodec):
    """Encrypts every payload the SDK sends to Temporal; the key never leaves our processes."""

    def __init__(self, key: bytes, key_id: str = "asnflow-1") -> None:
        self._aes = AESGCM(key)
        self._key_id = key_id.encode()

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            nonce = os.urandom(12)
            data = nonce + self._aes.encrypt(nonce, p.SerializeToString(), None)
            out.append(Payload(metadata={"encoding": ENCODING, "encryption-key-id": self._key_id}, data=data))
        return out

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            if p.metadata.get("encoding", b"") != ENCODING:
                out.append(p)
                continue
            plain = self._aes.decrypt(p.data[:12], p.data[12:], None)
            out.append(Payload.FromString(plain))
        return out


def ensure_payload_key(path: Path) -> None:
    """Generate a dev payload key once, in the data folder (never in the repository)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(base64.b64encode(AESGCM.generate_key(bit_length=256)).decode())
    path.chmod(0o600)


def data_converter(payload_key_file: Path | None) -> temporalio.converter.DataConverter:
    """The default converter, with the encryption codec when a key is configured."""
    if payload_key_file is None:
        return temporalio.converter.default()
    key = base64.b64decode(Path(payload_key_file).read_text().strip())
    return dataclasses.replace(temporalio.converter.default(), payload_codec=EncryptionCodec(key))


async def connect_temporal(settings: Any) -> Client:
    """A client for the configured address and namespace, with the payload codec."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=settings.temporal_tls,
        data_converter=data_converter(settings.payload_key_file),
    )
