"""GET /api/v1/decision-forms: the served descriptions (no Temporal needed: nothing is started)."""

from __future__ import annotations

from pathlib import Path

from asnflow.api.auth import ensure_dev_keys, mint_token
from asnflow.domain import decision_forms
from tests.support import api_client, make_settings


async def test_forms_are_served_to_anyone_signed_in_with_both_languages(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(database_url, tmp_path, "127.0.0.1:1")
    ensure_dev_keys(settings.dev_private_key_path, settings.dev_public_key_path)
    token = mint_token(settings.dev_private_key_path, nip="199602102022031001", name="Bayu", roles=["PEGAWAI"], unit="DISKOMINFO",
                       issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    auth = {"Authorization": f"Bearer {token}"}
    async with api_client(settings) as api:
        assert (await api.http.get("/api/v1/decision-forms")).status_code == 401
        r = await api.http.get("/api/v1/decision-forms", headers=auth)
        assert r.status_code == 200
        body = r.json()
        assert body["count"] == len(decision_forms.FORMS) and {f["kind"] for f in body["data"]} == set(decision_forms.FORMS)
        rating = (await api.http.get("/api/v1/decision-forms/RATING", headers=auth)).json()
        hasil, perilaku = rating["fields"]
        assert hasil["name"] == "hasil_kerja" and hasil["type"] == "select" and set(hasil["help"]) == {"id", "en"}
        assert perilaku["name"] == "perilaku_kerja" and perilaku["required"]
        assert hasil["options"][0] == {"value": "DI_ATAS_EKSPEKTASI", "label": {"id": "Di Atas Ekspektasi", "en": "Above expectation"}}
        decree = (await api.http.get("/api/v1/decision-forms/PROMOTION_DECREE", headers=auth)).json()
        assert [(f["name"], f["type"], f["when"]) for f in decree["fields"]] == [("sk_nomor", "text", ["DECREED"]), ("sk_tanggal", "date", ["DECREED"])]
        missing = await api.http.get("/api/v1/decision-forms/NO_SUCH_KIND", headers={**auth, "Accept-Language": "en"})
        assert missing.status_code == 404
        assert missing.json()["message"] == "This task kind has no form; send its data as JSON." and missing.json()["message_id"].startswith("Jenis tugas")
