"""An HTTP load generator in its own process, so that its CPU is counted apart from the service's.

:class:`LoadGen` starts one child process (``multiprocessing`` spawn) running an asyncio + aiohttp client
(aiohttp comes with ``ray[serve]``; per request it costs a fraction of httpx's CPU) and sends it phases:

- ``open``: requests sent on a fixed schedule (``rate`` per second for ``seconds``) whether or not earlier ones
  were answered, as independent users do; each has the whole-request deadline ``deadline_s``;
- ``closed``: ``clients`` back-to-back clients for ``seconds`` (a client refused with 503 pauses 50 ms);
- ``recover``: one request every 0.2 s until one is answered 200 within ``target_s``.

Every request is a single-variant ``POST /v1/score``. Each outcome comes back as a tuple ``(status,
latency_s, lateness_s, server_timing)``: status 0 is a client timeout, -1 another client error; ``lateness_s``
is how late the generator sent it against its schedule (a starved generator shows here, not as service
latency); ``server_timing`` the ``Server-Timing`` header's ``{name: ms}``. The child's own CPU seconds come
back with each phase.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time


def parse_server_timing(value: str | None) -> dict[str, float]:
    """``"app;dur=1.2, scorer;dur=0.8"`` -> ``{"app": 1.2, "scorer": 0.8}`` (milliseconds)."""
    out: dict[str, float] = {}
    for part in (value or "").split(","):
        name, _, rest = part.strip().partition(";")
        if rest.startswith("dur="):
            out[name] = float(rest[4:])
    return out


async def _one(session, url: str, body: dict, deadline_s: float, lateness: float) -> tuple:
    import aiohttp

    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(deadline_s):
            async with session.post(url, json=body) as r:
                await r.read()
                status, timing, retry = r.status, r.headers.get("server-timing"), r.headers.get("retry-after")
    except TimeoutError:
        return 0, time.perf_counter() - t0, lateness, {}, None
    except aiohttp.ClientError:
        return -1, time.perf_counter() - t0, lateness, {}, None
    return status, time.perf_counter() - t0, lateness, parse_server_timing(timing), retry


async def _open(session, url, variants, rate, seconds, deadline_s) -> list:
    n, t0, tasks = int(rate * seconds), time.perf_counter(), []
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body = {"variants": [variants[i % len(variants)]]}
        tasks.append(asyncio.create_task(_one(session, url, body, deadline_s, max(0.0, time.perf_counter() - due))))
    return list(await asyncio.gather(*tasks))


async def _closed(session, url, variants, clients, seconds, deadline_s) -> list:
    stop, out = time.perf_counter() + seconds, []

    async def client(k: int) -> None:
        i = k
        while time.perf_counter() < stop:
            res = await _one(session, url, {"variants": [variants[i % len(variants)]]}, deadline_s, 0.0)
            out.append(res)
            if res[0] == 503:
                await asyncio.sleep(0.05)
            i += clients

    await asyncio.gather(*[client(k) for k in range(clients)])
    return out


async def _recover(session, url, variants, target_s, limit_s) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < limit_s:
        res = await _one(session, url, {"variants": [variants[0]]}, limit_s, 0.0)
        if res[0] == 200 and res[1] <= target_s:
            return time.perf_counter() - t0
        await asyncio.sleep(0.2)
    return float("inf")


async def _serve(conn, base_url: str, variants: list[dict]) -> None:
    import aiohttp

    url = base_url + "/v1/score"
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        while True:
            msg = await asyncio.to_thread(conn.recv)
            if msg is None:
                return
            kind, kw = msg
            cpu0, t0 = time.process_time(), time.perf_counter()
            if kind == "open":
                res = await _open(session, url, variants, kw["rate"], kw["seconds"], kw["deadline_s"])
            elif kind == "closed":
                res = await _closed(session, url, variants, kw["clients"], kw["seconds"], kw["deadline_s"])
            else:
                res = await _recover(session, url, variants, kw["target_s"], kw.get("limit_s", 60.0))
            conn.send({"results": res, "cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - t0})


def _main(conn, base_url: str, variants: list[dict]) -> None:
    asyncio.run(_serve(conn, base_url, variants))


class LoadGen:
    """The generator's child process; :meth:`run` sends one phase and waits for its outcomes."""

    def __init__(self, base_url: str, variants: list[dict]):
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_main, args=(child, base_url, variants), daemon=True)
        self.proc.start()

    def run(self, kind: str, **kw) -> dict:
        self._conn.send((kind, kw))
        return self._conn.recv()

    def close(self) -> None:
        self._conn.send(None)
        self.proc.join(10)
