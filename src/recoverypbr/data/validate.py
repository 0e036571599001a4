"""Validation of staged rows, as Ibis expressions run by the warehouse engine.

`parse` turns a staged table (text as read) into typed canonical columns, keeping each raw value beside
its parsed one. The `*_problems` functions return one row per broken rule:
`_row, column_name, value, rule, reason, record_key`. A row with any problem is kept aside; the rest load.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from recoverypbr.data import codes
from recoverypbr.data.read import ROW, BadLine, bad_line_reason
from recoverypbr.data.schema import TOP_GRACE_DAYS, Column, Table

GIVEN = "__given"
PROBLEM_COLUMNS = (ROW, "column_name", "value", "rule", "reason", "record_key")

_INT = r"^[+-]?[0-9]+(\.0+)?$"
_DECIMAL = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
#: Ids are pseudonymous codes: a letter or digit first (so no spreadsheet formula can start one), then letters,
#: digits and a little punctuation, up to ID_MAX_LENGTH characters.
ID_MAX_LENGTH = 64
_ID = rf"^[A-Za-z0-9][A-Za-z0-9 _.:/#-]{{0,{ID_MAX_LENGTH - 1}}}$"
ID_RULE = (
    f"not a valid id: up to {ID_MAX_LENGTH} letters, digits, spaces and - _ . : / #, starting with a letter or digit"
)
#: Free text (names, local authority, event details) longer than this is kept aside, not stored.
TEXT_MAX_LENGTH = 255


def given_name(column: str) -> str:
    """The flag saying a parsed column had a value in the file (so NULL means "did not parse", not "empty")."""
    return f"{column}{GIVEN}"


def given(t: ir.Table, column: str) -> ir.BooleanValue:
    name = given_name(column)
    return t[name] if name in t.columns else t[column].notnull()


def raw(t: ir.Table, column: str) -> ir.StringValue:
    """A parsed value as text (problems show the file's own text: see `with_file_text`)."""
    return t[column].cast("string")


def _text(value: ir.Value) -> ir.StringValue:
    return value.cast("string").strip().nullif("")


def _parse_code(raw: ir.StringValue, column: Column) -> ir.Value:
    norm = raw.lower()
    if column.value_aliases:
        norm = norm.substitute(column.value_aliases, else_=norm)
    if not column.codes:
        return norm
    return ibis.ifelse(norm.isin(column.codes), norm, ibis.null("string"))


def _parse_list(raw: ir.StringValue, column: Column) -> ir.Value:
    """A ';'-separated list of codes, stored as the codes present in code-list order.

    Plain substring operations rather than regular expressions or list lambdas: this runs on every
    episode of a national extract."""
    tidy = ";" + raw.lower().replace(" ", "").replace("\t", "") + ";"
    rest = tidy
    for _ in range(2):  # twice, so that a repeated code is removed too
        for code in column.codes:
            rest = rest.replace(f";{code};", ";")
    valid = rest.re_search("^;+$") & (tidy.length() > 2)
    present = [ibis.ifelse(tidy.contains(f";{c};"), c, ibis.null("string")) for c in column.codes]
    return ibis.ifelse(valid, ibis.literal(";").join(present), ibis.null("string"))


def _on_calendar(raw: ir.StringValue) -> ir.BooleanValue:
    """Whether YYYY-MM-DD text (digits checked already) names a day of the calendar (1975-02-30 does not)."""
    digits = ibis.ifelse(raw.re_search(_DATE), raw, ibis.literal("0001-01-01"))
    year = digits.substr(0, 4).cast("int32")
    month = digits.substr(5, 2).cast("int32")
    day = digits.substr(8, 2).cast("int32")
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    last = ibis.cases(
        (month == 2, ibis.ifelse(leap, 29, 28)),
        (month.isin([4, 6, 9, 11]), 30),
        else_=31,
    )
    return (month >= 1) & (month <= 12) & (day >= 1) & (day <= last)


#: The largest magnitudes of a 64-bit integer, as digits.
_INT64_MAX = "9223372036854775807"
_INT64_MIN = "9223372036854775808"


def _fits_int64(raw: ir.StringValue) -> ir.BooleanValue:
    """Whether whole-number text (`_INT`, checked already) fits 64 bits, told from its digits."""
    digits = raw.re_replace(r"^[+-]?0*", "").re_replace(r"\.0+$", "")
    bound = ibis.ifelse(raw.startswith("-"), _INT64_MIN, _INT64_MAX)
    return (digits.length() < 19) | ((digits.length() == 19) & (digits <= bound))


def _parse(raw: ir.StringValue, column: Column) -> ir.Value:
    """The typed value, or NULL when the text does not fit the column's kind."""
    null = ibis.null
    match column.kind:
        case "date":
            # Year 0000 is a date to DuckDB but not to Python: stored, it would break every report that reads it.
            # The calendar is checked here (not left to try_cast): PostgreSQL has no try_cast, and a cast of
            # 1975-02-30 would stop the load there instead of keeping the row aside.
            real = raw.re_search(_DATE) & ~raw.startswith("0000") & _on_calendar(raw)
            return ibis.ifelse(real, raw.try_cast("date"), null("date"))
        case "int":
            # A whole number beyond 64 bits is not a number to store, not a reason to stop the load: told by its
            # digits before any cast (PostgreSQL has no try_cast).
            fits = raw.re_search(_INT) & _fits_int64(raw)
            return ibis.ifelse(fits, raw.try_cast("decimal(38, 6)").try_cast("int64"), null("int64"))
        case "decimal":
            # Beyond ~300 digits a double overflows (PostgreSQL refuses the cast; no extract holds such a value).
            fits = raw.re_search(_DECIMAL) & (raw.length() < 300)
            return ibis.ifelse(fits, raw.try_cast("float64"), null("float64"))
        case "flag":
            low = raw.lower()
            return ibis.cases(
                (low.isin(codes.TRUE_WORDS), True),
                (low.isin(codes.FALSE_WORDS), False),
                else_=null("boolean"),
            )
        case "code":
            return _parse_code(raw, column)
        case "list":
            return _parse_list(raw, column)
        case _:
            return raw


def _already_typed(value: ir.Value, column: Column) -> ir.Value | None:
    """A typed (Parquet) column of the right kind needs no text parsing."""
    dtype = value.type()
    if column.kind == "int" and dtype.is_integer():
        return value.cast("int64")
    if column.kind == "decimal" and dtype.is_numeric():
        return value.cast("float64")
    if (column.kind == "date" and dtype.is_date()) or (column.kind == "flag" and dtype.is_boolean()):
        return value
    return None


def parse(stage: ir.Table, spec: Table) -> ir.Table:
    """Typed canonical columns, the text of each column that needed parsing, and the row number."""
    values: dict[str, ir.Value] = {ROW: stage[ROW]}
    for column in spec.columns:
        typed = _already_typed(stage[column.name], column)
        if typed is not None:
            values[column.name] = typed
            continue
        text = _text(stage[column.name])
        values[column.name] = _parse(text, column)
        if column.kind not in ("id", "text"):
            values[given_name(column.name)] = text.notnull()
    parsed = stage.select(**values)
    if "response_key" in spec.key:
        parsed = _with_response_key(parsed, spec)
    return parsed


def _content(t: ir.Table, spec: Table) -> ir.StringValue:
    """A row's canonical content as one string, for comparing rows."""
    parts = [t[c.name].cast("string").fill_null("\u2205") for c in spec.columns]
    return ibis.literal("\u241f").join(parts)


def _with_response_key(parsed: ir.Table, spec: Table) -> ir.Table:
    """Keyless rows (feedback) are keyed by content and by occurrence among identical rows."""
    content = _content(parsed, spec)
    occurrence = ibis.row_number().over(group_by=content, order_by=parsed[ROW]) + 1
    return parsed.mutate(response_key=content.hexdigest("md5") + "#" + occurrence.cast("string"))


def record_key(t: ir.Table, spec: Table) -> ir.StringValue:
    parts = [raw(t, k) if k in spec.column_names else t[k] for k in spec.key]
    return ibis.literal("|").join([p.cast("string").fill_null("") for p in parts])


def _problem(
    t: ir.Table, spec: Table, column: str, rule: str | ir.Value, reason: ir.Value, value: ir.Value
) -> ir.Table:
    return t.select(
        t[ROW],
        column_name=ibis.literal(column),
        value=value.cast("string"),
        rule=ibis.literal(rule) if isinstance(rule, str) else rule.cast("string"),
        reason=reason.cast("string"),
        record_key=record_key(t, spec),
    )


def _column_reason(t: ir.Table, column: Column) -> tuple[ir.Value, ir.Value]:
    """(rule, reason) for the first rule this column's value breaks, or NULLs."""
    present, value = given(t, column.name), t[column.name]
    cases: list[tuple[ir.BooleanValue, str, str]] = []
    if column.required:
        cases.append((~present, "missing", f"{column.name} is required but empty"))
    cases.append((present & value.isnull(), "format", _format_message(column)))
    if column.kind == "id":
        cases.append((value.notnull() & ~value.re_search(_ID), "format", ID_RULE))
    if column.kind == "text":
        longest = column.max_length or TEXT_MAX_LENGTH
        cases.append((value.length() > longest, "too_long", f"longer than {longest} characters"))
    if column.minimum is not None and column.maximum is not None:
        outside = value.notnull() & ((value < column.minimum) | (value > column.maximum))
        cases.append(
            (outside, "range", f"out of range: must be between {column.minimum} and {column.maximum}")
        )
    rule = ibis.cases(*((cond, ibis.literal(r)) for cond, r, _ in cases), else_=ibis.null("string"))
    reason = ibis.cases(*((cond, ibis.literal(m)) for cond, _, m in cases), else_=ibis.null("string"))
    return rule, reason


def _format_message(column: Column) -> str:
    match column.kind:
        case "date":
            return "not a valid ISO date (YYYY-MM-DD)"
        case "int":
            return "not a whole number"
        case "decimal":
            return "not a number"
        case "flag":
            return "not a Y/N flag (Y/N, 1/0, true/false)"
        case "list":
            return f"not a ';'-separated list of: {', '.join(column.codes)}"
        case _:
            return f"not a known code; expected one of: {', '.join(column.codes)}"


def column_problems(t: ir.Table, spec: Table) -> list[ir.Table]:
    """Missing required values, values of the wrong kind, values out of range or off the code list."""
    problems = []
    for column in spec.columns:
        rule, reason = _column_reason(t, column)
        flagged = t.mutate(__rule=rule, __reason=reason).filter(lambda x: x.__rule.notnull())
        problems.append(
            _problem(
                flagged, spec, column.name, flagged.__rule, flagged.__reason, raw(flagged, column.name)
            )
        )
    return problems


def date_order_problems(t: ir.Table, spec: Table) -> list[ir.Table]:
    problems = []
    for order in spec.date_order:
        early, late = t[order.earlier], t[order.later]
        bad = t.filter(early.notnull() & late.notnull() & (early > late))
        reason = (
            ibis.literal(f"{order.later} is before {order.earlier} (")
            + bad[order.earlier].cast("string")
            + ")"
        )
        problems.append(_problem(bad, spec, order.later, "date_order", reason, raw(bad, order.later)))
    return problems


def duplicate_problems(t: ir.Table, spec: Table) -> list[ir.Table]:
    """Identical repeats are kept aside after the first; rows sharing a key but differing are all kept aside."""
    repeated = t.group_by(list(spec.key)).aggregate(__count=t[ROW].count()).filter(lambda x: x.__count > 1)
    t = t.semi_join(repeated, [t[k] == repeated[k] for k in spec.key])
    key = [t[k] for k in spec.key]
    window = ibis.window(group_by=key)
    content = _content(t, spec)
    marked = t.mutate(
        __first=t[ROW].min().over(window),
        __n=t[ROW].count().over(window),
        __same=content.min().over(window) == content.max().over(window),
    )
    key_name = "+".join(spec.key)
    repeat = marked.filter((marked.__n > 1) & marked.__same & (marked[ROW] != marked.__first))
    clash = marked.filter((marked.__n > 1) & ~marked.__same)
    return [
        _problem(
            repeat,
            spec,
            key_name,
            "duplicate",
            "an identical copy of row " + repeat.__first.cast("string") + " (that row is kept)",
            record_key(repeat, spec),
        ),
        _problem(
            clash,
            spec,
            key_name,
            "conflict",
            clash.__n.cast("string")
            + " rows share this "
            + key_name
            + " with different values; none was loaded",
            record_key(clash, spec),
        ),
    ]


def reference_problems(
    t: ir.Table, spec: Table, known: dict[str, ir.Table], kept_aside: ir.Table | None = None
) -> list[ir.Table]:
    """Every id that names a row of another table must find it (in this load's valid rows or the warehouse).

    When the row it names was kept aside (`kept_aside`: the quarantine's entries), the reason says so and gives
    that row's own reason, under the rule `knock_on`, so the root cause is not buried under its consequences."""
    problems = []
    for column in spec.references:
        assert column.references is not None
        ref_table, ref_col = column.references
        keys = known[ref_table]
        missing = t.filter(t[column.name].notnull()).anti_join(keys, t[column.name] == keys[ref_col])
        if kept_aside is not None:
            parents = _kept_aside_rows(kept_aside, ref_table)
            missing = missing.left_join(parents, missing[column.name] == parents.__key).drop("__key")
        else:
            missing = missing.mutate(__parent=ibis.null("string"))
        noun = ref_table.removesuffix("s")
        knock_on = (
            ibis.literal(f"kept aside because its {noun} ") + missing[column.name] + " was kept aside ("
            + missing.__parent + ")"
        )
        not_found = (
            ibis.literal(f"{column.name} ")
            + missing[column.name]
            + f" not found in {ref_table} (neither valid in this extract nor already loaded)"
        )
        rule = ibis.ifelse(missing.__parent.notnull(), "knock_on", "reference")
        reason = ibis.ifelse(missing.__parent.notnull(), knock_on, not_found)
        problems.append(_problem(missing, spec, column.name, rule, reason, raw(missing, column.name)))
    return problems


def _kept_aside_rows(kept_aside: ir.Table, table: str) -> ir.Table:
    """Per key of `table` kept aside: where and why, from its latest load ("row 12 of clients.csv: reason")."""
    q = kept_aside.filter((kept_aside.table_name == table) & kept_aside.record_key.notnull())
    latest = ibis.window(group_by=q.record_key, order_by=[ibis.desc(q.load_id), q.row_number, q.column_name])
    q = q.mutate(__n=ibis.row_number().over(latest)).filter(lambda x: x.__n == 0)
    file = q.file.re_extract(r"([^/\\]+)$", 1)
    return q.select(__key=q.record_key, __parent="row " + q.row_number.cast("string") + " of " + file + ": " + q.reason)


def episode_problems(t: ir.Table, spec: Table) -> list[ir.Table]:
    """A discharge needs both its date and its reason; an episode needs its start date, unless it is a referral
    that never started, which needs its referral date instead (it earns nothing but counts in referral-to-start
    conversion)."""
    no_start = t.filter(~given(t, "start_date") & ~given(t, "referral_date"))
    no_reason = t.filter(t.discharge_date.notnull() & ~given(t, "discharge_reason"))
    no_date = t.filter(~given(t, "discharge_date") & t.discharge_reason.notnull())
    return [
        _problem(
            no_start,
            spec,
            "start_date",
            "missing",
            ibis.literal("start_date is required but empty (a referral that never started gives its referral_date "
                         "instead)"),
            raw(no_start, "start_date"),
        ),
        _problem(
            no_reason,
            spec,
            "discharge_reason",
            "discharge_incomplete",
            ibis.literal("discharge_date is given but discharge_reason is empty"),
            raw(no_reason, "discharge_reason"),
        ),
        _problem(
            no_date,
            spec,
            "discharge_date",
            "discharge_incomplete",
            ibis.literal("discharge_reason is given but discharge_date is empty"),
            raw(no_date, "discharge_date"),
        ),
    ]


def client_problems(t: ir.Table, spec: Table) -> list[ir.Table]:
    bad = t.filter(
        t.date_of_birth.notnull() & t.birth_year.notnull() & (t.date_of_birth.year() != t.birth_year)
    )
    reason = "birth_year differs from the year of date_of_birth (" + bad.date_of_birth.cast("string") + ")"
    return [_problem(bad, spec, "birth_year", "inconsistent", reason, raw(bad, "birth_year"))]


def same_client_problems(t: ir.Table, spec: Table, episodes: ir.Table) -> list[ir.Table]:
    """A row that names an episode must name that episode's client."""
    ep = episodes.select(ep_id=episodes.episode_id, ep_client=episodes.client_id)
    joined = t.join(ep, t.episode_id == ep.ep_id)
    bad = joined.filter(joined.client_id.notnull() & (joined.client_id != joined.ep_client))
    reason = "client_id differs from the client of episode " + bad.episode_id + " (" + bad.ep_client + ")"
    return [_problem(bad, spec, "client_id", "client_mismatch", reason, raw(bad, "client_id"))]


def top_date_problems(t: ir.Table, spec: Table, episodes: ir.Table) -> list[ir.Table]:
    """TOP dates inside their episode, allowing TOP_GRACE_DAYS either side; a post-exit TOP after discharge."""
    ep = episodes.select(
        ep_id=episodes.episode_id, ep_start=episodes.start_date, ep_end=episodes.discharge_date
    )
    j = t.join(ep, t.episode_id == ep.ep_id).filter(lambda x: x.top_date.notnull() & x.stage.notnull())
    grace = ibis.interval(days=TOP_GRACE_DAYS)
    in_treatment = j.stage != "post_exit"
    outside = in_treatment & (
        (j.top_date < j.ep_start - grace) | (j.ep_end.notnull() & (j.top_date > j.ep_end + grace))
    )
    never_started = j.ep_start.isnull()
    post_open = ~in_treatment & j.ep_end.isnull()
    post_early = ~in_treatment & j.ep_end.notnull() & (j.top_date < j.ep_end - grace)
    span = j.ep_start.cast("string") + " to " + j.ep_end.cast("string").fill_null("open")
    reason = ibis.cases(
        (never_started, ibis.literal("a TOP for a referral that never started (its episode has no start_date)")),
        (outside, "top_date is outside its episode (" + span + f", {TOP_GRACE_DAYS} days' grace)"),
        (post_open, ibis.literal("a post_exit TOP for an episode with no discharge")),
        (post_early, "a post_exit TOP dated before the episode's discharge (" + span + ")"),
        else_=ibis.null("string"),
    )
    bad = j.mutate(__reason=reason).filter(lambda x: x.__reason.notnull())
    return [_problem(bad, spec, "top_date", "top_outside_episode", bad.__reason, raw(bad, "top_date"))]


def with_file_text(problems: ir.Table, stage: ir.Table, spec: Table) -> ir.Table:
    """Show each problem's value as the file held it, looked up by row and column in the staged file."""
    text = stage.select(__stage_row=stage[ROW], **{c: stage[c].cast("string") for c in spec.column_names})
    joined = problems.left_join(text, problems[ROW] == text.__stage_row)
    value = ibis.cases(
        *((joined.column_name == c, joined[c]) for c in spec.column_names), else_=joined.value
    )
    return joined.select(*(joined[c] for c in PROBLEM_COLUMNS if c != "value"), value=value).select(
        *PROBLEM_COLUMNS
    )


#: Values longer than this are stored in the quarantine shortened, with their length (a 1 MB field is not kept).
SHOWN_LENGTH = 200
_OWNER_COLUMNS = ("client_id", "episode_id", "provider_id")


def shortened(value: ir.StringValue) -> ir.StringValue:
    """The value, or its first SHOWN_LENGTH characters and its length when longer."""
    long = value.length() > SHOWN_LENGTH
    cut = value.substr(0, SHOWN_LENGTH) + "… (" + value.length().cast("string") + " characters)"
    return ibis.ifelse(long, cut, value)


def bad_line_problems(lines: Sequence[BadLine]) -> pa.Table:
    """One problem per line that could not be split into the header's fields."""
    return pa.table(
        {
            ROW: pa.array([line.row for line in lines], pa.int64()),
            "column_name": pa.array(["(whole line)"] * len(lines), pa.string()),
            "value": pa.array([line.text for line in lines], pa.string()),
            "rule": pa.array(["line_shape"] * len(lines), pa.string()),
            "reason": pa.array([bad_line_reason(line) for line in lines], pa.string()),
            "record_key": pa.array([None] * len(lines), pa.string()),
        }
    )


def with_owners(problems: ir.Table, parsed: ir.Table, spec: Table) -> ir.Table:
    """Each problem with the client, episode and provider its row names (ids are kept as the file wrote them,
    trimmed), so that the quarantine can be shown to one provider without the others' rows.

    Read from the parsed rows (already in the warehouse), and only for the rows with a problem: a national
    extract has few, and scanning its file again for them would cost as much as reading it."""
    owners = {c: (parsed[c].cast("string") if c in spec.column_names else ibis.null("string")) for c in _OWNER_COLUMNS}
    rows = parsed.select(__owner_row=parsed[ROW], **{f"__{c}": e for c, e in owners.items()})
    rows = rows.semi_join(problems, rows.__owner_row == problems[ROW])
    joined = problems.left_join(rows, problems[ROW] == rows.__owner_row)
    return joined.select(*PROBLEM_COLUMNS, **{c: joined[f"__{c}"] for c in _OWNER_COLUMNS})
