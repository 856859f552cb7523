"""The offline brief reader: every dev brief gives the facts its entry lists, and hard phrasings of our own read right.

Dev-brief checks are one test per listed fact (company, window, fiscal year, locale, counts, cities, events with
kind and month, KPIs through the lexicon), so a fact the reader truly cannot get is one strict xfail with its
reason. ``TODAY`` is fixed: relative phrases resolve against it.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml

from schemas.brief import BriefFrame
from schemas.errors import InputError
from tasks.design.brief_reader import festival_dates, load_lexicon, read_brief

ROOT = Path(__file__).resolve().parent.parent
DEV_BRIEFS = ROOT / "tests" / "fixtures" / "dev_briefs.yaml"  # a copy of shared/briefs/dev_briefs.yaml
TODAY = dt.date(2026, 12, 1)
DEV = yaml.safe_load(DEV_BRIEFS.read_text()) if DEV_BRIEFS.is_file() else []


def read(text: str) -> BriefFrame:
    return read_brief(text, today=TODAY)


# ---------------------------------------------------------------- dev briefs: one case per listed fact

# The dev facts name KPIs in their own words; these map the names that are no lexicon alias to its key.
FACT_KPI_KEYS = {
    "churn": "churn_rate",
    "member vs non-member spend": "spend_per_customer",
    "incremental sold units": "incremental_units",
    "ratings": "average_rating",
}
# Counts the facts name by a group word ("stores") where the brief has its own noun ("pharmacies").
ENTITY_GROUPS = {"store": {"store", "pharmacy", "shop", "outlet", "branch", "club", "cinema"}}
# The dev facts give no event kinds: the kind a reader should give each listed event.
EVENT_KINDS = {
    "membership price increase": {"price_change"},
    "Pongal campaign": {"promotion"},
    "Onam campaign": {"promotion"},
    "checkout redesign": {"redesign"},
    "product page A/B test": {"experiment"},
    "client complaints / service drop": {"crisis"},
    "tariff increase": {"price_change"},
    "studio moves releases to streaming": {"other", "competitor_entry"},
    "heatwave": {"crisis"},
    "trial shortened to 14 days": {"policy_change"},
    "live classes added": {"launch"},
    "service crisis": {"crisis"},
}
XFAIL = {
    ("gym-churn", "kpi", "visits per member"): "the brief says only 'visits'; read as the visits count",
    ("solar-market-panel", "kpi", "CAGR"): "the brief says 'fastest growth': read as growth, not compound growth",
    ("coffee-survey", "kpi", "awareness share"): "the brief never names awareness; a survey design implies it",
    ("apparel-wholesale", "kpi", "gross sales"): "the brief says 'sales' and 'gross price', not gross sales",
    ("apparel-wholesale", "kpi", "margin"): "margin is implied by price and cost trends, never named",
    ("telecom-tariff", "kpi", "ARPU"): "ARPU is what a tariff study implies; the brief does not name it",
    ("bakery-small", "kpi", "visits"): "the brief says 'regulars' (read as repeat purchase rate), not visits",
    ("theatre-streaming", "kpi", "revenue per screen"): "not named; the brief says ticket sales and occupancy",
    ("dairy-coop", "kpi", "litres per farmer"): "the brief says 'procurement volume'; farmers are never named",
    ("dairy-coop", "event", "heatwave"): "no place points to India, so summer is read as June-August, not April-June",
    ("saas-trial", "kpi", "MRR"): "MRR is implied by a SaaS brief, never named",
    ("insurance-claims", "kpi", "average claim"): "not named; the brief says 'claims ratio' and 'suspicious claims'",
    ("insurance-claims", "kpi", "settlement time"): "not named in the brief",
    ("restaurant-chain-delivery", "kpi", "cancellation rate"): "the one-line brief names only orders",
    ("restaurant-chain-delivery", "kpi", "delivery time"): "the one-line brief names only orders",
    ("restaurant-chain-delivery", "kpi", "ratings"): "the one-line brief names only orders",
}


def kpi_key(name: str) -> str:
    """A dev fact's KPI name -> the lexicon key whose alias (or name) it is."""
    if name in FACT_KPI_KEYS:
        return FACT_KPI_KEYS[name]
    lex = load_lexicon()
    for key, entry in lex.kpis.items():
        if entry.name.lower() == name.lower():
            return key
    for alias in lex.aliases:
        if alias.pattern.fullmatch(name) and not alias.when:
            return alias.keys[0]
    raise AssertionError(f"dev KPI {name!r} is no alias of domains/lexicon/kpis.yaml; map it in FACT_KPI_KEYS")


