"""Granters: what access means in the world."""
