// saas-health in JavaScript: the same rule as plugins/saas-health (Rust), written
// with the JavaScript kit. Build: headway build plugins/saas-health-js

import { Fit, Plugin, RuleError, change, fixed, percent, ramp } from "./headway_kit.js";

const plugin = new Plugin("saas-health", "0.1.0")
  .band("red", 0)
  .band("yellow", 45)
  .band("green", 70)
  .reads(["seats-purchased", "seats-active", "weekly-active-users", "feature-adoption", "open-tickets", "nps"])
  .factor("seat-utilisation", "Seat utilisation", 0.25)
  .factor("engagement", "Active seats used weekly", 0.2)
  .factor("usage-trend", "Weekly users, 90-day trend", 0.15)
  .factor("feature-adoption", "Key feature adoption", 0.2)
  .factor("support-load", "Open support tickets", 0.1)
  .factor("nps", "Latest NPS answer", 0.1)
  .milestone("first-value", "First value", { description: "Five people use the product every week" })
  .milestone("team-rollout", "Team rollout", {
    description: "80% of purchased seats in use",
    upsell: { offer: "Seat pack (+25 seats)", arr: 6000, takeRate: 0.35 },
  })
  .milestone("power-usage", "Power usage", {
    description: "70% of key features adopted, 60% of active seats used weekly",
    upsell: { offer: "Enterprise tier", arr: 18000, takeRate: 0.25 },
  })
  .assess((a, card) => {
    const seats = a.require("seats-purchased");
    if (seats <= 0) throw new RuleError("invalid-measure", `seats-purchased is ${seats}`);
    const active = a.measure("seats-active") ?? 0;
    const wau = a.measure("weekly-active-users") ?? 0;

    const utilisation = active / seats;
    card.factor(
      "seat-utilisation",
      utilisation,
      ramp(utilisation, 0.3, 0.9),
      `${fixed(active, 0)} of ${fixed(seats, 0)} seats in use`,
    );
    const engagement = active > 0 ? wau / active : 0;
    card.factor(
      "engagement",
      engagement,
      ramp(engagement, 0.2, 0.8),
      `${percent(engagement, 0)} of active seats used weekly`,
    );
    const ratio = usageTrend(a, wau);
    if (ratio === undefined) card.skip("usage-trend", "under 90 days of usage history");
    else card.factor("usage-trend", ratio, ramp(ratio, 0.7, 1.2), `weekly users ${change(ratio - 1, 0)} over 90 days`);
    const adoption = a.measure("feature-adoption") ?? 0;
    card.factor("feature-adoption", adoption, ramp(adoption, 0.1, 0.7), `${percent(adoption, 0)} of key features adopted`);
    const tickets = a.measure("open-tickets") ?? 0;
    const perTenSeats = (tickets / seats) * 10;
    card.factor(
      "support-load",
      tickets,
      ramp(perTenSeats, 3, 0.5),
      `${fixed(tickets, 0)} open tickets (${fixed(perTenSeats, 1)} per 10 seats)`,
    );
    const nps = a.measure("nps");
    if (nps === undefined) card.skip("nps", "no NPS answer yet");
    else {
      card.factor("nps", nps, nps / 10, `last NPS answer ${fixed(nps, 0)}`);
      // A strong detractor is a risk whatever the usage says.
      if (nps <= 3) card.band("red");
    }

    card.milestone("first-value", wau / 5);
    card.milestone("team-rollout", utilisation / 0.8);
    card.milestone("power-usage", Math.min(adoption / 0.7, engagement / 0.6));
    if (seats < 3) card.fit(Fit.BAD_FIT);
    else if (seats >= 20 && (a.segment === "mid-market" || a.segment === "enterprise")) card.fit(Fit.IDEAL);
    else card.fit(Fit.STRETCH);
  });

/** Weekly users now against the last reading at least 90 days old. */
function usageTrend(a, wauNow) {
  const cutoff = a.asOf - 90;
  let past;
  for (const [day, value] of a.history("weekly-active-users")) {
    if (day <= cutoff) past = value;
  }
  if (past === undefined || past <= 0) return undefined;
  return wauNow / past;
}

export const rules = plugin.rules();