def _dev_cases() -> list:
    cases = []
    for entry in DEV:
        facts = entry["facts"]
        items: list[tuple[str, object]] = []
        for kind in ("company", "window", "fiscal_year_start_month", "locale"):
            if kind in facts:
                items.append((kind, facts[kind]))
        for noun, value in (facts.get("counts") or {}).items():
            items.append(("count", (noun, value)))
        for city in facts.get("cities") or []:
            items.append(("city", city))
        for event in facts.get("events") or []:
            items.append(("event", event))
        for kpi in facts.get("kpis") or []:
            items.append(("kpi", kpi))
        for kind, value in items:
            label = value["what"] if kind == "event" else value
            reason = XFAIL.get((entry["id"], kind, label if isinstance(label, str) else ""))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            cases.append(pytest.param(entry["id"], kind, value, id=f"{entry['id']}-{kind}-{label}", marks=marks))
    return cases


def _months(value: str) -> dt.date:
    return dt.date.fromisoformat(f"{value}-01")


def _effective_window(frame: BriefFrame) -> tuple[dt.date, dt.date] | None:
    """The window the frame gives the lead: stated (with its baseline), else the span of its dated events."""
    if frame.window:
        start = frame.window.baseline.start if frame.window.baseline else frame.window.start
        return start, frame.window.end
    periods = [p for e in frame.events for p in (e.before, e.after) if p]
    dates = [d for e in frame.events for d in (e.start, e.end) if d] + [d for p in periods for d in (p.start, p.end)]
    return (min(dates), max(dates)) if dates else None


@pytest.mark.skipif(not DEV, reason="the dev briefs file is not beside the checkout")
@pytest.mark.parametrize(("brief_id", "kind", "expected"), _dev_cases())
def test_a_dev_brief_gives_its_listed_fact(brief_id: str, kind: str, expected) -> None:
    entry = next(e for e in DEV if e["id"] == brief_id)
    frame = read(entry["brief"])
    if kind == "company":
        assert frame.company is not None and frame.company.name == expected
    elif kind == "window" and isinstance(expected, list):
        window = _effective_window(frame)
        assert window is not None, "no window and no dated event"
        assert (window[0].replace(day=1), window[1].replace(day=1)) == (_months(expected[0]), _months(expected[1]))
    elif kind == "window":  # "relative (last year = the calendar year before today ...)"
        assert frame.window is not None and frame.window.relative
        assert (frame.window.start, frame.window.end) == (
            dt.date(TODAY.year - 1, 1, 1),
            dt.date(TODAY.year - 1, 12, 31),
        )
        assert frame.window.baseline is not None and frame.window.baseline.start == dt.date(TODAY.year - 2, 1, 1)
    elif kind == "fiscal_year_start_month":
        assert frame.fiscal_year is not None and frame.fiscal_year.start_month == expected
        if frame.window:
            assert frame.window.fiscal_year_start_month == expected
    elif kind == "locale":
        assert frame.locale == expected
    elif kind == "count":
        noun, value = expected
        singular = re.sub(r"ies$", "y", noun) if noun.endswith("ies") else noun.rstrip("s")
        accepted = ENTITY_GROUPS.get(singular, {singular})
        assert any(c.value == value and c.entity in accepted for c in frame.counts), frame.counts
    elif kind == "city":
        assert expected in frame.geography.cities
    elif kind == "event":
        kinds = EVENT_KINDS[expected["what"]]
        matching = [e for e in frame.events if e.kind in kinds]
        when = expected.get("when")
        if when is None:
            assert any(e.start is None for e in matching), frame.events
        elif isinstance(when, int):
            assert any(e.start and e.start.year == when for e in matching), frame.events
        else:
            month = _months(when)
            assert any(e.start and (e.start.year, e.start.month) == (month.year, month.month) for e in matching), (
                frame.events
            )
    elif kind == "kpi":
        assert kpi_key(expected) in {k.key for k in frame.kpis}, [k.key for k in frame.kpis]


@pytest.mark.skipif(not DEV, reason="the dev briefs file is not beside the checkout")
@pytest.mark.parametrize("entry", DEV, ids=[e["id"] for e in DEV])
def test_every_fact_of_a_dev_brief_quotes_the_brief(entry: dict) -> None:
    frame = read(entry["brief"])
    _assert_sources(frame)
    assert read(entry["brief"]) == frame  # deterministic


