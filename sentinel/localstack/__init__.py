"""Local processes the demo, the tests and benchmarks start: a private redis-server (the Ray head script and the
sandbox have their own homes). Imported by the CLI, tests and bench only."""
