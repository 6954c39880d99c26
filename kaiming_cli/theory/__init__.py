"""Pure theory: gains, fan rules, init specs and their explanation. Standard library only, so lookups stay fast."""