def _assert_sources(frame: BriefFrame) -> None:
    for kind, value, source in frame.facts():
        if kind in ("locale",):
            continue
        for part in source.split("; ") if kind == "geography" else [source]:
            assert part and part in frame.brief, f"{kind} {value!r}: source {part!r} is not words of the brief"
    for event in frame.events:
        assert event.periods_source is None or event.periods_source in frame.brief


# ---------------------------------------------------------------- windows and fiscal years


@pytest.mark.parametrize(
    ("brief", "start", "end", "fiscal"),
    [
        ("Analyse Kerala stores for FY2021-FY2024.", "2020-04-01", "2024-03-31", 4),
        ("A Pune chain wants FY21-FY24 sales.", "2020-04-01", "2024-03-31", 4),
        ("Sales in Mumbai for FY2023-24.", "2023-04-01", "2024-03-31", 4),
        ("Sales in Mumbai for FY 2023/24.", "2023-04-01", "2024-03-31", 4),
        ("Report FY2022 to FY2024 (July-June fiscal years).", "2021-07-01", "2024-06-30", 7),
        ("Our fiscal year starts in October; show FY2023.", "2022-10-01", "2023-09-30", 10),
        ("Use fiscal years 2021-2024, with a fiscal year (September to August).", "2020-09-01", "2024-08-31", 9),
        ("A Chennai retailer saw returns spike in Q3 FY2024.", "2023-10-01", "2023-12-31", 4),
    ],
)
def test_fiscal_years_in_several_notations(brief: str, start: str, end: str, fiscal: int) -> None:
    frame = read(brief)
    assert frame.window is not None, frame
    assert (frame.window.start.isoformat(), frame.window.end.isoformat()) == (start, end)
    assert frame.window.fiscal_year_start_month == fiscal


def test_a_fiscal_year_definition_without_years_sets_only_the_start_month() -> None:
    frame = read("Threadline wants sales by fiscal year (September to August) and top products.")
    assert frame.fiscal_year is not None and frame.fiscal_year.start_month == 9
    assert frame.fiscal_year.source == "fiscal year (September to August)"
    assert frame.window is None


@pytest.mark.parametrize(
    ("brief", "start", "end"),
    [
        ("Look at Nov 2023 - Feb 2024 sales.", "2023-11-01", "2024-02-29"),
        ("Winter trading from November to February 2024.", "2023-11-01", "2024-02-29"),
        ("Bookings between December 2022 and March 2023 matter.", "2022-12-01", "2023-03-31"),
        ("Use data from January 2023 to June 2024.", "2023-01-01", "2024-06-30"),
        ("Show January to August 2024 by channel.", "2024-01-01", "2024-08-31"),
        ("Compare Jan–Apr 2024 performance.", "2024-01-01", "2024-04-30"),
        ("Use 2019-2023 data.", "2019-01-01", "2023-12-31"),
        ("Trends for 2024 only.", "2024-01-01", "2024-12-31"),
        ("Quarterly view of Q3 2023.", "2023-07-01", "2023-09-30"),
        ("Look at Q1-Q3 2024.", "2024-01-01", "2024-09-30"),
        ("Sales in H2 2023.", "2023-07-01", "2023-12-31"),
        ("Daily data for 2023-24.", "2023-01-01", "2024-12-31"),
        ("Daily data for 2023/24.", "2023-01-01", "2024-12-31"),
        ("Sales for the 12 months ending March 2024.", "2023-04-01", "2024-03-31"),
        ("Sales for the first six months of 2024.", "2024-01-01", "2024-06-30"),
        ("Use data from Jan'23 to Dec'24.", "2023-01-01", "2024-12-31"),
        ("Use data for April 2022 – March 2024.", "2022-04-01", "2024-03-31"),
        ("Monthly sales for Sept 2023 to Mar 2024.", "2023-09-01", "2024-03-31"),
    ],
)
def test_month_year_and_quarter_windows(brief: str, start: str, end: str) -> None:
    frame = read(brief)
    assert frame.window is not None, brief
    assert (frame.window.start.isoformat(), frame.window.end.isoformat()) == (start, end)
    assert frame.window.source in brief and not frame.window.relative


