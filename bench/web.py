"""Load benchmark of the web app: concurrent signed-in users browsing statements and client explanations.

    python bench/web.py [--clients 100000] [--users 50] [--duration 60] [--period 2015-Q1]

Preparation (once, cached under bench/.cache/web-CLIENTS-seedSEED/): a synthetic area shaped for
contracts/marlshire.yaml, loaded into a warehouse, the period's draft statements made and written as a set (JSON and
CSV), and four users (finance `fin`, commissioner `cora`, providers `pat` for P01 and `quin` for P02). Each run copies
the prepared warehouse (the server writes its audit log there), starts `recoverypbr serve` on it as a child process on
a loopback port, and runs the scripted users in threads of this process: each signs in through the form (the session
cookie is Secure, so it is sent explicitly over the plain-HTTP loopback), then until the duration is over, with a
seeded think time of 0.5-1.5 s between requests, opens the statements index, a statement (a random page of its lines,
sometimes sorted by amount or filtered by outcome) or a client's explanation page (a client named on a line of a
statement the user may see; providers browse their own). Every request's latency and status is recorded.

Printed and written to bench/web-report.txt and bench/web-report.json: requests, errors, p50/p95/p99/max per kind
and overall, requests per second, and the server's peak resident memory. Exit status 1 when p95 >= 500 ms or any
request failed (acceptance, issue 14: 50 users on a 100,000-client area, p95 under 500 ms on the 2-core machine).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psutil

CACHE = Path(__file__).parent / ".cache"
ROOT = Path(__file__).resolve().parents[1]
CONTRACT = ROOT / "contracts" / "marlshire.yaml"
REPORT = Path(__file__).parent / "web-report"
PASSWORD = "correct horse battery staple"
#: user name -> (role, provider)
USERS = {"fin": ("finance", None), "cora": ("commissioner", None), "pat": ("provider", "P01"),
         "quin": ("provider", "P02")}
COOKIE = "recoverypbr_session"
TARGET_MS = 500.0

PREPARE = """
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from recoverypbr.contract.load import load_contract
from recoverypbr.data.ingest import load_extract
from recoverypbr.payments.cli import write_period_set
from recoverypbr.payments.run import make_statements, statement_period
from recoverypbr.payments.set_records import SetRecord
from recoverypbr.synth import generate_area
from recoverypbr.warehouse.connection import open_warehouse
from recoverypbr.web.users import add_user

clients, seed, folder, contract_path, label, password = (int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]),
                                                          sys.argv[4], sys.argv[5], sys.argv[6])
users = [u.split(":") for u in sys.argv[7:]]
model = load_contract(contract_path)
at = datetime(2026, 1, 5, tzinfo=UTC)
extract = folder / "extract"
if not (folder / ".generated").exists():
    started = time.perf_counter()
    generate_area(clients, seed, extract, "parquet", contract=model)
    (folder / ".generated").write_text("ok")
    print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)
db = folder / "area.duckdb"
db.unlink(missing_ok=True)
with open_warehouse(db) as wh:
    started = time.perf_counter()
    load_extract(wh, extract)
    print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
    started = time.perf_counter()
    period = statement_period(model, label)
    made = make_statements(wh, model, period, period.end)
    record = SetRecord((folder / "statements").resolve(), period.end, None, ("csv", "json"))
    write_period_set(wh, model, period, record, made, at)
    print(f"  statements for {label} made and written in {time.perf_counter() - started:.0f} s "
          f"({sum(len(s.document()['lines']) for s in made):,} lines)", flush=True)
    for name, role, provider in users:
        add_user(wh, name, role, provider or None, password, at)
