"""The streaming engine: chunked scans with mergeable summaries, samplers and the parallel policy."""