@pytest.mark.parametrize(
    ("brief", "start", "end"),
    [
        ("Why did sales fall last year?", "2025-01-01", "2025-12-31"),
        ("Orders over the past two years by region.", "2024-01-01", "2025-12-31"),
        ("Compare stores last quarter.", "2026-07-01", "2026-09-30"),
        ("Churn in the last 6 months.", "2026-06-01", "2026-11-30"),
        ("Revenue since March 2025 by plan.", "2025-03-01", "2026-11-30"),
        ("Bookings this year by city.", "2026-01-01", "2026-11-30"),
        ("A Pune chain's sales for the last two financial years.", "2024-04-01", "2026-03-31"),
        ("A Delhi chain's sales for this fiscal year.", "2026-04-01", "2027-03-31"),
    ],
)
def test_relative_windows_resolve_against_today(brief: str, start: str, end: str) -> None:
    frame = read(brief)
    assert frame.window is not None and frame.window.relative
    assert (frame.window.start.isoformat(), frame.window.end.isoformat()) == (start, end)


def test_a_change_in_the_window_adds_the_period_before_as_baseline() -> None:
    frame = read("An auto insurer saw its claims ratio rise in 2024.")
    assert frame.window is not None and frame.window.baseline is not None
    assert (frame.window.baseline.start, frame.window.baseline.end) == (dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    assert read("Claims ratio for 2024.").window.baseline is None


def test_a_projection_year_is_the_horizon_not_the_window() -> None:
    frame = read("Use FY2021-FY2024 (April-March fiscal years) and project FY2027 installations.")
    assert frame.window is not None and frame.window.end == dt.date(2024, 3, 31)
    assert frame.horizon is not None and (frame.horizon.start, frame.horizon.end) == (
        dt.date(2026, 4, 1),
        dt.date(2027, 3, 31),
    )


def test_a_tenure_is_not_the_window() -> None:
    assert read("AtliQ Grands has been in the hotel business for the past 20 years.").window is None


def test_an_event_takes_its_own_date_not_the_one_it_follows() -> None:
    frame = read("Tunely saw watch time fall in the second half of 2023 after removing its free tier in June 2023.")
    (event,) = frame.events
    assert (event.kind, event.start, event.what) == ("policy_change", dt.date(2023, 6, 1), "free tier change")
    assert (frame.window.start, frame.window.end) == (dt.date(2023, 7, 1), dt.date(2023, 12, 31))
    (pricing,) = read(
        "In 2022 the city council introduced congestion pricing. Compare 12 months before and after."
    ).events
    assert pricing.start == dt.date(2022, 1, 1) and pricing.before.start == dt.date(2021, 1, 1)


def test_a_project_that_covers_years_is_no_projection() -> None:
    frame = read("This project analyses 2019-2023 data; forecast 2025 demand.")
    assert (frame.window.start, frame.window.end) == (dt.date(2019, 1, 1), dt.date(2023, 12, 31))
    assert frame.horizon is not None and frame.horizon.start == dt.date(2025, 1, 1)
    assert read("The project covers 2024.").horizon is None


def test_only_event_dates_leave_the_window_to_the_designer() -> None:
    frame = read("ShopKart cut delivery fees in March 2024.")
    assert frame.window is None
    assert frame.events[0].start == dt.date(2024, 3, 1)


# ---------------------------------------------------------------- counts


@pytest.mark.parametrize(
    ("brief", "entity", "value"),
    [
        ("We have 2 lakh customers in Gujarat.", "customer", 200_000),
        ("The app has 1.5 crore users.", "user", 15_000_000),
        ("Kirana network of 1,20,000 retailers.", "retailer", 120_000),
        ("It serves 10k subscribers.", "subscriber", 10_000),
        ("It reaches 2.5 million households.", "household", 2_500_000),
        ("A dozen warehouses ship the orders.", "warehouse", 12),
        ("The chain runs 1,250 stores.", "store", 1_250),
        ("Pedalo operates in six cities.", "city", 6),
        ("Brewline surveyed 6,000 people.", "respondent", 6_000),
        ("The group runs 2000 stores nationwide.", "store", 2_000),
        ("We run 40 pharmacies.", "pharmacy", 40),
        ("A retail giant with 50+ supermarkets.", "supermarket", 50),
        ("It has twenty-five branches.", "branch", 25),
        ("Two thousand farmers supply the dairy.", "farmer", 2_000),
    ],
)
def test_counts_with_commas_lakh_crore_and_number_words(brief: str, entity: str, value: int) -> None:
    counts = read(brief).counts
    assert [(c.entity, c.value) for c in counts] == [(entity, value)], counts


@pytest.mark.parametrize(
    "brief",
    [
        "Revenue was ₹1.5 crore last year.",
        "Raised prices by 20% and promised 2-day delivery.",
        "Trial went from 30 to 14 days.",
        "She has three months of sales.",
        "Measure OTP against an 85% target.",
    ],
)
def test_money_percentages_and_durations_are_not_counts(brief: str) -> None:
    assert read(brief).counts == []


def test_a_city_count_and_tiers_fill_the_geography() -> None:
    geo = read("A grocery app in 8 cities, mostly tier-2 and tier 3 cities in Maharashtra.").geography
    assert geo.city_count == 8 and geo.tiers == ["tier-2", "tier-3"]
    assert geo.states == ["Maharashtra"] and geo.country == "India"


# ---------------------------------------------------------------- events


def test_two_dated_events_in_one_sentence() -> None:
    frame = read("ShopKart cut delivery fees in March 2023 and launched a subscription plan in August 2023.")
    assert [(e.kind, e.start) for e in frame.events] == [
        ("price_change", dt.date(2023, 3, 1)),
        ("launch", dt.date(2023, 8, 1)),
    ]
    assert frame.events[0].what == "delivery fee cut"


@pytest.mark.parametrize(
    ("brief", "kind"),
    [
        ("Signups fell after a data breach.", "crisis"),
        ("Sales dropped when a rival opened nearby.", "competitor_entry"),
        ("Margins shrank after new competitors arrived.", "competitor_entry"),
        ("We ran a pilot in two stores.", "pilot"),
        ("Orders fell after a service crisis.", "crisis"),
        ("It changed its return policy.", "policy_change"),
    ],
)
def test_events_without_a_date(brief: str, kind: str) -> None:
    events = read(brief).events
    assert [(e.kind, e.start) for e in events] == [(kind, None)], events


@pytest.mark.parametrize(
    "brief",
    [
        "Analyse accounts opened and closed in 2023 by branch.",
        "Analyse incidents and outages by plant for 2023.",
        "Count complaints by category in 2024.",
    ],
)
def test_what_the_data_counts_is_no_event(brief: str) -> None:
    frame = read(brief)
    assert frame.events == [] and frame.window is not None


def test_an_opening_or_an_outage_with_its_object_is_an_event() -> None:
    (opening,) = read("QuickBite opened 12 new stores in March 2024.").events
    assert (opening.kind, opening.start) == ("launch", dt.date(2024, 3, 1))
    (outage,) = read("Orders fell after a major outage in July 2023.").events
    assert (outage.kind, outage.start) == ("crisis", dt.date(2023, 7, 1))


def test_a_plan_is_not_an_event() -> None:
    assert read("Brewline surveyed people before launching its cold-brew range.").events == []


def test_size_and_change_of_an_event() -> None:
    (price,) = read("Jyoti Telecom raised prepaid tariffs by 20% in December 2021.").events
    assert (price.kind, price.magnitude_pct, price.what) == ("price_change", 20.0, "prepaid tariff increase")
    (trial,) = read("Cloudnote changed its free trial from 30 to 14 days in July 2023.").events
    assert (trial.kind, trial.change_from, trial.change_to) == ("policy_change", 30.0, 14.0)


def test_festivals_take_their_dates_from_the_lexicon() -> None:
    frame = read("During Diwali 2023 and Black Friday 2024 it ran flash sales.")
    assert [(e.kind, e.start) for e in frame.events] == [
        ("promotion", dt.date(2023, 11, 8)),
        ("promotion", dt.date(2024, 11, 29)),
    ]
    assert frame.events[0].what == "Diwali 2023 sales"
    # a festival without a year takes the year of a one-year window
    (christmas,) = read("Show the Christmas campaign for 2024.").events
    assert christmas.start is not None and christmas.start.year == 2024 and christmas.start.month == 12
    assert festival_dates(load_lexicon().festivals[0], 2031)[0] == dt.date(2031, 1, 14)  # Pongal: a fixed date


def test_a_season_dates_an_event_by_locale() -> None:
    (india,) = read("Procurement in Gujarat fell in the 2023 summer heatwave.").events
    assert (india.kind, india.start, india.end) == ("crisis", dt.date(2023, 4, 1), dt.date(2023, 6, 30))
    (us,) = read("Sales in Texas fell in the 2023 summer heatwave.").events
    assert us.start == dt.date(2023, 6, 1)


def test_before_and_after_periods_the_brief_states() -> None:
    (cut,) = read("ShopKart cut prices in May 2024. Compare Jan-Apr vs Jun-Sep, May excluded.").events
    assert (cut.before.start, cut.before.end) == (dt.date(2024, 1, 1), dt.date(2024, 4, 30))
    assert (cut.after.start, cut.after.end) == (dt.date(2024, 6, 1), dt.date(2024, 9, 30))
    assert cut.periods_source == "Jan-Apr vs Jun-Sep"
    (hike,) = read("Tariffs were hiked in December 2021. Compare the six months before and after.").events
    assert (hike.before.start, hike.before.end) == (dt.date(2021, 6, 1), dt.date(2021, 11, 30))
    assert (hike.after.start, hike.after.end) == (dt.date(2022, 1, 1), dt.date(2022, 6, 30))
    (fare,) = read("In May 2024, Zippy Cabs raised surge fares by 15%. Compare rides in April vs June 2024.").events
    assert (fare.kind, fare.start, fare.magnitude_pct) == ("price_change", dt.date(2024, 5, 1), 15.0)
    assert (fare.before.start, fare.after.end) == (dt.date(2024, 4, 1), dt.date(2024, 6, 30))
    pongal, onam = read("During Pongal 2024 and Onam 2024 it ran promotions; use the week before each campaign.").events
    assert (pongal.before.start, pongal.before.end) == (dt.date(2024, 1, 7), dt.date(2024, 1, 13))
    assert onam.before.end == dt.date(2024, 9, 5) and onam.after.start == onam.start


# ---------------------------------------------------------------- company, stakeholder, KPIs, the rest


@pytest.mark.parametrize(
    ("brief", "name"),
    [
        ("FitNation runs 12 fitness clubs.", "FitNation"),
        ("SunGrid Energy, a rooftop-solar installer, wants a study.", "SunGrid Energy"),
        ("Jyoti Telecom raised prepaid tariffs.", "Jyoti Telecom"),
        ("Rosa runs a small bakery with a loyalty card.", "Rosa's Bakery"),
        ("Brewline, a coffee-chain startup, surveyed people.", "Brewline"),
        ("The data comes from a retailer called Kartly.", "Kartly"),
        ("Pedalo operates bike sharing.", "Pedalo"),
    ],
)
def test_the_company_name(brief: str, name: str) -> None:
    company = read(brief).company
    assert company is not None and company.name == name and company.source in brief


def test_the_company_of_the_main_clause_and_not_a_platform() -> None:
    frame = read("After Reliance Jio launched 5G in October 2022, Mobile Bharat lost subscribers in Gujarat.")
    assert frame.company.name == "Mobile Bharat"
    assert read("A D2C skincare brand on Shopify wants cohort retention for 2023.").company is None
    assert read("Streaming service Tunely saw watch time fall in 2023.").company.name == "Tunely"


@pytest.mark.parametrize(
    "brief",
    [
        "March sales fell in Pune.",
        "Attendance dropped after a studio moved releases to streaming.",
        "NPS fell in 2024.",
        "Mumbai stores saw fewer visits.",
        "During Diwali 2023 sales rose.",
        "The COO wants an analysis.",
        "An online retailer wants to understand why repeat purchases fell last year.",
    ],
)
def test_never_a_sentence_start_a_month_a_place_or_a_kpi_as_company(brief: str) -> None:
    assert read(brief).company is None


@pytest.mark.parametrize(
    ("brief", "role"),
    [
        ("The COO wants an analysis of memberships.", "COO"),
        ("The head of growth wants the funnel.", "head of growth"),
        ("The category head wants to know which promotions lifted sales.", "category head"),
        ("The marketing team wants to know who drinks coffee.", "marketing team"),
        ("Answers for management, prepared for the CFO who asks for margins.", "CFO"),
    ],
)
def test_the_stakeholder(brief: str, role: str) -> None:
    stakeholder = read(brief).stakeholder
    assert stakeholder is not None and stakeholder.role == role


def test_kpis_come_from_the_lexicon_with_formula_and_parts() -> None:
    frame = read("Track ADR, RevPAR, OTIF, YoY growth and NPS; also the on-time-performance target of 85%.")
    by_key = {k.key: k for k in frame.kpis}
    assert {"adr", "revpar", "otif", "yoy_growth", "nps", "on_time_rate"} <= set(by_key)
    assert by_key["adr"].formula == "room_revenue / rooms_sold" and by_key["adr"].parts == [
        "room_revenue",
        "rooms_sold",
    ]
    assert by_key["on_time_rate"].target == 85.0
    assert "adr" not in {k.key for k in read("The ladder had an adroit design.").kpis}  # capitals only, whole words
    assert "growth" not in {k.key for k in read("The head of growth wants the funnel.").kpis}


def test_a_conditional_alias_needs_its_context() -> None:
    gym = {k.key for k in read("Membership cancellations rose at the club.").kpis}
    food = {k.key for k in read("Order cancellations rose in the app.").kpis}
    assert "churn_rate" in gym and "cancellation_rate" not in gym
    assert "cancellation_rate" in food and "churn_rate" not in food
    assert "churn_rate" in {k.key for k in read("A chain of gyms wants to understand why members cancel.").kpis}
    hr = {k.key for k in read("The HR department wants attrition by team.").kpis}
    shop = {k.key for k in read("An online shop wants customer attrition by segment.").kpis}
    assert "employee_turnover" in hr and "churn_rate" not in hr
    assert "churn_rate" in shop and "employee_turnover" not in shop


@pytest.mark.parametrize(
    ("brief", "level"),
    [
        ("Make it a data-cleaning exercise.", "light"),
        ("Learners must clean the data first.", "light"),
        ("Give us very messy data.", "heavy"),
        ("A heavily messy dataset, please.", "heavy"),
        ("Clean data please, no messiness.", "none"),
        ("A sales analysis of 2024.", None),
    ],
)
def test_messiness(brief: str, level: str | None) -> None:
    frame = read(brief)
    assert frame.messiness == level
    assert (frame.messiness_source is None) == (level is None)
    assert frame.messiness_source is None or frame.messiness_source in brief


@pytest.mark.parametrize(
    ("brief", "locale"),
    [
        ("A Pune gym chain.", "en_IN"),
        ("Revenue of ₹2 crore.", "en_IN"),
        ("Sales in 2 lakh homes.", "en_IN"),
        ("Use April-March fiscal years.", "en_IN"),
        ("A Texas gym chain.", None),
        ("A gym chain.", None),
    ],
)
def test_locale(brief: str, locale: str | None) -> None:
    assert read(brief).locale == locale


def test_business_nouns_are_lemmatised_and_leave_out_places_months_and_verbs() -> None:
    nouns = read(
        "FitNation runs 12 fitness clubs in Pune. Cancellations rose in January 2024 across memberships."
    ).nouns
    assert {"club", "cancellation", "membership"} <= set(nouns)
    assert not {"pune", "january", "runs", "rose", "fitnation"} & set(nouns)


# ---------------------------------------------------------------- odd input


@pytest.mark.parametrize("brief", ["", "   ", "Help.", "Retail", "?!", "Analyse the data and find insights."])
def test_a_brief_with_no_facts_gives_an_empty_frame(brief: str) -> None:
    frame = read(brief)
    assert frame.company is None and frame.window is None and frame.stakeholder is None
    assert frame.counts == [] and frame.events == [] and frame.kpis == [] and frame.locale is None
    assert frame.geography.cities == [] and frame.facts() == []


def test_a_very_long_brief_reads_the_same_facts() -> None:
    one = "FitNation runs 12 fitness clubs in Pune. After a membership price increase in January 2024, churn rose. "
    filler = "The team looks at many things across the business, week after week, without any new facts. " * 200
    frame = read(one + filler + "Use data from January 2023 to June 2024.")
    assert frame.company.name == "FitNation" and frame.counts[0].value == 12
    assert (frame.window.start, frame.window.end) == (dt.date(2023, 1, 1), dt.date(2024, 6, 30))
    assert [e.kind for e in frame.events] == ["price_change"]
    _assert_sources(frame)


def test_odd_punctuation() -> None:
    frame = read("FitNation!!! runs 12 clubs (Pune / Mumbai) -- prices rose 10% in Jan 2024; data: Jan–Jun 2024...")
    assert frame.company.name == "FitNation"
    assert frame.geography.cities == ["Pune", "Mumbai"]
    assert (frame.window.start, frame.window.end) == (dt.date(2024, 1, 1), dt.date(2024, 6, 30))
    _assert_sources(frame)


# ---------------------------------------------------------------- the lexicon is data beside the blueprints


def test_the_kpi_lexicon_is_complete_data() -> None:
    lex = load_lexicon()
    assert len(lex.kpis) >= 60
    kinds = {"ratio", "share", "growth", "count", "sum", "average", "rate", "target_attainment", "score", "duration"}
    for key, entry in lex.kpis.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key) and entry.name and entry.formula and entry.parts, key
        assert entry.kind in kinds, key


