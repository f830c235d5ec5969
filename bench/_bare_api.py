"""The baseline of bench/api.py: bare FastAPI + psycopg reading one indexed row, served like the API.

Usage: python bench/_bare_api.py --port P --database-url URL
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


def create_bare_app(database_url: str) -> FastAPI:
    """One route: an employee row by primary key, with the API's pool size."""
    pool = AsyncConnectionPool(database_url, min_size=1, max_size=10, open=False, timeout=5)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open(wait=True)
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/row/{nip}")
    async def row(nip: str) -> dict[str, Any]:
        async with pool.connection() as conn:
            cur = await conn.cursor(row_factory=dict_row).execute(
                "SELECT nip, nama, jabatan, unit, atasan_nip FROM employees WHERE nip = %s", (nip,)
            )
            found = await cur.fetchone()
        if found is None:
            raise HTTPException(404)
        return found

    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    # The same server settings as `asnflow api`.
    uvicorn.run(create_bare_app(args.database_url), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
