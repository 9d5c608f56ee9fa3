"""Where the embedded SeaweedFS server spends its CPU while a contender uploads.

    python benchmarks/server_profile.py [--contender resilient-s3-async] [--workload large]
                                        [--seconds 15] [--top 25]

Starts the embedded server with Go's profiling endpoint on, warms it up, then uploads the
bench's data set with the contender (one worker process per upload, as in ``resilient-s3
bench``) again and again while the server records a CPU profile. Prints the server's CPU per
GiB and the functions it spent it in (flat: in the function itself; cumulative: in it and what
it called).

On these 2-core machines the server and the client share the CPU, so the server's CPU per GiB
sets a ceiling on every client's throughput: at most cores / (server + client CPU per GiB).
"""

from __future__ import annotations

import argparse
import collections
import gzip
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from resilient_s3._bench.data import make_data
from resilient_s3._bench.harness import run_worker
from resilient_s3._bench.protocol import GiB, MiB, RunSpec
from resilient_s3._bench.servers import _free_port, process_cpu_seconds

from resilient_s3.testing import S3Server

# -- the few parts of Go's pprof format (gzipped protobuf) this needs ---------------------


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def _fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            length, i = _varint(data, i)
            value, i = data[i : i + length], i + length
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
        yield number, wire, value


def _integers(value: int | bytes) -> list[int]:
    """A repeated integer field: one value, or a packed run of them."""
    if isinstance(value, int):
        return [value]
    out, i = [], 0
    while i < len(value):
        number, i = _varint(value, i)
        out.append(number)
    return out


def cpu_by_function(
    profile: bytes,
) -> tuple[float, collections.Counter[str], collections.Counter[str]]:
    """(CPU seconds sampled, flat seconds by function, cumulative seconds by function)."""
    samples: list[tuple[list[int], list[int]]] = []
    locations: dict[int, list[int]] = {}
    functions: dict[int, int] = {}
    strings: list[str] = []
    for number, _, value in _fields(gzip.decompress(profile)):
        if not isinstance(value, bytes):  # scalars: times, period
            continue
        if number == 2:  # Sample: location ids (leaf first), values
            ids: list[int] = []
            values: list[int] = []
            for n, _, v in _fields(value):
                (ids if n == 1 else values if n == 2 else []).extend(_integers(v))
            samples.append((ids, values))
        elif number == 4:  # Location: id, lines (each naming a function)
            location, names = 0, []
            for n, _, v in _fields(value):
                if n == 1:
                    location = int(v)  # type: ignore[arg-type]
                elif n == 4:
                    names += [int(fv) for fn, _, fv in _fields(v) if fn == 1]  # type: ignore[arg-type]
            locations[location] = names
        elif number == 5:  # Function: id, name (an index into the string table)
            parsed = {n: v for n, _, v in _fields(value)}
            functions[int(parsed.get(1, 0))] = int(parsed.get(2, 0))  # type: ignore[arg-type]
        elif number == 6:
            strings.append(value.decode())
    flat: collections.Counter[str] = collections.Counter()
    cumulative: collections.Counter[str] = collections.Counter()
    total = 0.0
    for ids, values in samples:
        nanoseconds = values[-1] if values else 0
        total += nanoseconds
        stack = [strings[functions[f]] for loc in ids for f in locations.get(loc, [])]
        if stack:
            flat[stack[0]] += nanoseconds
        for name in set(stack):
            cumulative[name] += nanoseconds
    scale = 1e-9
    return (
        total * scale,
        collections.Counter({k: v * scale for k, v in flat.items()}),
        collections.Counter({k: v * scale for k, v in cumulative.items()}),
    )


# -- the run ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contender", default="resilient-s3-async")
    parser.add_argument("--workload", choices=("large", "small"), default="large")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    port = _free_port()
    with (
        tempfile.TemporaryDirectory(prefix="rs3-server-profile-") as tmp,
        S3Server(buckets=["bench"], extra_args=["-debug", f"-debug.port={port}"]) as server,
    ):
        data = make_data(Path(tmp), large_size=256 * MiB, small_count=1000, small_size=64 * 1024)
        assert server.pid is not None

        def upload(n: int) -> int:
            spec = RunSpec(
                contender=args.contender,
                workload=args.workload,
                endpoint_url=server.endpoint_url,
                region=server.region,
                bucket="bench",
                prefix=f"run{n}/",
                source=str(data.source(args.workload)),
                access_key=server.access_key,
                secret_key=server.secret_key,
            )
            result, failure = run_worker(spec, sys.executable, 300, Path(tmp) / "worker.log")
            if result is None or not result.ok:
                raise SystemExit(f"{args.contender} failed: {failure or (result and result.error)}")
            return data.size(args.workload)

        upload(0)  # the first upload pays for the server's first volumes
        profile: list[bytes] = []
        url = f"http://127.0.0.1:{port}/debug/pprof/profile?seconds={args.seconds}"
        recorder = threading.Thread(
            target=lambda: profile.append(
                urllib.request.urlopen(url, timeout=args.seconds + 60).read()
            )
        )
        cpu_before = process_cpu_seconds(server.pid) or 0.0
        recorder.start()
        uploaded, n, end = 0, 1, time.monotonic() + args.seconds - 1
        while time.monotonic() < end:
            uploaded += upload(n)
            n += 1
        recorder.join()
        server_cpu = (process_cpu_seconds(server.pid) or 0.0) - cpu_before

    total, flat, cumulative = cpu_by_function(profile[0])
    print(
        f"{args.contender}, {args.workload}: {n - 1} uploads, {uploaded / MiB:.0f} MiB; "
        f"server CPU {server_cpu / (uploaded / GiB):.2f} s/GiB"
    )
    print(f"\nflat (of {total:.1f} CPU-s sampled)")
    for name, seconds in flat.most_common(args.top):
        print(f"  {seconds / total:6.1%}  {name}")
    print("\ncumulative")
    for name, seconds in cumulative.most_common(args.top):
        print(f"  {seconds / total:6.1%}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
