"""The command runners (check, verify, identify, propagate, audit). They never import each other; what
two share lives below them, and ``identified`` (identify adapted for audit) and ``tensor_report`` (the report
``assert_init`` raises with) are modules of their own that no runner imports."""
