"""Input and output: weight-file readers, rules files and atomic file writes."""
