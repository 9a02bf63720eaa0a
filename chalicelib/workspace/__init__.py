"""A workspace's administration: team, sites, privacy requests."""
