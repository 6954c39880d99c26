"""The statistics: laws, streaming summaries and the test battery that decides a verdict."""
