"""The county portal (整县推进): schools export their showcase and figures (export.py), the county
reads every school's export (schools.py) and builds pages comparing them (pages.py)."""
