"""Tools for developers of the portal, kept apart from the product (`portal`): the benchmark
(`python -m portal_tools.bench`, what `make bench` runs) and the synthetic corpus it and the
tests generate. Nothing in `portal` imports from here."""
