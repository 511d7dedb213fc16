"""How true are infrec's generative-AI figures? An AIBenchmarkJob, created through the API of a real
`infrec serve`, measures `infrec/llmsim` — an OpenAI-compatible server whose time to first token
and inter-token delay are set (TTFT_MS, ITL_MS) — and its figures are compared with the truth:

- TTFT: the set TTFT (the server adds nothing measurable on loopback);
- ITL: the set inter-token delay;
- output tokens/s at concurrency C with OSL tokens per answer: C × OSL / (TTFT + (OSL − 1) × ITL).

The same target is then measured by NVIDIA AIPerf (PyPI `aiperf`, installed into its own venv at
.infrec/aiperf-venv; it gets a word-level tokenizer built here, so nothing is downloaded) and
`vs_aiperf` is infrec's output tokens/s over AIPerf's (`na` with the reason when AIPerf cannot run).

The job reaches the simulator through INFREC_EXTERNAL_ENDPOINTS (the documented way to benchmark
any OpenAI-compatible URL); results are read from the job's S3 output (moto's server on loopback).

A benchmark, not a test: it prints figures; the last line is
`genai: ttft_error=<%> itl_error=<%> tokens_per_s_error=<%> vs_aiperf=<ratio or na>` (worst over
INFREC_GENAI_REPEATS runs, default 3; the spread is printed per run). Run with `make bench-genai`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TTFT_MS, ITL_MS = 100.0, 20.0
CONCURRENCY, ISL, OSL = 4, 50, 20
DURATION_S = 8
AIPERF_VERSION = "0.13.0"
REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, proc: subprocess.Popen[bytes], deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listened on {port} within {deadline_s} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _start_moto(port: int, procs: list[subprocess.Popen[bytes]]) -> str:
    """Start moto's server (the S3 that jobs read and write) on `port`, added to `procs`; its URL."""
    procs.append(subprocess.Popen([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    _wait_port(port, procs[-1])
    return f"http://127.0.0.1:{port}"


def _serve_env(moto_url: str, home: Path, **extra: str) -> dict[str, str]:
    """The environment of `infrec serve`: AWS pointed at moto with test credentials, a home of its own."""
    aws = {"AWS_ENDPOINT_URL": moto_url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
    return dict(os.environ, **aws, INFREC_HOME=str(home), **extra)


def _clients(api_port: int, moto_url: str) -> tuple[Any, Any]:
    """boto3 clients of infrec's SageMaker API and of moto's S3, with moto's test credentials."""
    import boto3

    kw: dict[str, Any] = {"region_name": "us-east-1", "aws_access_key_id": "testing",
                          "aws_secret_access_key": "testing"}
    return (boto3.client("sagemaker", endpoint_url=f"http://127.0.0.1:{api_port}", **kw),
            boto3.client("s3", endpoint_url=moto_url, **kw))


def _clean_up(procs: list[subprocess.Popen[bytes]], work: Path) -> None:
    """Stop what the bench started, last first (the API before the services it calls), and remove its folder."""
    for p in reversed(procs):
        _stop(p)
    shutil.rmtree(work, ignore_errors=True)


def _err(measured: float, truth: float) -> float:
    return 100.0 * abs(measured - truth) / truth


def run_infrec(sm: Any, s3: Any, i: int) -> dict[str, float]:
    spec = {"endpoint_type": "chat", "streaming": True, "model": "sim", "synthetic_input_tokens_mean": ISL,
            "output_tokens_mean": OSL, "concurrency": CONCURRENCY, "benchmark_duration": DURATION_S,
            "warmup_duration": 1, "random_seed": i}
    sm.create_ai_workload_config(AIWorkloadConfigName=f"wl-{i}",
                                 AIWorkloadConfigs={"WorkloadSpec": {"Inline": json.dumps(spec)}})
    sm.create_ai_benchmark_job(AIBenchmarkJobName=f"bench-{i}", AIWorkloadConfigIdentifier=f"wl-{i}",
                               RoleArn="arn:aws:iam::000000000000:role/infrec",
                               BenchmarkTarget={"Endpoint": {"Identifier": "llmsim"}},
                               OutputConfig={"S3OutputLocation": "s3://genai-bench/out"})
    end = time.monotonic() + 120
    while True:
        d = sm.describe_ai_benchmark_job(AIBenchmarkJobName=f"bench-{i}")
        if d["AIBenchmarkJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        if time.monotonic() > end:
            raise RuntimeError("the benchmark job did not finish within 120 s")
        time.sleep(0.5)
    if d["AIBenchmarkJobStatus"] != "Completed":
        raise RuntimeError(f"benchmark job {d['AIBenchmarkJobStatus']}: {d.get('FailureReason')}")
    doc = json.loads(s3.get_object(Bucket="genai-bench", Key=f"out/bench-{i}/results.json")["Body"].read())
    lv = doc["Levels"][0]
    return {"ttft": lv["TimeToFirstTokenMs"]["mean"], "itl": lv["InterTokenLatencyMs"]["mean"],
            "tps": lv["OutputTokensPerSecond"], "requests": lv["Successes"],
            "tps_low": (lv["OutputTokensPerSecondInterval"] or {}).get("Low", 0.0),
            "tps_high": (lv["OutputTokensPerSecondInterval"] or {}).get("High", 0.0)}


def aiperf_venv(work: Path) -> tuple[Path | None, str]:
    """AIPerf in its own venv beside ours (installed once, bounded to 10 minutes)."""
    venv = REPO / ".infrec" / "aiperf-venv"
    exe = venv / "bin" / "aiperf"
    if not exe.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", f"aiperf=={AIPERF_VERSION}"], check=True,
                           timeout=600, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        except (subprocess.SubprocessError, OSError) as exc:
            return None, f"aiperf {AIPERF_VERSION} did not install: {str(exc)[:200]}"
    # A word-level tokenizer over the words our prompts and llmsim's answers use: AIPerf needs one
    # and would otherwise download it.
    from infrec.loadgen.genai import WORDS

    script = ("import sys\nfrom tokenizers import Tokenizer, models, pre_tokenizers\n"
              "from transformers import PreTrainedTokenizerFast\n"
              "vocab = {'[UNK]': 0}\n"
              "for w in sys.argv[2].split(',') + [f'tok{k}' for k in range(4096)]:\n"
              "    vocab.setdefault(w, len(vocab))\n"
              "t = Tokenizer(models.WordLevel(vocab=vocab, unk_token='[UNK]'))\n"
              "t.pre_tokenizer = pre_tokenizers.WhitespaceSplit()\n"
              "PreTrainedTokenizerFast(tokenizer_object=t, unk_token='[UNK]').save_pretrained(sys.argv[1])\n")
    try:
        subprocess.run([str(venv / "bin" / "python"), "-c", script, str(work / "tokenizer"), ",".join(WORDS)],
                       check=True, timeout=120, capture_output=True)
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"could not build a local tokenizer for aiperf: {str(exc)[:200]}"
    return exe, ""


def run_aiperf(exe: Path, url: str, work: Path, requests: int) -> tuple[dict[str, float] | None, str]:
    out = work / "aiperf"
    cmd = [str(exe), "profile", "--model", "sim", "--url", url, "--endpoint-type", "chat", "--streaming",
           "--tokenizer", str(work / "tokenizer"), "--use-server-token-count", "--use-legacy-max-tokens",
           "--synthetic-input-tokens-mean", str(ISL), "--output-tokens-mean", str(OSL),
           "--concurrency", str(CONCURRENCY), "--request-count", str(requests), "--warmup-request-count",
           str(CONCURRENCY * 2), "--ui", "none", "--no-server-metrics", "--artifact-dir", str(out),
           "--random-seed", "0"]
    try:
        proc = subprocess.run(cmd, timeout=300, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        return None, "aiperf ran past 300 s"
    path = out / "profile_export_aiperf.json"
    if proc.returncode != 0 or not path.exists():
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        return None, f"aiperf exited {proc.returncode}: {' | '.join(tail)[:300]}"
    d = json.loads(path.read_text())
    return {"ttft": d["time_to_first_token"]["avg"], "itl": d["inter_token_latency"]["avg"],
            "tps": d["output_token_throughput"]["avg"]}, ""


def main() -> int:
    repeats = int(os.environ.get("INFREC_GENAI_REPEATS", "3"))
    work = Path(tempfile.mkdtemp(prefix="infrec-genai-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        sim_port, moto_port, api_port = _free_port(), _free_port(), _free_port()
        env = dict(os.environ, INFREC_LLMSIM_TTFT_MS=str(TTFT_MS), INFREC_LLMSIM_ITL_MS=str(ITL_MS))
        procs.append(subprocess.Popen([sys.executable, "-m", "infrec.serving.llmsim", "--port", str(sim_port)],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_port(sim_port, procs[-1])
        sim_url = f"http://127.0.0.1:{sim_port}"
        moto_url = _start_moto(moto_port, procs)
        (work / "external.json").write_text(json.dumps({"llmsim": {"Url": sim_url}}))
        senv = _serve_env(moto_url, work / "home", INFREC_EXTERNAL_ENDPOINTS=str(work / "external.json"))
        procs.append(subprocess.Popen([str(VENV_BIN / "infrec"), "serve", "--port", str(api_port)], env=senv,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait_port(api_port, procs[-1])
        sm, s3 = _clients(api_port, moto_url)
        s3.create_bucket(Bucket="genai-bench")

        truth_tps = CONCURRENCY * OSL / ((TTFT_MS + (OSL - 1) * ITL_MS) / 1000.0)
        print(f"truth: ttft={TTFT_MS:.1f} ms itl={ITL_MS:.1f} ms tokens/s={truth_tps:.1f} "
              f"(concurrency {CONCURRENCY}, ISL {ISL}, OSL {OSL}, {DURATION_S} s per run)")
        runs = []
        for i in range(repeats):
            r = run_infrec(sm, s3, i)
            runs.append(r)
            print(f"run {i + 1}: ttft={r['ttft']:.2f} ms ({_err(r['ttft'], TTFT_MS):.2f} %)  "
                  f"itl={r['itl']:.3f} ms ({_err(r['itl'], ITL_MS):.2f} %)  "
                  f"tokens/s={r['tps']:.1f} [{r['tps_low']:.1f}, {r['tps_high']:.1f}] "
                  f"({_err(r['tps'], truth_tps):.2f} %)  requests={r['requests']:.0f}")
        for key, truth, label in (("ttft", TTFT_MS, "ttft ms"), ("itl", ITL_MS, "itl ms"),
                                  ("tps", truth_tps, "tokens/s")):
            xs = [r[key] for r in runs]
            print(f"spread {label}: min={min(xs):.3f} max={max(xs):.3f} mean={sum(xs) / len(xs):.3f} "
                  f"truth={truth:.3f}")
        ttft_err = max(_err(r["ttft"], TTFT_MS) for r in runs)
        itl_err = max(_err(r["itl"], ITL_MS) for r in runs)
        tps_err = max(_err(r["tps"], truth_tps) for r in runs)

        vs = "na"
        exe, why = aiperf_venv(work)
        if exe is not None:
            ap, why = run_aiperf(exe, sim_url, work, requests=int(runs[-1]["requests"]))
            if ap is not None:
                ours = sum(r["tps"] for r in runs) / len(runs)
                vs = f"{ours / ap['tps']:.3f}"
                print(f"aiperf {AIPERF_VERSION}: ttft={ap['ttft']:.2f} ms ({_err(ap['ttft'], TTFT_MS):.2f} %)  "
                      f"itl={ap['itl']:.3f} ms ({_err(ap['itl'], ITL_MS):.2f} %)  tokens/s={ap['tps']:.1f} "
                      f"({_err(ap['tps'], truth_tps):.2f} %)")
        if vs == "na":
            print(f"aiperf: na ({why})")
        print(f"genai: ttft_error={ttft_err:.2f} itl_error={itl_err:.2f} tokens_per_s_error={tps_err:.2f} "
              f"vs_aiperf={vs}")
        return 0
    finally:
        _clean_up(procs, work)


if __name__ == "__main__":
    raise SystemExit(main())
