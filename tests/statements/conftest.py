"""Fixtures of the statement tests: a small area and its contract, paid through the command line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from recoverypbr.outcomes.cases import BASE_CONTRACT, arrow_rows
from recoverypbr.warehouse.connection import open_warehouse


@pytest.fixture()
def area(tmp_path: Path) -> tuple[Path, Path]:
    """A warehouse file with four completions in 2013-Q2 and a contract file paying them."""
    contract = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in BASE_CONTRACT.items()}
    contract |= {
        "effective_from": "2013-04-01",
        "years": [{"start": "2013-04-01", "end": "2014-03-31"}],
        "outcomes": {"completion": {"type": "successful_completion", "tariffs": {"all": "450.50"}}},
    }
    contract_file = tmp_path / "contract.yaml"
    contract_file.write_text(yaml.safe_dump(contract), encoding="utf-8")
    episodes = [
        {"episode_id": f"E{i}", "client_id": f"C{i}", "provider_id": "P1" if i < 3 else "P2",
         "start_date": dt.date(2012, 1, 1), "discharge_date": dt.date(2013, 5, i + 1),
         "discharge_reason": "completed_drug_free", "substances": "opiates"}
        for i in range(4)
    ]
    db = tmp_path / "area.duckdb"
    with open_warehouse(db) as wh:
        wh.insert("episodes", wh.register_arrow("_e", arrow_rows("episodes", episodes)))
    return contract_file, db
