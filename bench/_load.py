"""A small HTTP/1.1 load generator: N keep-alive connections on loopback, each one request at a time.

Usage: python bench/_load.py URL [--header 'Name: value'] [--connections 8] [--seconds 10] [--warmup 2]
Prints one JSON line: requests, errors, req_per_s, p50_ms, p99_ms. Plain asyncio streams instead of
an HTTP client library keep the generator's own cost per request small next to the server's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from urllib.parse import urlsplit


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response; returns its status code."""
    status = int((await reader.readline()).split(b" ", 2)[1])
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while size := int((await reader.readline()).strip(), 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    else:
        await reader.readexactly(length)
    return status


async def _connection(host: str, port: int, request: bytes, warm_until: float, stop_at: float,
                      latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (started := time.perf_counter()) < stop_at:
            writer.write(request)
            status = await _read_response(reader)
            if started >= warm_until:
                if status == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors.append(status)
    finally:
        writer.close()


async def run(url: str, headers: list[str], connections: int, seconds: float, warmup: float) -> dict[str, float]:
    """Drive the URL and summarise latencies of the measured window."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", f"Host: {parts.netloc}", "Accept: application/json", *headers, "", ""]
    request = "\r\n".join(lines).encode()
    latencies: list[float] = []
    errors: list[int] = []
    now = time.perf_counter()
    warm_until, stop_at = now + warmup, now + warmup + seconds
    await asyncio.gather(*(
        _connection(parts.hostname or "127.0.0.1", parts.port or 80, request, warm_until, stop_at, latencies, errors)
        for _ in range(connections)
    ))
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100) if len(ms) > 1 else [ms[0] if ms else 0.0] * 99
    return {
        "requests": len(ms), "errors": len(errors), "req_per_s": len(ms) / seconds,
        "p50_ms": statistics.median(ms) if ms else 0.0, "p99_ms": q[98],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.url, args.header, args.connections, args.seconds, args.warmup))))
