"""Evaluation at scale: replay a dataset of recorded drives through ``analyze`` (locally or on
Ray), score the results against labels, compare configs and gate releases (docs/evaluation.md)."""
