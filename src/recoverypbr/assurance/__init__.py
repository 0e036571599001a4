"""Assurance: gaming monitoring, risk-based audit sampling with findings, and service users' views."""
