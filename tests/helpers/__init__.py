"""Test helpers, imported the one way every tier does: `from helpers.<module> import ...` (pytest puts tests/
on sys.path; see pyproject's `pythonpath`). Scripts' shared modules come from the `edge_devtools` package."""
