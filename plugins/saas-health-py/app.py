"""saas-health in Python: the same rule as plugins/saas-health (Rust), written with
the Python kit. Build: headway build plugins/saas-health-py
"""

from headway_kit import Fit, Plugin, RuleError, change, fixed, percent, ramp

plugin = (
    Plugin("saas-health", "0.1.0")
    .band("red", 0.0)
    .band("yellow", 45.0)
    .band("green", 70.0)
    .reads([
        "seats-purchased",
        "seats-active",
        "weekly-active-users",
        "feature-adoption",
        "open-tickets",
        "nps",
    ])
    .factor("seat-utilisation", "Seat utilisation", 0.25)
    .factor("engagement", "Active seats used weekly", 0.20)
    .factor("usage-trend", "Weekly users, 90-day trend", 0.15)
    .factor("feature-adoption", "Key feature adoption", 0.20)
    .factor("support-load", "Open support tickets", 0.10)
    .factor("nps", "Latest NPS answer", 0.10)
    .milestone("first-value", "First value",
               description="Five people use the product every week")
    .milestone("team-rollout", "Team rollout",
               description="80% of purchased seats in use",
               upsell=("Seat pack (+25 seats)", 6_000.0, 0.35))
    .milestone("power-usage", "Power usage",
               description="70% of key features adopted, 60% of active seats used weekly",
               upsell=("Enterprise tier", 18_000.0, 0.25))
)


@plugin.assess
def assess(a, card):
    seats = a.require("seats-purchased")
    if seats <= 0:
        raise RuleError("invalid-measure", f"seats-purchased is {seats}")
    active = a.measure("seats-active") or 0.0
    wau = a.measure("weekly-active-users") or 0.0

    utilisation = active / seats
    card.factor("seat-utilisation", utilisation, ramp(utilisation, 0.3, 0.9),
                f"{fixed(active, 0)} of {fixed(seats, 0)} seats in use")
    engagement = wau / active if active > 0 else 0.0
    card.factor("engagement", engagement, ramp(engagement, 0.2, 0.8),
                f"{percent(engagement, 0)} of active seats used weekly")
    ratio = usage_trend(a, wau)
    if ratio is None:
        card.skip("usage-trend", "under 90 days of usage history")
    else:
        card.factor("usage-trend", ratio, ramp(ratio, 0.7, 1.2),
                    f"weekly users {change(ratio - 1.0, 0)} over 90 days")
    adoption = a.measure("feature-adoption") or 0.0
    card.factor("feature-adoption", adoption, ramp(adoption, 0.1, 0.7),
                f"{percent(adoption, 0)} of key features adopted")
    tickets = a.measure("open-tickets") or 0.0
    per_ten_seats = tickets / seats * 10.0
    card.factor("support-load", tickets, ramp(per_ten_seats, 3.0, 0.5),
                f"{fixed(tickets, 0)} open tickets ({fixed(per_ten_seats, 1)} per 10 seats)")
    nps = a.measure("nps")
    if nps is None:
        card.skip("nps", "no NPS answer yet")
    else:
        card.factor("nps", nps, nps / 10.0, f"last NPS answer {fixed(nps, 0)}")
        # A strong detractor is a risk whatever the usage says.
        if nps <= 3.0:
            card.band("red")

    card.milestone("first-value", wau / 5.0)
    card.milestone("team-rollout", utilisation / 0.8)
    card.milestone("power-usage", min(adoption / 0.7, engagement / 0.6))
    if seats < 3.0:
        card.fit(Fit.BAD_FIT)
    elif seats >= 20.0 and a.segment in ("mid-market", "enterprise"):
        card.fit(Fit.IDEAL)
    else:
        card.fit(Fit.STRETCH)


def usage_trend(a, wau_now):
    """Weekly users now against the last reading at least 90 days old."""
    cutoff = a.as_of - 90
    past = None
    for day, value in a.history("weekly-active-users"):
        if day <= cutoff:
            past = value
    if past is None or past <= 0.0:
        return None
    return wau_now / past


Rules = plugin.rules()
