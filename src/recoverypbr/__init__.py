"""recoverypbr: payment by results for drug and alcohol recovery services."""

from __future__ import annotations

__version__ = "0.1.0"

from recoverypbr.data.ingest import LoadResult, TableLoad, load_extract
from recoverypbr.errors import ContractError, DataError, RecoveryPbrError, WarehouseError
from recoverypbr.warehouse.connection import Warehouse, open_warehouse

__all__ = [
    "ContractError",
    "DataError",
    "LoadResult",
    "RecoveryPbrError",
    "TableLoad",
    "Warehouse",
    "WarehouseError",
    "__version__",
    "load_extract",
    "open_warehouse",
]
