"""Incidents and on-call."""
