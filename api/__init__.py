"""The open-data REST API (FastAPI): public reads, admin registry writes, operations."""
