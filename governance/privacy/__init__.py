"""Personal data: Presidio scans, findings, masking policies and masked versions.

The modules analyzer, recognizers, classify, masking and evaluation import no Django, so the
detection and masking logic runs (and is tested) on its own; the Django app (label ``privacy``)
builds on them.
"""
