"""Design by modelling: what a contract would pay on an area's history, before go-live and every year.

- `baseline`: outcome rates by complexity group (with intervals), time to achievement, flow and stock, from the
  warehouse's history evaluated by the outcome engine.
- `tariffs`: tariffs solved so that the expected payment on the baseline equals the results money.
- `risk`: Monte Carlo spend and cash flow, every run priced by the payments engine's own rules.
- `compare`: several designs on the same baseline, side by side.
- `gaming`: what each gaming strategy would earn a provider, re-priced by the real engine.
- `forecast`: a funnel contract's payment points forecast for the rest of the year.
- `report`: the HTML reports (charts rendered offline) and CSV/JSON of every figure.

See docs/modelling.md.
"""
