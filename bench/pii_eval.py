"""PII detection quality: Steward's analyzer beside a plain Presidio AnalyzerEngine, same run.

1. Span-level precision / recall / F1 per entity type and overall on
   ../shared/data/pii/synth_dataset_v2.json (a predicted span counts when a gold span of the same
   type overlaps it; a gold span is found when a prediction of its type overlaps it).
   Type mapping (governance/privacy/evaluation.py): dataset STREET_ADDRESS and GPE -> LOCATION
   (Steward's own STREET_ADDRESS output is scored as LOCATION too), DOMAIN_NAME -> URL; ORGANIZATION,
   TITLE, AGE and ZIP_CODE are not scored (neither engine reports them: Presidio's default spaCy
   configuration ignores ORG), and a prediction overlapping only such a span is not a false positive.
2. Column classification on ../shared/data/pii/FakeNameGenerator.com_100.csv: every column with
   names, addresses, e-mails, phones, birthdays, card numbers or national ids must be flagged;
   anything else that is flagged is listed.

Run: .venv/bin/python bench/pii_eval.py  (about a minute on 2 cores)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = ROOT.parent / "shared" / "data" / "pii"

# FakeNameGenerator columns that hold the PII the issue names.
REQUIRED = {
    "GivenName": "name",
    "Surname": "name",
    "MothersMaiden": "name",
    "StreetAddress": "address",
    "EmailAddress": "e-mail",
    "TelephoneNumber": "phone",
    "Birthday": "birthday",
    "CCNumber": "card number",
    "NationalID": "national id",
}


def evaluate_spans(records, analyze_all, label):
    from governance.privacy.evaluation import gold_spans, predicted_spans, score_spans

    texts = [r["full_text"] for r in records]
    start = time.perf_counter()
    predictions = analyze_all(texts)
    seconds = time.perf_counter() - start
    gold = [gold_spans(r) for r in records]
    scores = score_spans([g for g, _ in gold], [predicted_spans(p) for p in predictions], ignored=[i for _, i in gold])
    return scores, seconds


def main() -> None:
    from presidio_analyzer import BatchAnalyzerEngine

    from governance.privacy.analyzer import build_plain_analyzer, get_analyzer

    records = json.loads((DATA / "synth_dataset_v2.json").read_text())
    steward = get_analyzer()
    plain = build_plain_analyzer(steward.config.spacy_model)
    plain_batch = BatchAnalyzerEngine(plain)

    s_scores, s_time = evaluate_spans(records, lambda t: steward.analyze_batch(t), "steward")
    p_scores, p_time = evaluate_spans(
        records, lambda t: plain_batch.analyze_iterator(t, language="en", batch_size=64), "plain"
    )

    print(f"synth_dataset_v2.json: {len(records)} texts, spaCy model {steward.config.spacy_model}")
    print(f"{'entity':<18} {'gold':>5} | {'plain P':>7} {'R':>6} {'F1':>6} | {'Steward P':>9} {'R':>6} {'F1':>6}")
    for entity in sorted(set(s_scores.entity_types) | set(p_scores.entity_types)):
        pp, pr, pf = p_scores.prf(entity)
        sp, sr, sf = s_scores.prf(entity)
        print(
            f"{entity:<18} {s_scores.n_gold[entity]:>5} | {pp:>7.3f} {pr:>6.3f} {pf:>6.3f} |"
            f" {sp:>9.3f} {sr:>6.3f} {sf:>6.3f}"
        )
    pp, pr, pf = p_scores.prf()
    sp, sr, sf = s_scores.prf()
    print(
        f"{'OVERALL':<18} {sum(s_scores.n_gold.values()):>5} | {pp:>7.3f} {pr:>6.3f} {pf:>6.3f} |"
        f" {sp:>9.3f} {sr:>6.3f} {sf:>6.3f}"
    )
    print(
        f"time: plain {p_time:.1f} s, Steward {s_time:.1f} s "
        f"({len(records) / p_time:.0f} vs {len(records) / s_time:.0f} texts/s; noisy shared CPU)"
    )
    print(
        f"Steward overall F1 {sf:.3f} vs plain {pf:.3f}: " + ("target met (>= plain)" if sf >= pf else "TARGET MISSED")
    )

    classify_fake_names(steward)


def classify_fake_names(analyzer) -> None:
    import pyarrow.csv as pacsv

    from governance.privacy.classify import classify_table

    table = pacsv.read_csv(DATA / "FakeNameGenerator.com_100.csv")
    start = time.perf_counter()
    reports = classify_table(table, analyzer=analyzer)
    seconds = time.perf_counter() - start
    print()
    print(
        f"FakeNameGenerator.com_100.csv: {table.num_rows} rows x {table.num_columns} columns, "
        f"classified in {seconds:.1f} s"
    )
    print(f"{'column':<22} {'kind':<9} {'entity':<15} {'share':>5} {'score':>5}  recognizers")
    for r in reports:
        if r.flagged:
            print(
                f"{r.name:<22} {r.kind:<9} {r.entity_type:<15} {r.share:>5.2f} {r.score:>5.2f}  "
                f"{', '.join(r.recognizers[:3])}"
            )
    flagged = {r.name for r in reports if r.flagged}
    missed = [c for c in REQUIRED if c not in flagged]
    extra = [r for r in reports if r.flagged and r.name not in REQUIRED]
    print(
        f"required columns flagged: {len(REQUIRED) - len(missed)}/{len(REQUIRED)}"
        + (f"; MISSED: {', '.join(missed)}" if missed else " (all)")
    )
    print("flagged beyond the required set (review these):")
    for r in extra:
        print(f"  {r.name}: {r.entity_type} (share {r.share:.2f}, score {r.score:.2f})")
    skipped = [r.name for r in reports if r.skipped]
    print(f"skipped as unable to hold PII: {', '.join(skipped)}")


if __name__ == "__main__":
    main()
