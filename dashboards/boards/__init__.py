"""One module per dashboard: its identity (`SPEC`) and `build(timezone)`."""
