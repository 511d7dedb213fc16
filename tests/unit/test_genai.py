"""core.workload and core.genai: the workload spec in AIPerf's terms, SLA judgements with intervals, the search, cost."""

from __future__ import annotations

import json

import pytest

from infrec.core.genai import (
    FAIL,
    PASS,
    UNSURE,
    ConcurrencySearch,
    LevelStats,
    cost_per_million_tokens,
    judge_level,
    pool_levels,
    rank_with_ties,
)
from infrec.core.workload import Slas, SpecError, parse_goodput, parse_workload


def test_spec_in_aiperf_terms() -> None:
    spec = parse_workload({"endpoint-type": "completions", "streaming": False, "concurrency": [1, 4],
                           "synthetic_input_tokens_mean": 200, "output_tokens_mean": 50,
                           "goodput": "time_to_first_token:200 inter_token_latency:20", "request_count": 30})
    assert spec.path == "/v1/completions" and spec.levels() == (1.0, 4.0) and not spec.open_loop
    assert spec.slas.ttft_ms == 200 and spec.slas.itl_ms == 20 and spec.slas.e2e_ms is None
    assert parse_workload({"request_rate": 2.5}).open_loop
    assert spec.copies_per_instance == (1,) and "copies_per_instance" not in spec.to_doc()
    two = parse_workload({"copies_per_instance": [1, 2]})
    assert two.copies_per_instance == (1, 2) and two.to_doc()["copies_per_instance"] == [1, 2]
    assert parse_workload({"copies_per_instance": 4}).copies_per_instance == (4,)