"""


def prepare(clients: int, seed: int, period: str) -> Path:
    """The cached prepared area (warehouse, statement set, users), made on first use."""
    folder = CACHE / f"web-{clients}-seed{seed}-{period}"
    if not (folder / ".ready").exists():
        folder.mkdir(parents=True, exist_ok=True)
        print(f"preparing a {clients:,}-client area with {period} statements in {folder} (once) ...", flush=True)
        users = [f"{n}:{r}:{p or ''}" for n, (r, p) in USERS.items()]
        subprocess.run([sys.executable, "-c", PREPARE, str(clients), str(seed), str(folder), str(CONTRACT), period,
                        PASSWORD, *users], check=True)
        (folder / ".ready").write_text("ok")
    return folder


def statements_shown(folder: Path) -> dict[str, dict[str, Any]]:
    """Per provider of the written set: its line count, the client ids and outcome ids its lines name."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted((folder / "statements").rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc, dict) or "lines" not in doc or not isinstance(doc.get("provider"), dict):
            continue
        found[str(doc["provider"]["id"])] = {
            "lines": len(doc["lines"]),
            "clients": sorted({str(ln["client_id"]) for ln in doc["lines"] if ln.get("client_id")}),
            "outcomes": sorted({str(ln["outcome_id"]) for ln in doc["lines"] if ln.get("outcome_id")}),
        }
    return found


