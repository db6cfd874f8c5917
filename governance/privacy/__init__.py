"""Personal data: Presidio scans, findings, masking policies and masked versions.

Detection and masking run (and are tested) on their own, without Django:
- analyzer: Steward's Presidio analyzer (batched, triaged); refinement: one answer from overlapping detections;
- recognizers/: the recognizers Steward adds, one module per kind of entity;
- internals: the one place that touches Presidio's and phonenumbers' internals, and checks their versions;
- nlp: the NER-only spaCy engine; classify: which columns hold PII; masking: operators and policies;
- evaluation: span-level scores for bench/pii_eval.py.

The Django app (label ``privacy``) builds on them: engines (the analyzer and secrets as configured),
selectors (reads), services (writes, each with its audit row), tasks, api and views.
"""
