"""Reporters: one interface (base.Reporter: render reports, or a comparison, as text;
write it to a file) implemented by an aligned table, CSV, JSON and a self-contained
HTML page. They only format; analysis/ computes, reporting is the public facade."""

from neuronperf_native.reporters.base import Reporter
from neuronperf_native.reporters.csv import CsvReporter
from neuronperf_native.reporters.html import HtmlReporter
from neuronperf_native.reporters.json import JsonReporter
from neuronperf_native.reporters.table import TableReporter

__all__ = ["CsvReporter", "HtmlReporter", "JsonReporter", "Reporter", "TableReporter"]
