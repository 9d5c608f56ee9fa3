"""Acting on the code table's verdicts: per-request retries with backoff, a retry budget, fixes
as strategies, and adaptive concurrency."""
