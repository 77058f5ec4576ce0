"""The five-factor benchmark rule (tests/plugins/five-factors) as an analyst would
write it in pandas: read_json, a vectorised score with a reason per factor,
to_json. The Headway-vs-pandas benchmark (crates/headway-cli/benches/vs_pandas.rs)
runs this beside `headway score` on the same file and compares every score.

Usage: python3 pandas_score.py accounts.jsonl out.jsonl
"""

import sys

import numpy as np
import pandas as pd

BANDS = [("red", 0.0), ("yellow", 45.0), ("green", 70.0)]
WEIGHTS = {
    "seat-utilisation": 0.30,
    "engagement": 0.20,
    "feature-adoption": 0.20,
    "support-load": 0.15,
    "nps": 0.15,
}


def ramp(x, low, high):
    t = ((x - low) / (high - low)).clip(0.0, 1.0)
    return t.fillna(0.0)


def whole(x):
    """Rounded half away from zero, as the plugin kit's `fixed(x, 0)`."""
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype("int64").astype(str)


def main(src, dst):
    df = pd.read_json(src, lines=True)
    m = pd.DataFrame(df["measures"].tolist(), index=df.index)
    seats = m["seats-purchased"]
    ok = seats > 0
    active = m.get("seats-active", 0).fillna(0.0)
    wau = m.get("weekly-active-users", 0).fillna(0.0)
    adoption = m.get("feature-adoption", 0).fillna(0.0)
    tickets = m.get("open-tickets", 0).fillna(0.0)
    nps = m["nps"]

    utilisation = active / seats
    engagement = (wau / active).where(active > 0, 0.0)
    per_ten = tickets / seats * 10.0
    scores = {
        "seat-utilisation": ramp(utilisation, 0.3, 0.9),
        "engagement": ramp(engagement, 0.2, 0.8),
        "feature-adoption": ramp(adoption, 0.1, 0.7),
        "support-load": ramp(per_ten, 3.0, 0.5),
        "nps": nps / 10.0,
    }
    values = {
        "seat-utilisation": utilisation,
        "engagement": engagement,
        "feature-adoption": adoption,
        "support-load": per_ten,
        "nps": nps,
    }
    reasons = {
        "seat-utilisation": whole(active) + " of " + whole(seats) + " seats in use",
        "engagement": whole(engagement * 100) + "% of active seats used weekly",
        "feature-adoption": whole(adoption * 100) + "% of key features adopted",
        "support-load": whole(tickets) + " open tickets",
        "nps": ("last NPS answer " + whole(nps.fillna(0))).where(
            nps.notna(), "no NPS answer yet"
        ),
    }
    has_nps = nps.notna()
    applicable = 1.0 - np.where(has_nps, 0.0, WEIGHTS["nps"])
    out = pd.DataFrame({"account_id": df["id"]})
    total = 0.0
    for name, weight in WEIGHTS.items():
        w = pd.Series(weight / applicable, index=df.index)
        if name == "nps":
            w = w.where(has_nps, 0.0)
        contribution = w * scores[name].fillna(0.0) * 100.0
        total = total + contribution
        out[name + ".value"] = values[name]
        out[name + ".weight"] = w
        out[name + ".contribution"] = contribution
        out[name + ".reason"] = reasons[name]
    # Ten decimals, as the plugin kit rounds, so a score shown as 70.0 is green.
    out["score"] = total.clip(0.0, 100.0).round(10)
    out["band"] = pd.cut(
        out["score"],
        bins=[b[1] for b in BANDS] + [np.inf],
        labels=[b[0] for b in BANDS],
        right=False,
        include_lowest=True,
    ).astype(str)
    out.loc[~ok, ["score", "band"]] = [np.nan, None]
    out.to_json(dst, orient="records", lines=True, double_precision=15)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