def visible_clients(db: Path, named: dict[str, list[str]]) -> dict[str, list[str]]:
    """Of the clients named on each provider's lines, those with an episode with that provider (the clients whose
    page its own users may open: the draft's lines also name a split's shared clients, which a provider sees only
    once the statement is approved)."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        found: dict[str, list[str]] = {}
        for provider, ids in named.items():
            rows = con.execute("SELECT DISTINCT client_id FROM episodes WHERE provider_id = ? AND client_id IN "
                               "(SELECT unnest(?::VARCHAR[])) ORDER BY 1", [provider, ids]).fetchall()
            if rows:
                found[provider] = [r[0] for r in rows]
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(db: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = log.open("wb")
    server = subprocess.Popen([sys.executable, "-m", "recoverypbr", "serve", "--db", str(db), "--contract",
                               str(CONTRACT), "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped with exit code {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("the server did not answer within 120 s")


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: list[tuple[str, float, int]] = []
        self.failures: list[str] = []

    def add(self, kind: str, ms: float, status: int, note: str = "") -> None:
        with self.lock:
            self.samples.append((kind, ms, status))
            if note:
                self.failures.append(note)


def sign_in(client: httpx.Client, name: str) -> None:
    """Sign in through the form; keep the session cookie and send it explicitly (it is Secure, the server is
    plain HTTP on the loopback)."""
    form = client.get("/sign-in")
    cookie = form.cookies.get(COOKIE) or client.headers.get("cookie", "").partition("=")[2]
    if cookie:
        client.headers["cookie"] = f"{COOKIE}={cookie}"
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    if token is None:
        raise RuntimeError("no CSRF token on the sign-in form")
    done = client.post("/sign-in", data={"user_name": name, "password": PASSWORD, "csrf_token": token.group(1)})
    if done.status_code != 303 or COOKIE not in done.cookies:
        raise RuntimeError(f"sign-in of {name} gave {done.status_code}")
    client.headers["cookie"] = f"{COOKIE}={done.cookies[COOKIE]}"
    client.cookies.clear()


class Start:
    """Sign-ins first (Argon2 makes each cost a deliberate fraction of a second, so they are let in a few at a time
    and not timed as browsing), then every user browses from one moment for the duration."""

    def __init__(self, users: int, duration: float, at_once: int) -> None:
        self.signing = threading.Semaphore(at_once)
        self.duration = duration
        self.began = 0.0
        self.stop_at = 0.0
        self.barrier = threading.Barrier(users, action=self._go)

    def _go(self) -> None:
        self.began = time.monotonic()
        self.stop_at = self.began + self.duration


def browse(base: str, name: str, seed: int, start: Start, period: str, clients: dict[str, list[str]],
           outcomes: dict[str, list[str]], pages: dict[str, int], think: tuple[float, float],
           recorder: Recorder, warm_up: bool) -> None:
    rng = random.Random(seed)
    own = USERS[name][1]
    providers = [own] if own else sorted(clients)
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as client:
        signed_in = False
        with start.signing:
            started = time.perf_counter()
            try:
                sign_in(client, name)
                recorder.add("sign-in", (time.perf_counter() - started) * 1000, 303)
                signed_in = True
            except (RuntimeError, httpx.HTTPError) as exc:
                recorder.add("sign-in", (time.perf_counter() - started) * 1000, 0, f"{name}: {exc}")
        if signed_in and warm_up:  # the server's first reads (each statement, the ledger) before the clock starts
            for url in ["/statements", *[f"/statements/{period}/{p}" for p in providers],
                        *[f"/clients/{clients[p][0]}" for p in providers]]:
                began = time.perf_counter()
                try:
                    status = client.get(url, timeout=300).status_code
                except httpx.HTTPError as exc:
                    recorder.add("warm-up", (time.perf_counter() - began) * 1000, 0, f"warm-up {url}: {exc!r}")
                    continue
                recorder.add("warm-up", (time.perf_counter() - began) * 1000, status,
                             "" if status == 200 else f"warm-up {url}: {status}")
        start.barrier.wait()
        if not signed_in:
            return
        time.sleep(rng.uniform(0, think[1]))  # users do not all ask at the same instant
        while time.monotonic() < start.stop_at:
            pick = rng.random()
            provider = rng.choice(providers)
            if pick < 0.2:
                kind, url, params = "index", "/statements", {}
            elif pick < 0.6:
                kind, url = "statement", f"/statements/{period}/{provider}"
                params = {"page": str(rng.randint(1, pages[provider]))}
                style = rng.random()
                if style < 0.25:
                    params |= {"sort": "amount", "order": rng.choice(("asc", "desc"))}
                elif style < 0.45 and outcomes[provider]:
                    params = {"outcome": rng.choice(outcomes[provider]), "page": "1"}
            else:
                kind, url, params = "client", f"/clients/{rng.choice(clients[provider])}", {}
            began = time.perf_counter()
            try:
                response = client.get(url, params=params)
                ms = (time.perf_counter() - began) * 1000
                ok = response.status_code == 200 and "sign-in" not in str(response.headers.get("location", ""))
                recorder.add(kind, ms, response.status_code,
                             "" if ok else f"{name} {url} {params}: {response.status_code} {response.text[:200]!r}")
            except httpx.HTTPError as exc:
                recorder.add(kind, (time.perf_counter() - began) * 1000, 0, f"{name} {url} {params}: {exc!r}")
            time.sleep(rng.uniform(*think))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered), max(1, math.ceil(q / 100 * len(ordered)))) - 1]  # nearest rank


def summary(values: list[float], statuses: list[int]) -> dict[str, float]:
    return {"count": len(values), "errors": sum(1 for s in statuses if s not in (200, 303)),
            "p50_ms": percentile(values, 50), "p95_ms": percentile(values, 95), "p99_ms": percentile(values, 99),
            "max_ms": max(values, default=0.0), "mean_ms": statistics.fmean(values) if values else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--period", default="2015-Q1", help="The statement period browsed (drafts made once).")
    parser.add_argument("--users", type=int, default=50, help="Concurrent scripted users.")
    parser.add_argument("--duration", type=float, default=60.0, help="Seconds of browsing after signing in.")
    parser.add_argument("--think", type=float, nargs=2, default=(0.5, 1.5), metavar=("MIN", "MAX"),
                        help="Think time between a user's requests, seconds.")
    parser.add_argument("--report", type=Path, default=REPORT, help="Report path without suffix (.txt, .json).")
    parser.add_argument("--prepare-only", action="store_true", help="Prepare the cached area and stop.")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    folder = prepare(args.clients, args.seed, args.period)
    if args.prepare_only:
        return
    shown = statements_shown(folder)
    clients = {p: v["clients"] for p, v in shown.items() if v["clients"]}
    outcomes = {p: v["outcomes"] for p, v in shown.items()}
    lines = {p: v["lines"] for p, v in shown.items()}
    pages = {p: max(1, -(-n // 50)) for p, n in lines.items()}
    clients = visible_clients(folder / "area.duckdb", clients)
    missing = [p for _, (_, p) in USERS.items() if p and p not in clients]
    if missing:
        raise SystemExit(f"no {args.period} statement lines for {', '.join(missing)}: choose another --period")
    run = CACHE / "web-run"
    shutil.rmtree(run, ignore_errors=True)
    run.mkdir()
    db = run / "area.duckdb"
    shutil.copyfile(folder / "area.duckdb", db)
    with duckdb.connect(str(db)) as con:  # the cache may have been moved: its sets are where the cache is now
        con.execute("UPDATE statement_sets SET folder = ?", [str((folder / "statements").resolve())])
    port = free_port()
    print(f"starting the server on 127.0.0.1:{port} ...", flush=True)
    server = start_server(db, port, run / "server.log")
    process = psutil.Process(server.pid)
    peak = 0
    recorder = Recorder()
    names = list(USERS)
    try:
        start = Start(args.users, args.duration, 2)
        threads = [threading.Thread(target=browse, args=(
            f"http://127.0.0.1:{port}", names[i % len(names)], args.seed * 1000 + i, start, args.period, clients,
            outcomes, pages, tuple(args.think), recorder, i == 0), daemon=True) for i in range(args.users)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.25)
            if start.stop_at and time.monotonic() > start.stop_at + 120:
                break
        wall = time.monotonic() - start.began
        peak = max(peak, process.memory_info().rss)
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    browsing = [(k, ms, s) for k, ms, s in recorder.samples if k not in ("sign-in", "warm-up")]
    kinds: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for kind, ms, status in recorder.samples:
        kinds[kind].append((ms, status))
    overall = summary([ms for _, ms, _ in browsing], [s for _, _, s in browsing])
    errors = len(recorder.failures)
    report: dict[str, Any] = {
        "clients": args.clients, "seed": args.seed, "period": args.period, "users": args.users,
        "duration_s": args.duration, "think_s": list(args.think), "wall_s": round(wall, 1),
        "statement_lines": lines, "cpus": os.cpu_count(),
        "overall": overall, "requests_per_s": round(len(browsing) / args.duration, 1),
        "kinds": {k: summary([ms for ms, _ in v], [s for _, s in v]) for k, v in sorted(kinds.items())},
        "errors": int(errors), "failures": recorder.failures[:20],
        "server_peak_rss_mib": round(peak / 2**20, 1),
        "target_p95_ms": TARGET_MS,
        "command": "python bench/web.py " + " ".join(sys.argv[1:]),
    }
    report["passed"] = overall["p95_ms"] < TARGET_MS and errors == 0
    text = [f"web app under load: {args.users} users for {args.duration:.0f} s, think {args.think[0]}-"
            f"{args.think[1]} s, on a {args.clients:,}-client area ({args.period} statements: "
            + ", ".join(f"{p} {n:,} lines" for p, n in sorted(lines.items())) + f"); {os.cpu_count()} cores",
            f"{'kind':<10} {'count':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}"]
    for name, row in [*report["kinds"].items(), ("overall", overall)]:
        text.append(f"{name:<10} {row['count']:>6} {row['errors']:>6} {row['p50_ms']:>8.0f} {row['p95_ms']:>8.0f} "
                    f"{row['p99_ms']:>8.0f} {row['max_ms']:>8.0f}")
    text += [f"requests per second {report['requests_per_s']} (browsing, sign-ins excluded)",
             f"server peak RSS     {report['server_peak_rss_mib']:.0f} MiB",
             f"errors             {report['errors']}",
             f"result             {'PASS' if report['passed'] else 'FAIL'} (p95 under {TARGET_MS:.0f} ms, no errors)"]
    text += [f"  failure: {f}" for f in recorder.failures[:10]]
    print("\n".join(text))
    args.report.with_suffix(".txt").write_text("\n".join(text) + "\n", encoding="utf-8")
    args.report.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if not report["passed"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
