"""Assurance: monitoring for gaming, risk-based audit sampling with extrapolated error, service users' views."""
