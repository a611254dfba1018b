"""Peers' own test suites run against gradpoly's drop-ins (they ship in their wheels)."""