@pytest.mark.parametrize(("doc", "field"), [
    ({"concurrency": 0}, "concurrency[0]"), ({"endpoint_type": "embeddings"}, "endpoint_type"),
    ({"goodput": "ttft"}, "goodput"), ({"goodput": "speed:3"}, "goodput"), ({"streaming": "yes"}, "streaming"),
    ({"concurrency": 2, "request_rate": 1}, "request_rate"), ({"output_tokens_mean": 1.5}, "output_tokens_mean"),
    ({"bogus": 1}, "bogus"), ({"sla_percentile": 95}, "sla_percentile"), ([1], "mapping"),
    ({"copies_per_instance": [0]}, "copies_per_instance[0]"), ({"copies_per_instance": [2, 2]}, "copies_per_instance"),
    ({"copies_per_instance": 17}, "copies_per_instance"), ({"copies_per_instance": "2"}, "copies_per_instance[0]"),
])
def test_bad_specs_name_the_field(doc: object, field: str) -> None:
    with pytest.raises(SpecError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_workload(doc)


def test_goodput_mapping() -> None:
    assert parse_goodput({"request_latency": 900}) == {"e2e_ms": 900.0}


def _stats(ttft: list[float], errors: list[float] | None = None) -> LevelStats:
    return LevelStats(level=1, open_loop=False, duration_s=10, requests=100, successes=100, errors=0,
                      output_tokens=1000, input_tokens=1000, good=100, ttft_ms={}, itl_ms={}, e2e_ms={},
                      ttft_batches={90: ttft}, error_rate_batches=errors or [0.0] * len(ttft))


def test_judgement_needs_evidence() -> None:
    slas = Slas(ttft_ms=100)
    assert judge_level(_stats([80, 82, 81, 79]), slas).verdict == PASS
    assert judge_level(_stats([120, 125, 122]), slas).verdict == FAIL
    assert judge_level(_stats([60, 140, 95, 105]), slas).verdict == UNSURE      # the interval straddles
    assert judge_level(_stats([50]), slas).verdict == UNSURE                    # one batch is no evidence
    assert judge_level(_stats([50, 52, 51], [0.2, 0.21, 0.22]), slas).verdict == FAIL       # errors


def test_a_level_measured_again_keeps_its_earlier_evidence() -> None:
    slas = Slas(ttft_ms=100)
    first, again = _stats([80, 99]), _stats([90, 91, 92, 90])
    first.ttft_ms, again.ttft_ms = {"p90": 90.0}, {"p90": 96.0}
    again.output_tokens, again.successes = 3000, 300
    pooled = pool_levels([first, again])
    assert pooled.duration_s == 20 and pooled.successes == 400 and pooled.output_tokens == 4000
    assert pooled.output_tokens_per_s == 200.0                       # every token over every second
    assert pooled.ttft_batches[90] == [80, 99, 90, 91, 92, 90]
    assert pooled.ttft_ms["p90"] == (90.0 * 100 + 96.0 * 300) / 400  # success-weighted
    assert judge_level(first, slas).verdict == UNSURE                 # two batches straddle the limit
    assert judge_level(pooled, slas).verdict == PASS                  # six decide it
    assert pool_levels([first]) is first
    with pytest.raises(ValueError):
        pool_levels([])


def test_search_doubles_then_bisects_and_repeats_unsure_levels() -> None:
    capacity = 11
    search = ConcurrencySearch(ceiling=64)
    unsure_once = {12}
    while (step := search.next()) is not None:
        c, longer = step
        if c in unsure_once and not longer:
            search.record(c, UNSURE)
            continue
        search.record(c, PASS if c <= capacity else FAIL)
    assert search.best == capacity
    assert [c for c, _ in search.history][:5] == [1, 2, 4, 8, 16]
    assert (12, UNSURE) in search.history and (12, FAIL) in search.history


def test_cost_per_million_tokens() -> None:
    assert cost_per_million_tokens(3.6, 2, 100.0) == pytest.approx(20.0)
    assert cost_per_million_tokens(1.0, 1, 0.0) is None


def _cand(tps: float, lo: float, hi: float, price: float) -> dict[str, object]:
    return {"tokens_per_s": tps, "tokens_interval": (lo, hi), "price": price,
            "cost": cost_per_million_tokens(price, 1, tps), "ttft_ms": 100.0}


def test_ties_on_throughput_rank_by_price_and_luck_does_not_win() -> None:
    # Same hardware measured four times: the luckiest (57.7) is not ranked first for it; the
    # cheaper type is, and every one is reported tied with the others.
    cands = [_cand(57.7, 52.0, 63.0, 0.096), _cand(49.6, 46.0, 53.0, 0.085), _cand(51.7, 48.0, 55.5, 0.096),
             _cand(51.4, 47.0, 55.0, 0.085)]
    ranked = rank_with_ties(cands, "cost")
    assert [i for i, _ in ranked][:2] in ([1, 3], [3, 1])            # the cheaper type's two first
    assert all(len(tied) >= 2 for _, tied in ranked)
    # A configuration significantly cheaper per token is never ranked below a tied cheaper-per-hour one.
    fast = [_cand(100.0, 98.0, 102.0, 0.2), _cand(30.0, 29.0, 31.0, 0.1)]
    assert [i for i, _ in rank_with_ties(fast, "cost")] == [0, 1]
    assert rank_with_ties(fast, "cost")[0][1] == []                   # no overlap, no tie
    # Throughput: the leader's ties by price; TTFT: by the point value.
    assert rank_with_ties(cands, "throughput")[0][0] in (1, 3)
    cands[2]["ttft_ms"] = 50.0
    assert rank_with_ties(cands, "ttft-ms")[0][0] == 2


def test_no_configuration_is_ranked_above_a_significantly_faster_one() -> None:
    # The slow one is tied with the leader and cheapest per hour, but the middle one's interval lies
    # wholly above its own: by the one rule (core.ranking) it is beaten while the middle one remains.
    lead, slow, middle = _cand(100.0, 95.0, 105.0, 0.2), _cand(88.0, 80.0, 96.0, 0.1), _cand(98.0, 97.0, 99.0, 0.15)
    assert [i for i, _ in rank_with_ties([lead, slow, middle], "throughput")] == [2, 1, 0]


# ------------------------------------------------------------------------- datasets
def test_dataset_in_aiperf_single_turn_jsonl() -> None:
    from infrec.core.workload import Prompt, SpecError, parse_dataset

    data = b'{"text": "Hello there"}\n\n{"texts": ["part one", "part two"], "output_length": 7}\n'
    assert parse_dataset(data) == (Prompt("Hello there"), Prompt("part one\n\npart two", 7))
    bad = [(b'{"text": "a"}\nnot json\n', "line 2: not JSON"),
           (b'["a"]', "line 1: must be a JSON object"),
           (b'{"prompt": "a"}', 'give "text"'),
           (b'{"text": "  "}', "the prompt is empty"),
           (b'{"text": "a", "output_length": 0}', "output_length 0"),
           (b'{"text": "a", "images": ["x.png"]}', "'images' is not supported"),
           (b"\n\n", "no prompts"),
           (b"\xff\xfe", "not UTF-8")]
    for raw, why in bad:
        with pytest.raises(SpecError, match=why):
            parse_dataset(raw, where="s3://b/k")


def test_dataset_sampling_and_payloads() -> None:
    from infrec.core.workload import Prompt, SpecError, with_dataset
    from infrec.loadgen.genai import build_payloads

    prompts = [Prompt("one two three", 4), Prompt("four five"), Prompt("six", 2)]
    spec = with_dataset(parse_workload({"output_tokens_mean": 9, "endpoint_type": "completions"}), prompts)
    assert spec.dataset_type == "single_turn" and spec.to_doc()["dataset_prompts"] == 3
    payloads, isl = build_payloads(spec)
    bodies = [json.loads(p.body) for p in payloads]
    assert [b["prompt"] for b in bodies] == ["one two three", "four five", "six"]       # file order
    assert [b["max_tokens"] for b in bodies] == [4, 9, 2]          # output_length, else the spec's
    assert isl == [3, 2, 1]                                           # words without a tokenizer
    _, isl = build_payloads(spec, count_tokens=lambda t: 10 * len(t))
    assert isl == [130, 90, 30]
    shuffled = with_dataset(parse_workload({"dataset_sampling_strategy": "shuffle", "random_seed": 3}), prompts)
    got = [json.loads(p.body)["messages"][0]["content"] for p in build_payloads(shuffled)[0]]
    assert sorted(got) == sorted(p.text for p in prompts)             # every prompt once
    pool = with_dataset(parse_workload({"custom_dataset_type": "random_pool"}), prompts)
    assert pool.dataset_sampling == "random"
    drawn = build_payloads(pool)[0]
    assert len(drawn) >= 16 and {json.loads(p.body)["messages"][0]["content"] for p in drawn} == {
        p.text for p in prompts}
    with pytest.raises(SpecError, match="input_file"):
        parse_workload({"input_file": "/etc/passwd"})
    with pytest.raises(SpecError, match="custom_dataset_type"):
        parse_workload({"custom_dataset_type": "multi_turn"})
    with pytest.raises(SpecError, match="dataset_sampling_strategy"):
        parse_workload({"dataset_sampling_strategy": "backwards"})


def test_copies_share_an_instance_only_in_equal_whole_or_unit_fraction_parts() -> None:
    from infrec.core.genai import copies_refusal

    # (instance vCPUs, copies): whole CPUs each, or 1/k of a CPU each (k copies per CPU), or both.
    for fits in ((1, 1), (1, 2), (1, 3), (2, 2), (2, 4), (4, 2), (3, 2), (8, 16), (0.5, 1), (0.7, 1)):
        assert copies_refusal(*fits) is None, fits
    # 2/3, 3/4, 7/4 and 8/3 of a CPU each would split a CPU between copies unevenly.
    for uneven in ((2, 3), (3, 4), (7, 4), (8, 3)):
        why = copies_refusal(*uneven)
        assert why is not None and f"{uneven[1]} copies" in why and "divides" in why, uneven
    assert copies_refusal(2, 0) is not None
    # GPUs are not split between copies (each would get the whole instance's again).
    assert copies_refusal(4, 1, gpus=1) is None and "GPU" in (copies_refusal(4, 2, gpus=1) or "")


def test_a_recommendation_job_tries_every_engine_setting_with_every_copy_count() -> None:
    spec = parse_workload({"engine_settings": {"LLAMA_N_THREADS": [1, 2], "LLAMA_N_BATCH": 256},
                           "copies_per_instance": [1, 2]})
    assert spec.variants() == [
        ({"LLAMA_N_THREADS": "1", "LLAMA_N_BATCH": "256"}, 1), ({"LLAMA_N_THREADS": "1", "LLAMA_N_BATCH": "256"}, 2),
        ({"LLAMA_N_THREADS": "2", "LLAMA_N_BATCH": "256"}, 1), ({"LLAMA_N_THREADS": "2", "LLAMA_N_BATCH": "256"}, 2)]
    assert parse_workload({}).variants() == [({}, 1)]
