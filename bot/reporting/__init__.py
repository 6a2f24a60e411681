"""Reporting: the digest, goals, themes and their analysis, the chart and the export."""
