"""Presentation: tables, JSON, Markdown, JUnit, GitHub annotations and plots. No click."""
