"""Read queries of the open-data API.

Every statement the API runs lives here, as literal SQL with parameters;
identifiers (tables, metric columns) come from the whitelist in `catalog` and
are composed with `psycopg.sql`, never formatted in. Functions take a
connection they do not own and return plain rows (dicts or tuples), so the
route handlers stay free of SQL.
"""
