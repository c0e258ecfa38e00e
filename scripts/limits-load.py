#!/usr/bin/env python3
"""Before/after figures for issue 8 items 6, 8 and 9 (denial of service).

Runs each scenario against a fresh `danbao serve --sandbox` of every binary given, on this
machine only (loopback; clients bind 127.0.x.y source addresses to play many clients), and
prints one line per figure with the ratio after/before. Every loop is bounded in count and
time.

    python3 scripts/limits-load.py --before /tmp/danbao-before --after target/release/danbao

Needs aiohttp (PyPI).
"""

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time

import aiohttp


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vm(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


class Server:
    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="danbao-load-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--sandbox", "--port", str(self.port), "--data-dir", self.dir],
            stdout=self.log,
            stderr=self.log,
            env={k: v for k, v in os.environ.items() if not k.startswith("DANBAO_")},
        )

    async def ready(self):
        async with aiohttp.ClientSession() as s:
            for _ in range(300):
                try:
                    async with s.get(self.url + "/readyz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("server did not start; see " + self.log.name)

    def rss(self):
        return vm(self.proc.pid, "VmRSS")

    def peak(self):
        return vm(self.proc.pid, "VmHWM")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def db_rows(self, sql):
        db = sqlite3.connect(f"file:{os.path.join(self.dir, 'danbao.db')}?mode=ro", uri=True)
        try:
            return db.execute(sql).fetchone()
        finally:
            db.close()


def session_from(address):
    """A client whose connections come from `address` (a 127.x.y.z loopback address)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(address, 0), limit=0, force_close=True),
        timeout=aiohttp.ClientTimeout(total=120),
    )


async def post(s, url, body, headers=None):
    async with s.post(url, json=body, headers=headers or {}) as r:
        text = await r.text()
        try:
            return r.status, json.loads(text)
        except ValueError:
            return r.status, text


async def shop(server, keys):
    """A seller with a card-key product of `keys` keys; returns the product id."""
    async with session_from("127.0.0.1") as s:
        name = f"load_seller_{int(time.time() * 1000) % 10**9}"
        st, _ = await post(s, server.url + "/api/v1/accounts", {"username": name, "password": "load-password", "role": "seller"})
        assert st == 201, st
        st, b = await post(s, server.url + "/api/v1/sessions", {"username": name, "password": "load-password"})
        assert st == 200, (st, b)
        auth = {"Authorization": "Bearer " + b["token"]}
        st, p = await post(
            s,
            server.url + "/api/v1/seller/products",
            {"title": "load", "description": "load", "category": "game_cards", "price_minor": 100, "delivery_kind": "card_key"},
            auth,
        )
        assert st == 201, (st, p)
        lines = "\n".join(f"LOAD-{p['id']}-{i:06d}" for i in range(keys))
        async with s.post(server.url + f"/api/v1/seller/products/{p['id']}/card-keys", data=lines,
                          headers={**auth, "Content-Type": "text/plain"}) as r:
            assert r.status == 200, await r.text()
        return p["id"]


async def wrong_logins(server, n=96):
    """n concurrent wrong logins, each from its own address and for its own username (the
    worst case for per-address and per-account limits: only the hashing bound is left)."""
    base = server.rss()
    sessions = [session_from(f"127.0.1.{i + 1}") for i in range(n)]
    try:
        async def one(i):
            st, _ = await post(sessions[i], server.url + "/api/v1/sessions",
                               {"username": f"nobody{i}", "password": "wrong-password-123"})
            return st
        t0 = time.monotonic()
        statuses = await asyncio.gather(*(one(i) for i in range(n)))
        took = time.monotonic() - t0
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return base, server.peak(), took, statuses


async def checkout_flood(server, product, flood=64, seconds=15, honest=20):
    """`flood` concurrent guest checkouts in a loop from one address (fresh contacts, so the
    contact limit never binds) while an honest buyer at another address checks out
    `honest` times, one after another; returns the honest latencies."""
    stop = time.monotonic() + seconds
    flood_statuses = []

    async def attacker(s, i):
        k = 0
        while time.monotonic() < stop:
            k += 1
            st, _ = await post(s, server.url + "/api/v1/orders",
                               {"product_id": product, "quantity": 1, "contact": f"flood-{i}-{k}",
                                "query_password": "flood-password"})
            flood_statuses.append(st)

    latencies = []

    async def buyer():
        async with session_from("127.0.0.2") as s:
            await asyncio.sleep(2)  # the flood is under way
            for k in range(honest):
                t0 = time.monotonic()
                st, b = await post(s, server.url + "/api/v1/orders",
                                   {"product_id": product, "quantity": 1, "contact": f"honest-{k}",
                                    "query_password": "honest-password"})
                latencies.append(time.monotonic() - t0)
                assert st == 201, (st, b)

    async with session_from("127.0.0.1") as s:
        await asyncio.gather(buyer(), *(attacker(s, i) for i in range(flood)))
    latencies.sort()
    return latencies, flood_statuses


async def hoarding(server, product, other, tries=60):
    """Units one guest contact holds unpaid of `product` (orders of 100 until refused), and
    units one address holds unpaid of `other` with a fresh contact for every order."""
    async with session_from("127.0.2.1") as s:
        held = 0
        for _ in range(tries):
            st, _ = await post(s, server.url + "/api/v1/orders",
                               {"product_id": product, "quantity": 100, "contact": "hoarder",
                                "query_password": "hoarder-password"})
            if st != 201:
                # Smaller orders until even one unit is refused.
                for q in (10, 1):
                    while True:
                        st, _ = await post(s, server.url + "/api/v1/orders",
                                           {"product_id": product, "quantity": q, "contact": "hoarder",
                                            "query_password": "hoarder-password"})
                        if st != 201:
                            break
                        held += q
                break
            held += 100
    one_contact = held
    async with session_from("127.0.2.2") as s:
        held = 0
        for k in range(tries):
            ok = False
            for q in (100, 10, 1):
                st, _ = await post(s, server.url + "/api/v1/orders",
                                   {"product_id": other, "quantity": q, "contact": f"rotating-{k}-{q}",
                                    "query_password": "hoarder-password"})
                if st == 201:
                    held += q
                    ok = True
                    break
            if not ok:
                break
    return one_contact, held


async def forged_notifications(server, n=1000):
    before = server.db_rows("SELECT COUNT(*) FROM security_events")[0]
    async with session_from("127.0.3.1") as s:
        sem = asyncio.Semaphore(32)

        async def one(i):
            async with sem:
                async with s.post(server.url + "/api/v1/payments/sandbox/notify", data=f'{{"forged":{i}}}',
                                  headers={"X-Sandbox-Signature": "00"}) as r:
                    await r.read()
                    return r.status
        statuses = await asyncio.gather(*(one(i) for i in range(n)))
    after = server.db_rows("SELECT COUNT(*) FROM security_events")[0]
    return after - before, statuses


async def oversized_bodies(server, n=32, size=8 * 1024 * 1024):
    """n concurrent POST /api/v1/orders with an Idempotency-Key and a `size` body."""
    base = server.rss()
    body = b'{"contact":"' + b"x" * (size - 20) + b'"}'
    sessions = [session_from(f"127.0.4.{i + 1}") for i in range(n)]

    async def one(i):
        try:
            async with sessions[i].post(server.url + "/api/v1/orders", data=body,
                                        headers={"Content-Type": "application/json", "Idempotency-Key": f"big-{i}"}) as r:
                await r.read()
                return r.status
        except aiohttp.ClientError as e:
            return type(e).__name__
    try:
        statuses = await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    rows = server.db_rows("SELECT COUNT(*) FROM idempotency_keys")[0]
    return base, server.peak(), statuses, rows


def mib(b):
    return f"{b / 2**20:.0f} MiB"


async def measure(binary):
    out = {}
    s = Server(binary)
    try:
        await s.ready()
        base, peak, took, st = await wrong_logins(s)
        out["logins_peak"] = peak
        out["logins_growth"] = peak - base
        print(f"  96 wrong logins: rss {mib(base)} -> peak {mib(peak)} in {took:.1f} s; statuses {sorted(set(st))}")
    finally:
        s.stop()
    s = Server(binary)
    try:
        await s.ready()
        product = await shop(s, 5000)
        lat, fst = await checkout_flood(s, product)
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        out["checkout_p50"], out["checkout_p99"] = p50, p99
        print(f"  honest checkout under a 64-way flood: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms; "
              f"flood answers {dict((k, fst.count(k)) for k in sorted(set(fst)))}")
        one, rotating = await hoarding(s, await shop(s, 1000), await shop(s, 1000))
        out["hoard_contact"], out["hoard_address"] = one, rotating
        print(f"  units held unpaid of a 1000-key product: one contact {one}, one address rotating contacts {rotating}")
        rows, st = await forged_notifications(s)
        out["forged_rows"] = rows
        print(f"  1000 forged notifications: {rows} security_events rows; statuses {sorted(set(st))}")
    finally:
        s.stop()
    s = Server(binary)
    try:
        await s.ready()
        base, peak, st, rows = await oversized_bodies(s)
        out["body_growth"] = max(peak - base, 0)
        print(f"  32 x 8 MiB bodies with Idempotency-Key: rss {mib(base)} -> peak {mib(peak)}; "
              f"statuses {sorted(set(map(str, st)))}; idempotency rows {rows}")
    finally:
        s.stop()
    return out


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    a = ap.parse_args()
    print(f"before: {a.before}")
    before = await measure(a.before)
    print(f"after: {a.after}")
    after = await measure(a.after)
    print("ratios after/before:")
    for k in before:
        b, x = before[k], after[k]
        print(f"  {k}: before {b:.4g}, after {x:.4g}, ratio {x / b if b else float('nan'):.3f}")


if __name__ == "__main__":
    asyncio.run(main())