def test_a_content_author_adds_a_kpi_without_code(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "domains" / "lexicon", tmp_path / "lexicon")
    path = tmp_path / "lexicon" / "kpis.yaml"
    data = yaml.safe_load(path.read_text())
    data["kpis"].append(
        {
            "key": "dwell_time",
            "name": "Dwell time",
            "aliases": ["dwell time"],
            "formula": "avg(left_at - entered_at)",
            "parts": ["entered_at", "left_at"],
            "kind": "duration",
        }  # fmt: skip
    )
    path.write_text(yaml.safe_dump(data))
    frame = read_brief("Track dwell time by store.", today=TODAY, domains_dir=tmp_path)
    assert [k.key for k in frame.kpis] == ["dwell_time"]


def test_a_content_author_adds_a_city_and_a_festival_without_code(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "domains" / "lexicon", tmp_path / "lexicon")
    places_path, events_path = tmp_path / "lexicon" / "places.yaml", tmp_path / "lexicon" / "events.yaml"
    places, events = yaml.safe_load(places_path.read_text()), yaml.safe_load(events_path.read_text())
    places["countries"]["India"]["cities"].append({"name": "Hosur", "state": "Tamil Nadu", "tier": 3})
    events["festivals"]["Vishu"] = {"locale": "en_IN", "fixed": "04-14", "span": [0, 0], "month": 4}
    places_path.write_text(yaml.safe_dump(places, allow_unicode=True))
    events_path.write_text(yaml.safe_dump(events, allow_unicode=True))
    frame = read_brief("Stores in Hosur ran Vishu 2024 promotions.", today=TODAY, domains_dir=tmp_path)
    assert frame.geography.cities == ["Hosur"] and frame.geography.states == [] and frame.locale == "en_IN"
    assert [(e.kind, e.start) for e in frame.events] == [("promotion", dt.date(2024, 4, 14))]


