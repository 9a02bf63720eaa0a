"""Where the local stack's CPU goes: py-spy's collapsed stacks, each sample put in one bucket.

A sample belongs to the innermost frame that names a bucket, looked up from the inside out, so
time in botocore called by the app counts as botocore, and time in moto answering it counts as moto.
Samples of idle threads are not recorded (py-spy skips them unless --idle), so the shares are of
CPU actually spent. Run: .venv/bin/python bench/_stacks.py profile.txt (a helper of bench/load.py: `make bench` skips files named _*)
"""
import re
import sys
from collections import Counter
from pathlib import Path

# (bucket, pattern on a frame's file path); the first pattern that matches a frame names its bucket.
BUCKETS = [
    ("atomicity lock", r"infra/local/fidelity\.py"),
    ("logging and metrics", r"(^|/)logging/|aws_lambda_powertools/(logging|metrics)|chalicelib/observability\.py"),
    ("moto: dynamodb", r"(^|/)moto/dynamodb"),
    ("moto: step functions", r"(^|/)(moto/stepfunctions|antlr4)/"),
    ("moto: sqs, events, others", r"(^|/)moto/"),
    ("moto's HTTP server (werkzeug)", r"(^|/)werkzeug/|socketserver\.py"),
    ("botocore: signing", r"botocore/(auth|signers|credentials)\.py"),
    ("botocore: serialization and parsing", r"botocore/(serialize|parsers|validate|model)\.py"),
    ("HTTP client (urllib3, http.client)", r"(^|/)urllib3/|http/client\.py|botocore/(httpsession|awsrequest)\.py"),
    ("botocore: other", r"(^|/)(botocore|boto3)/"),
    ("pynamodb", r"(^|/)pynamodb/"),
    ("gateway (aiohttp, websockets)", r"infra/local/(gateway|sigv4)\.py|(^|/)(aiohttp|yarl|multidict)/"),
    ("local pollers (streams, queues, email)", r"infra/local/(events|sqs|outbox|flows)\.py"),
    ("app handlers (chalicelib, app.py, chalice)", r"chalicelib/|(^|[^/])app\.py|(^|/)chalice/"),
    ("JSON", r"(^|/)json/"),
    ("asyncio and threads", r"(^|/)asyncio/|threading\.py|concurrent/futures"),
]
COMPILED = [(name, re.compile(pattern)) for name, pattern in BUCKETS]
FRAME_FILE = re.compile(r"\(([^():]+)(?::\d+)?\)$")


# Buckets that everyone calls: a sample lands in one only when no other bucket is on its stack.
GENERIC = {"JSON", "asyncio and threads"}


def bucket(stack: str) -> str:
    paths = [m.group(1) if (m := FRAME_FILE.search(frame.strip())) else "" for frame in stack.split(";")]
    fallback = None
    for path in reversed(paths):
        for name, pattern in COMPILED:
            if pattern.search(path):
                if name not in GENERIC:
                    return name
                fallback = fallback or name
                break
    return fallback or "other"


def breakdown(path: Path) -> dict:
    counts: Counter = Counter()
    for line in Path(path).read_text(errors="replace").splitlines():  # py-spy may cut a name mid-character
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():  # (py-spy also writes a few lines of a module docstring)
            counts[bucket(stack)] += int(count)
    total = sum(counts.values()) or 1
    return {"samples": total, "share": {name: round(n / total, 3) for name, n in counts.most_common()}}


if __name__ == "__main__":
    result = breakdown(Path(sys.argv[1]))
    print(f"{result['samples']} samples")
    for name, share in result["share"].items():
        print(f"  {share:6.1%}  {name}")
