"""The benchmark harness behind ``resilient-s3 bench``.

It compares resilient-s3 with other S3 upload clients on the same server and the same data,
with and without faults. Every run of a contender happens in its own worker process
(``python -m resilient_s3_bench.worker``, JSON in and out), one at a time; the parent starts the
server and the fault-injecting proxy, verifies what landed, and writes the report.

Modules, by job:

- ``cli``: the command-line options and the entry point (``add_arguments``, ``run``, ``main``)
- ``harness``: orchestration: profiles, order of runs, timeouts, verification, clean-up
- ``servers``: the S3 server to benchmark against (embedded SeaweedFS, a MinIO binary, any
  endpoint) and the credentials endpoint for the ``expiring`` profile
- ``data``: the random data set, written once
- ``contenders``: what each contender is (its signing mode, what it needs to be importable)
- ``worker`` and ``runners``: the worker process and the contenders' upload code
- ``creds``: ``credential_process`` helper that fetches keys from the parent
- ``report`` and ``progress``: the table, results.json/csv, chart.png, and the live display
"""
