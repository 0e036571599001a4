"""Audit sampling: reproducible by seed, risk flags over-sampled, case-file packs written, bad input refused with
nothing recorded, and the estimator unbiased with its 95% interval covering the truth at about 95%."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from assurance.audit_area import count, make_area, run
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from recoverypbr.assurance.findings import stratified_total
from recoverypbr.assurance.sampling import SampleError, allocate_sizes


@pytest.fixture()
def area(tmp_path: Path) -> tuple[Path, Path]:
    return make_area(tmp_path)


def _sample(area: tuple[Path, Path], out: Path, *extra: str, seed: int = 3, size: int = 6, code: int = 0) -> str:
    contract_file, db = area
    return run("sample", "--contract", str(contract_file), "--period", "2013-Q2", "--size", str(size), "--seed",
               str(seed), "--out", str(out), "--db", str(db), *extra, code=code)


def _lines(out: Path) -> list[dict[str, str]]:
    with (out / "sample.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_same_seed_gives_the_same_sample_byte_for_byte(area: tuple[Path, Path], tmp_path: Path) -> None:
    text = _sample(area, tmp_path / "a")
    assert "Recorded as sample S" in text and "Risk weighting: none: no --flags file" in text
    assert "Already recorded" in _sample(area, tmp_path / "b")
    for name in ("sample.csv", "sample.json", "pack/evidence.csv", "pack/tops.csv", "pack/episodes.csv",
                 "pack/assessments.csv", "pack/groups.csv", "pack.pdf"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    _sample(area, tmp_path / "c", seed=4)
    first, other = _lines(tmp_path / "a"), _lines(tmp_path / "c")
    assert {r["client_id"] for r in first} != {r["client_id"] for r in other}
    assert first[0]["sample_id"] != other[0]["sample_id"]
    assert count(area[1], "audit_samples") == 2 and count(area[1], "audit_sample_lines") == 12
    assert not list((tmp_path / "a").rglob(".*.partial"))


def test_the_pack_holds_each_lines_evidence_and_rows(area: tuple[Path, Path], tmp_path: Path) -> None:
    _sample(area, tmp_path / "a", size=12)
    lines = {int(r["line"]): r for r in _lines(tmp_path / "a")}
    assert len(lines) == 12 and {r["weight"] for r in lines.values()} == {"1"}
    with (tmp_path / "a" / "pack" / "evidence.csv").open(encoding="utf-8") as f:
        evidence = list(csv.DictReader(f))
    c01 = next(r for r in evidence if r["client_id"] == "C01")
    assert c01["status"] == "achieved" and c01["evidence_id"] == "episode:E01"
    assert "discharged on 2013-04-03 as completed drug free" in c01["evidence_words"]
    tops = (tmp_path / "a" / "pack" / "tops.csv").read_text(encoding="utf-8")
    assert "T01" in tops and "T02" in tops
    assert "A01" in (tmp_path / "a" / "pack" / "assessments.csv").read_text(encoding="utf-8")
    assert (tmp_path / "a" / "pack.pdf").read_bytes().startswith(b"%PDF")


def test_flagged_clients_and_providers_are_over_sampled(area: tuple[Path, Path], tmp_path: Path) -> None:
    flags = tmp_path / "monitor.json"
    flags.write_text(json.dumps([
        {"provider_id": "P2", "family": "misrepresentation", "indicator": "top_heaping", "period": "2013-Q2",
         "flagged": True, "rows": ["episode:E09", "C10"], "value": 0.4},  # the monitor's case ids name clients
        {"provider_id": "P7", "family": "timing", "indicator": "bunching", "period": "2013-Q2", "flagged": True,
         "rows": []},  # a provider the contract does not pay: skipped
        {"provider_id": "P1", "family": "timing", "indicator": "bunching", "period": "2013-Q2", "flagged": False,
         "rows": ["C01"]},
        {"provider_id": "P1", "family": "creaming_parking", "indicator": "conversion", "period": "2014-Q1",
         "flagged": True, "rows": []},
    ]), encoding="utf-8")
    text = _sample(area, tmp_path / "a", "--flags", str(flags), size=6)
    assert "a flagged stratum's pounds count 3 times" in text
    design = json.loads((tmp_path / "a" / "sample.json").read_text(encoding="utf-8"))
    strata = {s["stratum"]: s for s in design["strata"]}
    # Only the flagged row of a quarter up to the period counts: C09 and C10 (a later quarter's flag does not).
    assert set(strata) == {"P1/unflagged/high", "P2/flagged/high", "P2/unflagged/high"}
    assert design["risk"]["flagged_rows"] == 1 and design["risk"]["clients"] == 2
    assert strata["P2/flagged/high"]["sample_lines"] == 2  # all of it
    assert {"C09", "C10"} <= {r["client_id"] for r in _lines(tmp_path / "a")}


BAD_SAMPLES = {
    "unknown period": (("--period", "2019-Q1"), "2019-Q1 is not one of the contract's quarterly statement periods"),
    "unknown provider": (("--provider", "P9"), "no statement for P9 in 2013-Q2"),
    "flags row without its fields": (("--flags", "FLAGS"), "row 1 lacks flagged"),
    "too small": (("--size", "1"), "a sample of 1 lines cannot take 2 from each of the 2 strata"),
}


@pytest.mark.parametrize("case", list(BAD_SAMPLES), ids=list(BAD_SAMPLES))
def test_bad_sample_requests_are_refused_and_nothing_recorded(area: tuple[Path, Path], tmp_path: Path,
                                                              case: str) -> None:
    contract_file, db = area
    flags = tmp_path / "monitor.json"
    flags.write_text(json.dumps([{"provider_id": "P1", "family": "timing", "indicator": "x", "period": "2013-Q2",
                                  "rows": []}]), encoding="utf-8")
    extra, expected = BAD_SAMPLES[case]
    options = {"--period": "2013-Q2", "--size": "6"} | dict(zip(extra[::2], extra[1::2], strict=True))
    args = [part for key, value in options.items() for part in (key, str(flags) if value == "FLAGS" else value)]
    text = run("sample", "--contract", str(contract_file), "--seed", "1", "--out", str(tmp_path / "a"), "--db",
               str(db), *args, code=2)
    assert expected in text, text
    assert count(db, "audit_samples") == 0 and not (tmp_path / "a").exists()


def test_allocation_is_proportional_within_caps_and_minimum() -> None:
    assert allocate_sizes(6, [8, 4], [3604, 1802]) == [4, 2]
    assert allocate_sizes(10, [3, 100, 100], [1, 100, 300]) == [2, 2, 6]
    assert allocate_sizes(50, [3, 4], [1, 1]) == [3, 4]
    with pytest.raises(SampleError, match="at least 4 lines"):
        allocate_sizes(3, [5, 5], [1, 1])


REPETITIONS = 200


def _coverage(seed: int, lines: int, rate: float, size: int, providers: int) -> tuple[int, float]:
    """A synthetic population (lognormal pounds, 10% of lines flagged with three times the error rate), stratified
    and allocated as the sampler does, sampled `REPETITIONS` times: (intervals covering the true overpayment,
    the z-score of the estimates' mean against the truth)."""
    rng = np.random.default_rng(seed)
    amounts = np.round(rng.lognormal(5.5, 0.6, lines) * 100)
    flagged = rng.random(lines) < 0.1
    wrong = rng.random(lines) < np.where(flagged, min(3 * rate, 0.9), rate)
    truth = amounts[wrong].sum()
    high = amounts >= np.percentile(amounts, 90, method="inverted_cdf")
    strata = np.char.add(np.char.add(rng.integers(0, providers, lines).astype(str), np.where(flagged, "/f", "/u")),
                         np.where(high, "/h", "/s"))
    names, index, counts = np.unique(strata, return_inverse=True, return_counts=True)
    scores = np.bincount(index, weights=amounts) * np.where(np.char.find(names, "/f") >= 0, 3, 1)
    sizes = allocate_sizes(size, counts.tolist(), scores.tolist())
    population = dict(zip(names.tolist(), counts.tolist(), strict=True))
    overpaid = np.where(wrong, amounts, 0.0)
    covered, estimates = 0, []
    for _ in range(REPETITIONS):
        chosen = np.concatenate([rng.choice(np.flatnonzero(index == h), n, replace=False)
                                 for h, n in enumerate(sizes)])
        found = stratified_total(overpaid[chosen], strata[chosen], population, ceiling=float(amounts.sum()))
        covered += found.low <= truth <= found.high
        estimates.append(found.total)
    spread = np.std(estimates) / np.sqrt(REPETITIONS)
    return covered, float((np.mean(estimates) - truth) / spread) if spread else 0.0


populations = st.lists(
    st.tuples(st.integers(0, 2**32 - 1), st.integers(600, 3000), st.floats(0.1, 0.3), st.integers(120, 250),
              st.integers(1, 3)),
    min_size=4, max_size=4,
)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example([(1, 2417, 0.2, 180, 1), (2, 1881, 0.11, 130, 3), (3, 763, 0.17, 157, 3), (4, 1196, 0.3, 156, 2)])
@given(populations)
def test_estimate_is_unbiased_and_its_interval_covers_at_about_95_percent(
    drawn: list[tuple[int, int, float, int, int]],
) -> None:
    results = [_coverage(*population) for population in drawn]
    # Unbiased: the mean of 200 estimates is within 4 standard errors of the true overpayment, in every population.
    assert all(abs(z) < 4 for _, z in results), results
    # Coverage, pooled over the four populations' 800 intervals (each population's alone is noisier).
    coverage = sum(c for c, _ in results) / (REPETITIONS * len(results))
    assert 0.90 <= coverage <= 0.99, results
    assert all(c / REPETITIONS >= 0.85 for c, _ in results), results
