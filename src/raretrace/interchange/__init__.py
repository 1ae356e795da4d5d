"""Real data in and out (issue #8): spreadsheets, GS1 EPCIS 2.0 documents and tabular exports.

Imports read a file row by row, turn each row (or group of rows) into the same signed event a
participant would record with ``raretrace record``, and hand the whole file to ``Registry.append`` as
one batch, so a file is recorded all or nothing and passes every check the registry makes. Exports
read through the library's own queries (lots, lineage, compliance, certificates) and write CSV, JSON,
Parquet or EPCIS 2.0 JSON-LD.
"""
