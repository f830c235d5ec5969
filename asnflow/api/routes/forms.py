"""Decision forms: what each task kind's decision carries, from the schema the workflow validators apply."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from asnflow.api.deps import CurrentUser
from asnflow.api.errors import ApiError
from asnflow.domain import decision_forms

router = APIRouter(prefix="/api/v1/decision-forms", tags=["tasks"])


class FormPublic(BaseModel):
    kind: str
    process: str
    title: dict[str, str]
    outcomes: dict[str, dict[str, str]]
    fields: list[dict[str, Any]]  # name, type, label {id, en}, required, when, options, limits, items, key, help


class FormsPublic(BaseModel):
    data: list[FormPublic]
    count: int


@router.get("", response_model=FormsPublic)
async def list_forms(user: CurrentUser) -> FormsPublic:
    """Every task kind's decision form (fields, types, required, allowed values, labels in id/en)."""
    data = [FormPublic(**f.public()) for f in decision_forms.FORMS_LIST]
    return FormsPublic(data=data, count=len(data))


@router.get("/{kind}", response_model=FormPublic)
async def get_form(kind: str, user: CurrentUser) -> FormPublic:
    """One task kind's decision form."""
    described = decision_forms.describe(kind)
    if described is None:
        raise ApiError(404, "Jenis tugas ini tidak punya formulir; kirim data sebagai JSON.", "This task kind has no form; send its data as JSON.")
    return FormPublic(**described)
