"""dcgm-exporter's counters CSV reader, rule for rule, so the generated CSV is checked by the consumer's own
rules rather than by the generator's idea of them (the exporter itself cannot run here: it needs DCGM).

Read from dcgm-exporter at tag 4.5.3-4.8.2 (stack/versions.py DCGM_EXPORTER_IMAGE):
- deployment/values.yaml mounts the chart's ConfigMap key `metrics` (templates/metrics-configmap.yaml,
  `customMetrics | nindent 4` under `metrics: |`) over /etc/dcgm-exporter/default-counters.csv, the file
  the default `arguments: ["-f", ...]` name;
- internal/pkg/counters/counter_config.go ReadCSVFile: Go's encoding/csv Reader with `Comment = '#'` and
  every other option at its default (FieldsPerRecord 0: every record has the first record's field count;
  LazyQuotes false: a quote inside an unquoted field, or text after a closing quote, is an error;
  TrimLeadingSpace false: so ` "x"` is an unquoted field holding a quote), then ReadAll;
- ExtractCounters: skips empty records, trims spaces off each field, wants exactly 3 fields, a name go-dcgm's
  GetFieldID knows (current or legacy) or one of the exporter's own DCGM_EXP_* counters, and a Prometheus
  type in internal/pkg/counters/variables.go promMetricType. An error there makes the exporter exit.
The field names are tests/reference/dcgm-fields.txt (go-dcgm at the version the exporter's go.mod pins).
"""

from __future__ import annotations

from tests.platform_support import REFERENCE

FIELD_NAMES = REFERENCE / "dcgm-fields.txt"
# internal/pkg/counters/variables.go promMetricType.
PROMETHEUS_TYPES = {"gauge", "counter", "histogram", "summary", "label"}


class CountersError(ValueError):
    """What makes the exporter log an error and exit at start."""


def known_field_names() -> set[str]:
    return {line.split("\t")[0] for line in FIELD_NAMES.read_text().splitlines() if line and not line.startswith("#")}


def csv_records(text: str) -> list[list[str]]:
    """Go encoding/csv ReadAll with Comment '#', the options ReadCSVFile sets (quoted fields on one line)."""
    records: list[list[str]] = []
    for number, line in enumerate(text.replace("\r\n", "\n").split("\n"), start=1):
        if line == "" or line.startswith("#"):
            continue
        record = _fields(line, number)
        if records and len(record) != len(records[0]):
            raise CountersError(f"record on line {number}: wrong number of fields ({len(record)}, "
                                f"the first record has {len(records[0])})")
        records.append(record)
    return records


def _fields(line: str, number: int) -> list[str]:
    fields: list[str] = []
    position = 0
    while True:
        if line.startswith('"', position):
            value, position = _quoted(line, position + 1, number)
        else:
            end = line.find(",", position)
            value = line[position:] if end < 0 else line[position:end]
            if '"' in value:
                raise CountersError(f'line {number}: bare " in non-quoted field {value!r}')
            position = len(line) if end < 0 else end
        fields.append(value)
        if position >= len(line):
            return fields
        position += 1  # the comma
        if position == len(line):
            fields.append("")
            return fields


def _quoted(line: str, position: int, number: int) -> tuple[str, int]:
    value = ""
    while True:
        close = line.find('"', position)
        if close < 0:
            raise CountersError(f"line {number}: quoted field runs past the line (not produced by our generator)")
        value += line[position:close]
        if line.startswith('""', close):
            value += '"'
            position = close + 2
        elif close + 1 == len(line) or line[close + 1] == ",":
            return value, close + 1
        else:
            raise CountersError(f'line {number}: extraneous or missing " in quoted field')


def read_counters(text: str) -> list[tuple[str, str, str]]:
    """The (field, Prometheus type, help) rows the exporter would collect, or its start-up error."""
    names = known_field_names()
    counters = []
    for index, record in enumerate(csv_records(text)):
        record = [field.strip(" ") for field in record]
        if len(record) != 3:
            raise CountersError(f"malformed CSV record; failed to parse line {index} ({record}), expected 3 fields")
        name, kind, help_text = record
        if name not in names:
            raise CountersError(f"could not find DCGM field {name!r}")
        if kind not in PROMETHEUS_TYPES:
            raise CountersError(f"could not find Prometheus metric type {kind!r}")
        counters.append((name, kind, help_text))
    return counters
