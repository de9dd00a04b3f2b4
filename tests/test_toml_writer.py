"""The one TOML writer: what it writes reads back with `tomllib` exactly, or rounded where asked, or is refused."""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.toml_writer import to_toml


def _exact(value: Any) -> Any:
    """A form where equal means identical: -0.0 is not 0.0, nan equals nan, True is not 1."""
    if isinstance(value, float):
        return ("float", value.hex())
    if isinstance(value, dict):
        return {key: _exact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_exact(item) for item in value]
    return (type(value).__name__, value)


def _round_trips(document: dict[str, Any], **options: Any) -> dict[str, Any]:
    text = to_toml(document, **options)
    return tomllib.loads(text)


STRINGS = [
    "two\nlines",
    "crlf\r\nend",
    'say "hello"',
    "back\\slash and \\u0041 not an escape",
    "tab\there",
    "ünïcødé, 日本語, emoji 🧒",
    '"""triple"""',
    "nul \x00 bell \x07 escape \x1b delete \x7f",
    "",
]


@pytest.mark.parametrize("text", STRINGS)
def test_a_string_reads_back_unchanged(text: str) -> None:
    assert _round_trips({"s": text, "t": {"s": text}, "i": {"distribution": text}}) == {
        "s": text,
        "t": {"s": text},
        "i": {"distribution": text},
    }


def test_a_string_stays_on_its_line_with_quotes_backslashes_and_controls_escaped() -> None:
    assert to_toml({"s": 'a\nb\t"c"\\'}) == 's = "a\\u000ab\\u0009\\"c\\"\\\\"\n'


KEYS = ["with space", "dotted.key", 'quote"d', "back\\slash", "", "é", "new\nline", "1.5", "-_ok"]


@pytest.mark.parametrize("key", KEYS)
def test_a_key_reads_back_unchanged_as_key_table_header_and_array_header(key: str) -> None:
    document = {key: 1, "t": {key: {key: 2.5}}, "arrays": {key: [{key: "x"}, {key: "y"}]}, "inline": {"i": {key: 3}}}
    assert _round_trips(document) == document


def test_only_bare_keys_go_unquoted() -> None:
    text = to_toml({"bare-key_1": 1, "a b": 2, "": 3, "é": 4, "x": {"a.b": {"c": 5}}})
    assert text.splitlines() == [
        "bare-key_1 = 1",
        '"a b" = 2',
        '"" = 3',
        '"é" = 4',
        "",
        "[x]",
        "",
        '[x."a.b"]',
        "c = 5",
    ]


def test_a_calibrated_baseline_lays_out_as_calibration_writes_it() -> None:
    """Header, blank, scalars, commented sections, arrays of tables, inline distributions and prices."""
    document = {
        "name": "ce_baseline",
        "horizon": {"start": dt.date(2016, 9, 30), "years": 10},
        "start_population": {"groups": [{"pool": "ifa", "count": 3}, {"pool": "homes", "count": 1}]},
        "journeys": {"0-4": {"duration": {"return_home": {"distribution": "lognormal", "mean": 240.0}}}},
        "prices": {"ifa": {"median": 1000.123456, "p90": 1500.0}},
        "matching": {"fostering": {"pools": ["inhouse", "ifa"], "fallback": "emergency"}},
    }
    comments = {
        "horizon.years": "assumption: ten years",
        "start_population": "children in care on the start date",
        "start_population.groups.#1.count": "published count",
        "journeys.0-4.duration.return_home": "national shape",
    }
    text = to_toml(document, ["=" * 3, "Title", "", "Written by: test"], comments=comments, significant=6)
    assert text == (
        "# ===\n# Title\n#\n# Written by: test\n\n"
        'name = "ce_baseline"\n\n'
        "[horizon]\nstart = 2016-09-30\nyears = 10  # assumption: ten years\n\n"
        "[start_population]  # children in care on the start date\n\n"
        '[[start_population.groups]]\npool = "ifa"\ncount = 3\n\n'
        '[[start_population.groups]]\npool = "homes"\ncount = 1  # published count\n\n'
        "[journeys]\n\n"
        '[journeys.0-4]\n\n[journeys.0-4.duration]\nreturn_home = { distribution = "lognormal", mean = 240.0 }'
        "  # national shape\n\n"
        "[prices]\nifa = { median = 1000.12, p90 = 1500.0 }\n\n"
        '[matching]\n\n[matching.fostering]\npools = ["inhouse", "ifa"]\nfallback = "emergency"\n'
    )
    assert tomllib.loads(text)["start_population"]["groups"][1] == {"pool": "homes", "count": 1}


