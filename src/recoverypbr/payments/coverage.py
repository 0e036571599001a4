"""What the contract covers: only episodes of the providers and service lines it names are paid.

Rules (docs/payments.md, "Activity outside the contract"):
- An episode is covered when the provider recorded on it and the provider paid for it (the same, or its
  assignment's under `attribution.model: assigned`) are named in `providers` and are not the LASARS, and, when the
  provider paid lists `service_lines`, the episode's service line is one of them.
- Under the prime model with `attribution.unnamed_providers: through_prime`, an unnamed provider's episodes are
  covered and paid to the prime (`splits.payee`), as a named subcontractor's are.
- Anything due for an episode that is not covered (an outcome, a payment point, a fee, an incentive) is not priced:
  it is listed in `Payments.unpriced` with a `why` that starts with `OUTSIDE`, so statements can list and count
  activity outside the contract.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from recoverypbr.contract.model import Contract

#: Every reason for activity outside the contract starts with this.
OUTSIDE = "outside the contract: "


def paid_providers(contract: Contract) -> list[str]:
    """The providers the contract pays (every named provider but the LASARS)."""
    return [pid for pid, p in contract.providers.items() if p.role != "lasars"]


def unnamed_paid(contract: Contract) -> bool:
    """True when unnamed providers' episodes are paid through the prime."""
    a = contract.attribution
    return a.model == "prime" and a.unnamed_providers == "through_prime"


def outside_why(provider: ir.StringValue, service_line: ir.StringValue | None, contract: Contract,
                delivered: ir.StringValue | None = None) -> ir.StringValue:
    """Why an episode paid to `provider` in `service_line` is outside the contract, or null when it is covered.
    `delivered` is the provider recorded on the episode when it may differ from the one paid (an assignment):
    both must be named. Without `service_line` (a ledger priced without episodes) only the providers are checked."""
    named = paid_providers(contract)
    branches: list[tuple[ir.BooleanValue, ir.StringValue]] = []
    if not unnamed_paid(contract):
        for who in ([delivered] if delivered is not None else []) + [provider]:
            unnamed = (~who.isin(named or [""]) | who.isnull()).fill_null(True)
            text = ibis.literal(OUTSIDE + "provider ") + who.fill_null("(none)") + " is not named in the contract"
            branches.append((unnamed, text + "; not paid"))
    if service_line is not None:
        for pid in named:
            lines = contract.providers[pid].service_lines
            if not lines:
                continue
            elsewhere = (provider == pid) & ~service_line.isin(lines).fill_null(False)
            shown = ibis.literal("'") + service_line.fill_null("(none)") + "'"
            text = (ibis.literal(OUTSIDE + "service line ") + shown + f" is not one that {pid} delivers under the "
                    f"contract (providers.{pid}.service_lines); not paid")
            branches.append((elsewhere.fill_null(False), text))
    if not branches:
        return ibis.null("string")
    return ibis.cases(*branches, else_=ibis.null("string"))


def with_coverage(rows: ir.Table, contract: Contract, episodes: ir.Table | None, provider: str = "provider_id"
                  ) -> ir.Table:
    """The rows (with `episode_id` and the paid provider in column `provider`) with `outside`: why the row's episode
    is outside the contract, null when covered, and `outside_provider`: whose statement lists it (`listed_under`).
    `episodes` (episode_id, service_line, and provider_id when known) gives the service lines and who delivered."""
    if episodes is not None and "service_line" in episodes.columns:
        recorded = "provider_id" in episodes.columns
        e = episodes.select(v_episode="episode_id", v_line="service_line",
                            v_provider=episodes.provider_id if recorded else ibis.null("string"))
        joined = rows.left_join(e, rows.episode_id == e.v_episode)
        delivered = joined.v_provider.fill_null(joined[provider]) if recorded else None
        why = outside_why(joined[provider], joined.v_line, contract, delivered)
        listed = listed_under(joined[provider], delivered, contract)
        return joined.mutate(outside=why, outside_provider=listed).drop("v_episode", "v_line", "v_provider")
    return rows.mutate(outside=outside_why(rows[provider], None, contract), outside_provider=rows[provider])


def listed_under(provider: ir.StringValue, delivered: ir.StringValue | None, contract: Contract) -> ir.StringValue:
    """The provider whose statement lists an episode outside the contract: the one that delivered it when the
    contract does not name that one (so no named provider sees another's client), else the one it is paid to."""
    if delivered is None:
        return provider
    named = paid_providers(contract)
    return ibis.ifelse(delivered.isin(named or [""]).fill_null(False), provider, delivered)


def is_outside(why: str | None) -> bool:
    """True for an unpriced row's `why` that says its episode is outside the contract."""
    return bool(why) and str(why).startswith(OUTSIDE)
