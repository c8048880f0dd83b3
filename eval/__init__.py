"""eval stage of clinrag: benchmarks in, metrics with confidence intervals and reports out.

``eval.harness.evaluate(EvalConfig(...), settings)`` runs one benchmark (``clinrag eval run``);
``eval.compare.compare(run_a, run_b)`` sets two runs side by side (``clinrag eval compare``).
"""