def test_a_header_ending_in_its_own_spacer_gets_no_blank_line_and_no_header_gets_nothing() -> None:
    assert to_toml({"a": 1, "t": {"b": 2}}, ["what-if", ""]) == "# what-if\n#\na = 1\n\n[t]\nb = 2\n"
    assert to_toml({"t": {"b": 2}}) == "[t]\nb = 2\n"


def test_a_comment_or_header_line_holding_a_line_break_cannot_end_early() -> None:
    text = to_toml({"a": 1}, ["name: x\ny = 2"], comments={"a": "note\nb = 3"})
    assert tomllib.loads(text) == {"a": 1}
    assert text.splitlines() == ["# name: x\\u000ay = 2", "", "a = 1  # note\\u000ab = 3"]


EXACT_FLOATS = [0.1, 1 / 3, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e16, 123456789.123, -1e-7]


@pytest.mark.parametrize("number", EXACT_FLOATS)
def test_a_float_is_exact_by_default(number: float) -> None:
    assert _exact(_round_trips({"x": number, "i": {"distribution": "d", "mean": number}})) == _exact(
        {"x": number, "i": {"distribution": "d", "mean": number}}
    )


def test_inf_and_nan_are_written_so_the_scenario_rules_can_name_the_key() -> None:
    read = _round_trips({"a": math.inf, "b": -math.inf, "c": math.nan})
    assert read["a"] == math.inf and read["b"] == -math.inf and math.isnan(read["c"])
    assert to_toml({"a": math.inf, "c": math.nan}, significant=6) == "a = inf\nc = nan\n"


@pytest.mark.parametrize(
    ("number", "text"),
    [(1234567.0, "1.23457e+06"), (0.000123456789, "0.000123457"), (100000.0, "100000.0"), (2.0, "2.0"), (-0.0, "-0.0")],
)
def test_significant_figures_round_as_format_g_and_stay_floats(number: float, text: str) -> None:
    assert to_toml({"x": number, "n": 7}, significant=6) == f"x = {text}\nn = 7\n"


def test_numpy_floats_are_written_as_floats() -> None:
    np = pytest.importorskip("numpy")
    assert to_toml({"x": np.float64(0.1), "y": np.float64(1 / 3)}, significant=4) == "x = 0.1\ny = 0.3333\n"
    assert tomllib.loads(to_toml({"x": np.float64(1 / 3)})) == {"x": 1 / 3}


@pytest.mark.parametrize(
    ("document", "error", "words"),
    [
        ({"a": None}, TypeError, "NoneType"),
        ({"a": {1, 2}}, TypeError, "set"),
        ({"t": {"a": [1, None]}}, TypeError, "NoneType"),
        ({1: "x"}, TypeError, "keys are strings"),
        ({"a": "\ud800"}, ValueError, "surrogate"),
        ({"\udfff": 1}, ValueError, "surrogate"),
        ({"a": dt.time(12, tzinfo=dt.UTC)}, ValueError, "time zone"),
        ({"a": dt.datetime(2020, 1, 1, tzinfo=dt.timezone(dt.timedelta(seconds=30)))}, ValueError, "whole minutes"),
    ],
)
def test_what_toml_cannot_hold_is_refused_saying_what(document: dict, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        to_toml(document)


# ------------------------------------------------------------------ property: any document reads back exactly

KEY = st.text(max_size=8)
SCALAR = (
    st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.dates()
    | st.datetimes()
    | st.times()
)


def _values(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(children, max_size=4) | st.dictionaries(KEY, children, max_size=4)


VALUE = st.recursive(SCALAR, _values, max_leaves=20)
TABLE = st.recursive(
    st.dictionaries(KEY, VALUE, max_size=4),
    lambda tables: st.dictionaries(KEY, tables | st.lists(tables, min_size=1, max_size=3) | VALUE, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)  # nested documents, slow to generate under coverage
@given(TABLE)
def test_any_document_reads_back_exactly(document: dict[str, Any]) -> None:
    assert _exact(_round_trips(document)) == _exact(document)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(KEY, st.floats(allow_nan=False) | st.lists(st.floats(allow_nan=False), max_size=3)),
    st.integers(1, 17),
)
def test_floats_read_back_rounded_to_the_significant_figures_asked(document: dict[str, Any], significant: int) -> None:
    def rounded(value: Any) -> Any:
        return [rounded(item) for item in value] if isinstance(value, list) else float(f"{value:.{significant}g}")

    assert _exact(_round_trips(document, significant=significant)) == _exact(
        {key: rounded(value) for key, value in document.items()}
    )