def test_an_installed_library_finds_the_lexicon_beside_the_blueprints(tmp_path: Path) -> None:
    installed = tmp_path / "share" / "datafactory" / "domains"
    shutil.copytree(ROOT / "domains" / "lexicon", installed / "lexicon")
    assert read_brief("FitNation runs 12 clubs.", today=TODAY, domains_dir=installed).company.name == "FitNation"
    with pytest.raises(InputError, match=r"lexicon file .*kpis\.yaml is missing"):
        read_brief("FitNation runs 12 clubs.", today=TODAY, domains_dir=tmp_path / "elsewhere")


def test_the_wheel_ships_the_lexicon_files() -> None:
    data_files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    assert data_files["share/datafactory/domains/lexicon"] == ["domains/lexicon/*.yaml"]


@pytest.mark.parametrize(
    ("brief", "what", "kind", "start"),
    [
        ("Bookings fell after prices rose in May 2024.", "price increase", "price_change", "2024-05-01"),
        ("Fares went up in June 2023 and riders left.", "fare increase", "price_change", "2023-06-01"),
        (
            "Complaints about bills rose after new meters were installed in March 2024.",
            "new meters were installed",
            "launch",
            "2024-03-01",
        ),
    ],
)
def test_subject_first_price_changes_and_rollouts_are_events(brief: str, what: str, kind: str, start: str) -> None:
    (event,) = read_brief(brief).events
    assert (event.what, event.kind, event.start.isoformat()) == (what, kind, start)


