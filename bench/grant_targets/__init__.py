"""Grant targets for bench/grants.py, one module each: `target(count, latency) -> BenchTarget`.
A grant type joins the benchmark by adding a module here."""
