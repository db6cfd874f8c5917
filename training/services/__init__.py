"""Writes of the training app: `jobs` starts and runs training jobs, `registry` registers model
versions and moves aliases. Reads are in training/selectors.py."""
