"""Infrastructure: what chalice deploy does not create, and the local stack."""
