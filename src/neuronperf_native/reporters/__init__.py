"""Reporters: format reports and comparisons (text tables, self-contained HTML).

They only format; reporting.get_reports and comparing.compare compute.
"""
