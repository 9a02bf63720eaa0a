"""What a cold start pays to import the app, against `import boto3` (which every Python Lambda on AWS pays).

Run from the repository root:  .venv/bin/python bench/cold_start.py [--runs 9] [--baseline GIT_REF]

Each figure is the median of N fresh Python processes, timed inside the process around the import
alone (interpreter start-up excluded), the cases interleaved run by run so drift on a shared machine
hits them all alike; one warm-up round first writes the bytecode caches. Cases:

- `import boto3`: the yardstick.
- `import app`: what every handler's cold start imports (websocket, REST, flows, consumers alike),
  with tracing off (the default): powertools Logger and Metrics, no X-Ray SDK.
- `import app` with PARLEY_TRACING=true: the X-Ray SDK and powertools' Tracer (which patches botocore).
- the SQS consumers' first batch, on top of `import app`: powertools batch and idempotency and the
  idempotency table's DynamoDB client, which only the consumers load, on their first batch.
- the knowledge base's search (chalicelib.kb), its English and French stemmers loaded: what the public search
  route adds, on its own; and `import snowballstemmer` whole, the import chalicelib/kb/text.py avoids.
- with --baseline, `import app` of that commit (extracted with `git archive` to a temporary directory),
  to show what a change added.

Writes bench/results/cold_start.json and prints a table; ratios are to `import boto3`, as the ratio of
the medians and as the median of each run's ratio to the boto3 run beside it (steadier when the
machine is shared).
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "bench" / "results" / "cold_start.json"
TIMER = ("import json, sys, time\nt = time.perf_counter()\n{code}\n"
         "print(json.dumps({{'ms': (time.perf_counter() - t) * 1000, 'xray': 'aws_xray_sdk' in sys.modules}}))")
CONSUMER = "import app\nt = time.perf_counter()\nfrom chalicelib.edges import consumers\nconsumers._persistence('email')\n" \
           "import aws_lambda_powertools.utilities.batch, aws_lambda_powertools.utilities.idempotency"
KB_SEARCH = "from chalicelib.kb import index, text\ntext.stem('a', 'en')\ntext.stem('a', 'fr')"
ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
       "AWS_REGION": "us-east-1", "PARLEY_TABLE_PREFIX": "parley-bench-", "PARLEY_TOKEN_SECRET": "bench"}


def run_once(code: str, cwd: Path, env: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", TIMER.format(code=code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    if done.returncode:
        raise RuntimeError(f"{code!r} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--baseline", help="a git ref whose `import app` to measure too")
    args = parser.parse_args()

    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "AWS_", "POWERTOOLS_"))}
    base_env.update(ENV)
    cases = {
        "import boto3": ("import boto3", ROOT, base_env),
        "import app (tracing off)": ("import app", ROOT, base_env),
        "import app (tracing on)": ("import app", ROOT, {**base_env, "PARLEY_TRACING": "true"}),
        "SQS consumer's first batch, after import app": (CONSUMER, ROOT, base_env),
        "knowledge base search, en and fr stemmers": (KB_SEARCH, ROOT, base_env),
        "import snowballstemmer (the whole package)": ("import snowballstemmer", ROOT, base_env),
    }
    scratch = None
    if args.baseline:
        scratch = Path(tempfile.mkdtemp(prefix="parley-baseline-"))
        archive = subprocess.run(["git", "archive", args.baseline], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(scratch)], input=archive.stdout, check=True)
        cases[f"import app at {args.baseline} (baseline)"] = ("import app", scratch, base_env)
    try:
        samples: dict[str, list[dict]] = {name: [] for name in cases}
        for code, cwd, env in cases.values():  # warm-up: bytecode caches
            run_once(code, cwd, env)
        for _ in range(args.runs):
            for name, (code, cwd, env) in cases.items():
                samples[name].append(run_once(code, cwd, env))
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)

    boto3_runs = [s["ms"] for s in samples["import boto3"]]
    boto3_ms = statistics.median(boto3_runs)
    figures = {}
    for name, runs in samples.items():
        ms = [s["ms"] for s in runs]
        figures[name] = {"median_ms": round(statistics.median(ms), 1), "min_ms": round(min(ms), 1),
                         "max_ms": round(max(ms), 1), "ratio_to_boto3": round(statistics.median(ms) / boto3_ms, 2),
                         # each run against the boto3 run next to it: steadier on a busy machine
                         "median_paired_ratio_to_boto3": round(statistics.median(
                             a / b for a, b in zip(ms, boto3_runs, strict=False)), 2),
                         "xray_sdk_loaded": all(s["xray"] for s in runs)}
    baseline = next((n for n in figures if n.endswith("(baseline)")), None)
    if baseline:
        app_runs = [s["ms"] for s in samples["import app (tracing off)"]]
        base_runs = [s["ms"] for s in samples[baseline]]
        figures["import app (tracing off)"]["median_paired_ratio_to_baseline"] = round(statistics.median(
            a / b for a, b in zip(app_runs, base_runs, strict=False)), 3)
    result = {
        "benchmark": "cold_start",
        "what": "import time in fresh processes, median of N, timed around the import only",
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "runs": args.runs,
        "cases": figures,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")
    width = max(len(n) for n in figures)
    print(f"{'case':<{width}}  median ms  ratio to boto3  paired ratio  X-Ray SDK")
    for name, f in figures.items():
        xray = "yes" if f["xray_sdk_loaded"] else "no"
        print(f"{name:<{width}}  {f['median_ms']:>9.1f}  {f['ratio_to_boto3']:>14.2f}  "
              f"{f['median_paired_ratio_to_boto3']:>12.2f}  {xray}")
    if baseline:
        print(f"\nimport app against {args.baseline}, paired by run: "
              f"{figures['import app (tracing off)']['median_paired_ratio_to_baseline']:.3f}")
    print(f"\nwritten to {RESULT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
