"""The command runners (check, verify, identify, propagate). They never import each other."""
