"""The `recoverypbr model ...` commands: a thin shell over `recoverypbr.modelling`.

The main app registers them with ``app.add_typer(model_app, name="model")``; each command lives beside the
library module it drives and is added here.
"""

from __future__ import annotations

import typer

from recoverypbr._console import PlainFlagsGroup
from recoverypbr.modelling.baseline import baseline_command
from recoverypbr.modelling.compare_cli import compare_command
from recoverypbr.modelling.forecast_cli import forecast_command
from recoverypbr.modelling.gaming_cli import gaming_command
from recoverypbr.modelling.risk_cli import risk_command
from recoverypbr.modelling.tariffs_cli import tariffs_command

model_app = typer.Typer(
    cls=PlainFlagsGroup,
    help="Design by modelling: baseline rates, tariffs solved to the budget, spend risk, designs compared, gaming.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# In the order a commissioner uses them.
model_app.command("baseline")(baseline_command)
model_app.command("tariffs")(tariffs_command)
model_app.command("risk")(risk_command)
model_app.command("compare")(compare_command)
model_app.command("gaming")(gaming_command)
model_app.command("forecast")(forecast_command)
