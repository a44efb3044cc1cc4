"""Read models the ingest writer keeps in the transaction that stores the raw rows:
the latest reading of each pole and family, and rollups per pole and per group
(spec.py says which and what they hold; merge.py what the writer runs; rebuild.py
how they are rebuilt from what is stored)."""
