"""``textrnn serve`` under load, on loopback, against in-process prediction in the same run.

    python scripts/bench_serve.py [--seconds 4] [--json serve.json]

Classification (the shipped ``sst2-bilstm``, SST-2 dev sentences): texts/s and p50/p99 latency with 1, 8 and
64 concurrent clients sending 1 or 32 texts a request, with ``--workers`` 1 and 2, each answer checked against
``Classifier.predict``; the ratio to in-process ``predict`` on the same texts, measured beside each load, is
the figure. Generation (``shakespeare-char``): time to the first character and characters/s with 1 and 8
concurrent streams. Then a mixed load of good and bad requests, with clients that hang up in the middle of a
stream; afterwards the server must be healthy, with no stream left running. The server and this load
generator share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

from serve_client import Connection, served

from textrnn import load_classifier, load_generator

REPO = Path(__file__).resolve().parents[1]


def dev_texts(path: Path = REPO / "data" / "sst2" / "dev.tsv") -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [row["sentence"] for row in csv.DictReader(f, delimiter="\t")]


def in_process(classifier, texts: list[str], seconds: float) -> float:
    """Texts/s of ``classifier.predict`` over all of ``texts`` at once: the best of 3 runs of ``seconds / 3``
    (the most favourable baseline on a machine whose speed drifts)."""
    rates = []
    for _ in range(3):
        done, start = 0, time.perf_counter()
        while done == 0 or time.perf_counter() - start < seconds / 3:
            classifier.predict(texts)
            done += len(texts)
        rates.append(done / (time.perf_counter() - start))
    return max(rates)


def connect(url: str) -> Connection:
    parts = urlsplit(url)
    return Connection(parts.hostname, parts.port)


def _summary(latencies: list[float], items: int, elapsed: float) -> dict:
    cut = sorted(latencies)
    return {
        "requests": len(cut),
        "per_s": items / elapsed,
        "requests_per_s": len(cut) / elapsed,
        "p50_ms": 1000 * cut[len(cut) // 2],
        "p99_ms": 1000 * cut[min(len(cut) - 1, int(len(cut) * 0.99))],
    }


async def classify_load(url: str, texts: list[str], expected, clients: int, per_request: int, seconds: float):
    """``clients`` clients, each sending ``per_request`` texts a request for ``seconds``; answers checked."""
    latencies, wrong = [], 0
    start = time.perf_counter()

    async def client(k: int) -> None:
        nonlocal wrong
        conn, i = connect(url), k * per_request
        while time.perf_counter() - start < seconds:
            chunk = [(i + j) % len(texts) for j in range(per_request)]
            sent = time.perf_counter()
            status, body = await conn.request("POST", "/v1/classify", {"texts": [texts[c] for c in chunk]})
            latencies.append(time.perf_counter() - sent)
            for c, answer in zip(chunk, body["predictions"] if status == 200 else [None] * per_request):
                label, probability = expected[c]
                wrong += (
                    answer is None
                    or answer["label_id"] != label
                    or abs(answer["probability"] - probability) > 1e-4
                )
            i += clients * per_request
        await conn.close()

    await asyncio.gather(*(client(k) for k in range(clients)))
    elapsed = time.perf_counter() - start
    return {"clients": clients, "texts_per_request": per_request, "wrong": wrong} | _summary(
        latencies, len(latencies) * per_request, elapsed
    )


async def generation_load(url: str, streams: int, chars: int) -> dict:
    """``streams`` concurrent streams of ``chars`` characters: time to first character, characters/s."""
    firsts, rates = [], []

    async def stream(k: int) -> None:
        conn, received = connect(url), 0
        sent = time.perf_counter()
        request = {"prompt": "ROMEO:", "max_new_chars": chars, "seed": k, "stream": True}
        async for chunk in conn.stream("/v1/generate", request):
            for line in chunk.splitlines():
                if b'"delta"' in line:
                    received += 1
                    if received == 1:
                        firsts.append(time.perf_counter() - sent)
        rates.append(received / (time.perf_counter() - sent))
        await conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(stream(k) for k in range(streams)))
    elapsed = time.perf_counter() - start
    return {
        "streams": streams,
        "first_char_ms_p50": 1000 * statistics.median(firsts),
        "chars_per_s_per_stream": statistics.median(rates),
        "chars_per_s_total": streams * chars / elapsed,
    }


BAD = [  # (body, the status it must get)
    (b'{"texts": ["a"', 400),
    (b'{"texts": []}', 422),
    (b'{"texts": [1]}', 422),
    (b'{"text": ["a"]}', 422),
    (json.dumps({"texts": ["a"] * 1000}).encode(), 422),
    (b"[1, 2]", 422),
]


async def mixed_load(cls_url: str, gen_url: str, texts, expected, golden: str, rounds: int) -> dict:
    """Good and bad requests side by side, and streams abandoned midway; every answer checked."""
    failures = 0

    async def classify_round(k: int) -> None:
        nonlocal failures
        conn = connect(cls_url)
        for i in range(rounds):
            body, status = BAD[(k + i) % len(BAD)]
            failures += (await conn.request("POST", "/v1/classify", raw=body))[0] != status
            chunk = [(k * rounds + i) % len(texts)]
            got = (await conn.request("POST", "/v1/classify", {"texts": [texts[chunk[0]]]}))[1]
            failures += got["predictions"][0]["label_id"] != expected[chunk[0]][0]
        await conn.close()

    async def generate_round(k: int) -> None:
        nonlocal failures
        for _ in range(rounds):
            conn = connect(gen_url)
            async for _chunk in conn.stream(
                "/v1/generate", {"prompt": "ROMEO:", "max_new_chars": 4000, "stream": True}
            ):
                break  # hang up after the first characters
            await conn.close()
            conn = connect(gen_url)
            answer = await conn.request(
                "POST", "/v1/generate", {"prompt": "ROMEO:", "max_new_chars": 200, "seed": 1}
            )
            failures += answer[1]["texts"][0] != golden
            await conn.close()

    await asyncio.gather(*(classify_round(k) for k in range(8)), *(generate_round(k) for k in range(4)))
    await asyncio.sleep(0.5)  # the abandoned streams stop at their next step
    health = [await connect(u).request("GET", "/health") for u in (cls_url, gen_url)]
    stats = (await connect(gen_url).request("GET", "/v1/stats"))[1]
    healthy = all(status == 200 for status, _ in health) and stats["active_streams"] == 0
    return {"requests": rounds * (8 * 2 + 4 * 2), "failures": failures, "healthy_after": healthy}


async def run(args: argparse.Namespace) -> dict:
    texts = dev_texts()
    classifier = load_classifier("sst2-bilstm", device="cpu")
    probs = classifier.predict_proba(texts)
    expected = [(int(i), float(p)) for p, i in zip(*probs.max(dim=-1))]
    golden = load_generator("shakespeare-char", device="cpu").generate("ROMEO:", 200, temperature=0.8, seed=1)[
        0
    ]
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "classify": []}
    for workers in args.workers:
        with served("sst2-bilstm", "--workers", str(workers)) as url:
            for clients in (1, 8, 64):
                for per_request in (1, 32):
                    row = await classify_load(url, texts, expected, clients, per_request, args.seconds)
                    row["in_process_per_s"] = in_process(classifier, texts, min(args.seconds, 2))
                    row |= {"workers": workers, "ratio": row["per_s"] / row["in_process_per_s"]}
                    result["classify"].append(row)
    with served("sst2-bilstm") as cls_url, served("shakespeare-char") as gen_url:
        result["generate"] = [await generation_load(gen_url, n, args.chars) for n in (1, 8)]
        result["mixed"] = await mixed_load(cls_url, gen_url, texts, expected, golden, args.rounds)
    return result


def table(result: dict) -> str:
    lines = [
        "| workers | clients | texts/request | texts/s | in-process texts/s | ratio | requests/s | p50 ms "
        "| p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["classify"]:
        lines.append(
            f"| {r['workers']} | {r['clients']} | {r['texts_per_request']} | {r['per_s']:,.0f}"
            f" | {r['in_process_per_s']:,.0f}"
            f" | {r['ratio']:.2f} | {r['requests_per_s']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
        )
    lines += [
        "",
        "| streams | first character p50 ms | chars/s per stream | chars/s in all |",
        "| --- | --- | --- | --- |",
    ]
    for g in result["generate"]:
        lines.append(
            f"| {g['streams']} | {g['first_char_ms_p50']:.1f} | {g['chars_per_s_per_stream']:,.0f}"
            f" | {g['chars_per_s_total']:,.0f} |"
        )
    m = result["mixed"]
    lines += [
        "",
        f"mixed load: {m['requests']} requests, {m['failures']} failures, healthy after: {m['healthy_after']}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of each classification load")
    parser.add_argument("--chars", type=int, default=500, help="characters per measured stream")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the mixed load per client")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="server processes to measure")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    print(table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