@pytest.mark.parametrize(
    ("brief", "start"),
    [
        ("Refills dropped when a competitor opened nearby in mid 2024.", "2024-05-01"),
        ("A rival launched in mid-2023.", "2023-05-01"),
        ("A price increase in early 2024 hurt sales.", "2024-01-01"),
    ],
)
def test_early_mid_and_late_parts_of_a_year_date_an_event(brief: str, start: str) -> None:
    (event,) = read_brief(brief).events
    assert event.start.isoformat() == start


@pytest.mark.parametrize(
    "brief",
    [
        "SunGrid Energy wants a market study before entering three new states.",
        "Before entering three new states we need a study.",
        "It plans to open 5 stores next year.",
    ],
)
def test_a_planned_number_is_not_a_count_of_the_data(brief: str) -> None:
    assert read_brief(brief).counts == []


def test_words_of_a_country_s_conventions_point_to_its_locale_when_no_place_is_named() -> None:
    telecom = "Jyoti Telecom raised prepaid tariffs by 20% in December 2021. Recharges fell in several circles."
    assert read_brief(telecom).locale == "en_IN"  # telecom circles are India's service areas
    assert read_brief("Sales in tier-2 cities fell after the GST change").locale == "en_IN"
    assert read_brief("A Chicago courier wants its circles of customers analysed").locale != "en_IN"  # a place wins
    assert read_brief("An online store lost customers last year").locale is None
