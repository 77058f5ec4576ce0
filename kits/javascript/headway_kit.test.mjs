// The JavaScript kit's own tests, run by Node (`node --test kits/javascript`);
// tests/it/javascript.rs runs them with the rest. The kit imports nothing from
// the contract, so a batch here is a plain object of the contract's shape.
// Every number is worked out by hand in the comment beside it.

import assert from "node:assert/strict";
import { test } from "node:test";

import { Fit, Plugin, RuleError, change, fixed, percent, ramp } from "./headway_kit.js";

test("numbers are written as the Rust kit writes them", () => {
  assert.equal(fixed(41, 0), "41");
  assert.equal(fixed(0.5, 2), "0.50");
  assert.equal(fixed(123.456, 1), "123.5");
  assert.equal(fixed(-3.26, 1), "-3.3");
  assert.equal(fixed(1e-9, 3), "0.000");
  assert.equal(fixed(99.99, 1), "100.0");
  assert.equal(fixed(2.5, 0), "3", "halves away from zero");
  assert.equal(fixed(-2.5, 0), "-3", "halves away from zero");
  assert.equal(fixed(-0.004, 2), "0.00", "no negative zero");
  assert.equal(fixed(1.5, 9), "1.500000", "at most six decimals");
  // 123456789012.5e6 is past 2^53 and exact in binary: every digit kept.
  assert.equal(fixed(123456789012.5, 6), "123456789012.500000");
  assert.equal(percent(0.823, 1), "82.3%");
  assert.equal(percent(1, 0), "100%");
  assert.equal(change(0.2, 0), "+20%");
  assert.equal(change(-0.05, 0), "-5%");
  assert.equal(change(0, 0), "+0%");
  assert.equal(fixed(NaN, 1), "NaN");
  assert.equal(percent(Infinity, 1), "inf%");
  assert.equal(fixed(-Infinity, 0), "-inf");
  assert.equal(fixed(2e15, 2), "2000000000000000");
});

test("ramp clamps to 0-1, runs either way and turns NaN into 0", () => {
  assert.equal(ramp(0.75, 0.5, 1), 0.5); // (0.75 - 0.5) / 0.5
  assert.equal(ramp(2, 3, 0.5), 0.4); // (2 - 3) / (0.5 - 3) = -1 / -2.5
  assert.equal(ramp(-1, 0, 1), 0);
  assert.equal(ramp(5, 0, 1), 1);
  assert.equal(ramp(NaN, 0, 1), 0);
  assert.equal(ramp(1, 1, 1), 0, "0 / 0 is NaN");
  assert.equal(ramp(2, 1, 1), 1, "1 / 0 is +inf");
});

/** A text-column of strings, with UTF-8 byte offsets as the host writes them. */
function textColumn(strings) {
  const ends = [];
  let end = 0;
  for (const s of strings) {
    end += Buffer.byteLength(s, "utf8");
    ends.push(end);
  }
  return { data: strings.join(""), ends: new Uint32Array(ends) };
}

/** A batch of the contract's shape: one row per account description. */
function batch(accounts) {
  const measureNames = [...new Set(accounts.flatMap((a) => Object.keys(a.measures ?? {})))];
  const rows = accounts.length;
  return {
    ids: textColumn(accounts.map((a) => a.id)),
    names: textColumn(accounts.map((a) => a.name ?? "")),
    segments: textColumn(accounts.map((a) => a.segment ?? "")),
    plans: textColumn(accounts.map(() => "")),
    stages: accounts.map(() => "active"),
    arr: new Float64Array(accounts.map((a) => a.arr ?? 0)),
    startDates: new Int32Array(rows).fill(20_000),
    renewalDates: accounts.map(() => undefined),
    asOf: new Int32Array(rows).fill(20_400),
    measures: measureNames.map((name) => ({
      name,
      values: new Float64Array(accounts.map((a) => a.measures?.[name] ?? NaN)),
    })),
    history: [
      {
        name: "usage",
        // row 0 has (20100, 4) and (20300, 6); the others none (their ends stay at 2).
        ends: new Uint32Array(accounts.map(() => 2)),
        days: new Int32Array([20_100, 20_300]),
        values: new Float64Array([4, 6]),
      },
    ],
    outcomes: [
      {
        name: "cost",
        higherIsBetter: false,
        values: new Float64Array(accounts.map((a) => a.cost ?? NaN)),
        targets: new Float64Array(accounts.map((a) => a.costTarget ?? NaN)),
      },
    ],
    attributes: [{ key: "tier", values: textColumn(accounts.map((a) => a.tier ?? "")) }],
    milestonesReached: [{ milestone: "rollout", on: accounts.map((a) => a.reachedOn) }],
  };
}

/** Weights 0.25 / 0.75; bands red from 0, green from 60. */
function plugin(rule) {
  return new Plugin("kit-test", "0.1.0")
    .band("red", 0)
    .band("green", 60)
    .factor("a", "A", 0.25)
    .factor("b", "B", 0.75)
    .milestone("rollout", "Rollout", { upsell: { offer: "More", arr: 1000, takeRate: 0.5 } })
    .assess(rule);
}

test("describe() carries the declaration in the contract's field names", () => {
  const info = plugin(() => {}).rules().describe();
  assert.deepEqual(info.bands, [
    { name: "red", minScore: 0 },
    { name: "green", minScore: 60 },
  ]);
  assert.deepEqual(info.milestones[0], {
    id: "rollout",
    name: "Rollout",
    description: "",
    upsell: { offer: "More", arr: 1000, takeRate: 0.5 },
  });
  assert.equal(info.reads, undefined, "no reads: every column is sent");
});

test("the answer carries what the rule decided, one slot per account", () => {
  const rules = plugin((a, card) => {
    const { x, y } = { x: a.measure("x"), y: a.measure("y") };
    if (x === undefined) card.skip("a", "no x");
    else card.factor("a", x, x, `x ${fixed(x, 1)}`);
    card.factor("b", y, y, `y ${percent(y, 0)}`);
    card.milestone("rollout", y / 0.75).predicted(20_500.7).likelihood(1.5);
    if (a.id === "over") card.band("red");
    card.fit(Fit.IDEAL);
  }).rules();
  const out = rules.assess(
    batch([
      { id: "both", measures: { x: 0.5, y: 0.75 } },
      { id: "skipped", measures: { y: 0.375 } },
      { id: "over", measures: { x: 7, y: -2 } },
    ]),
  );
  // The host weighs credits into the score; the kit only clamps them to 0-1,
  // and a skipped factor has neither value nor credit.
  assert.deepEqual([...out.factors[0].values], [0.5, NaN, 7]);
  assert.deepEqual([...out.factors[0].credits], [0.5, NaN, 1]);
  assert.deepEqual([...out.factors[1].credits], [0.75, 0.375, 0]);
  assert.deepEqual(out.factors[0].reasons.words, { data: "x 0.5no xx 7.0", ends: new Uint32Array([5, 9, 14]) });
  assert.deepEqual([...out.factors[0].reasons.numberEnds], [0, 0, 0], "numbers are written in the words");
  assert.deepEqual(out.forcedBands, [undefined, undefined, 0]);
  // y / 0.75: 1, 0.5, clamped to 0 (the host marks the first reached).
  assert.deepEqual([...out.milestones[0].progress], [1, 0.5, 0]);
  assert.deepEqual(out.milestones[0].predictedOn, [20_500, 20_500, 20_500]);
  assert.deepEqual(out.milestones[0].likelihood, [1, 1, 1], "likelihood clamps to 1");
  assert.deepEqual(out.fit, ["ideal", "ideal", "ideal"]);
  assert.deepEqual(out.errors, []);
});

test("a factor set twice keeps the second, and -0 turns into 0", () => {
  const rules = plugin((a, card) => {
    card.factor("a", 1, 0.25, "first");
    card.factor("a", 2, -0, "second");
    card.skip("b", "");
  }).rules();
  const out = rules.assess(batch([{ id: "twice" }]));
  assert.deepEqual([...out.factors[0].values], [2]);
  assert.ok(Object.is(out.factors[0].credits[0], 0));
  assert.equal(out.factors[0].reasons.words.data, "second");
  assert.deepEqual(out.errors, []);
});

test("a rule's mistakes fail their account alone, each named", () => {
  const rules = plugin((a, card) => {
    switch (a.id) {
      case "typo":
        card.factor("c", 1, 1, "");
        break;
      case "unset":
        card.factor("a", 1, 1, "");
        break;
      case "nan":
        card.factor("a", 1, NaN, "");
        break;
      case "band":
        card.band("purple");
        break;
      case "milestone":
        card.milestone("moon", 1);
        break;
      case "required":
        a.require("seats");
        break;
      case "refused":
        throw new RuleError("invalid-measure", "seats is -1");
      case "bug":
        null.seats;
        break;
      case "string":
        throw "plain";
      default:
        card.factor("a", 1, 1, "fine");
        card.factor("b", 1, 1, "fine");
    }
  }).rules();
  const ids = ["typo", "unset", "nan", "band", "milestone", "required", "refused", "bug", "string", "fine"];
  const out = rules.assess(batch(ids.map((id) => ({ id }))));
  const errors = Object.fromEntries(out.errors.map((e) => [ids[e.index], [e.code, e.message]]));
  assert.deepEqual(errors.typo, ["unknown-factor", "factor `c` is not declared in describe()"]);
  assert.deepEqual(errors.unset, ["unset-factor", "factor `b` was neither set nor skipped"]);
  assert.deepEqual(errors.nan, ["invalid-factor", "factor `a` scored NaN"]);
  assert.deepEqual(errors.band, ["unknown-band", "band `purple` is not declared in describe()"]);
  assert.deepEqual(errors.milestone, ["unknown-milestone", "milestone `moon` is not declared in describe()"]);
  assert.deepEqual(errors.required, ["missing-measure", "account has no measure `seats`"]);
  assert.deepEqual(errors.refused, ["invalid-measure", "seats is -1"]);
  assert.equal(errors.bug[0], "rule-error");
  assert.match(errors.bug[1], /^TypeError: /);
  assert.deepEqual(errors.string, ["rule-error", "plain"]);
  assert.equal(out.errors.length, ids.length - 1);
  assert.deepEqual([...out.factors[1].credits.slice(-1)], [1], "the last account is fine");
});

test("text beyond ASCII is cut at UTF-8 offsets both ways", () => {
  const rules = plugin((a, card) => {
    card.factor("a", 1, 1, a.name);
    card.factor("b", 1, 1, `${a.id}|${a.segment}|${a.attribute("tier") ?? "-"}`);
  }).rules();
  const out = rules.assess(
    batch([
      { id: "ü-1", name: "Café", segment: "entérprise", tier: "gold" },
      { id: "2", name: "東京 🚀", segment: "smb" },
    ]),
  );
  assert.deepEqual(out.factors[0].reasons.words, { data: "Café東京 🚀", ends: new Uint32Array([5, 16]) });
  assert.equal(out.factors[1].reasons.words.data, "ü-1|entérprise|gold2|smb|-");
  // "ü-1|entérprise|gold" is 19 characters, 21 bytes; "2|smb|-" 7 more.
  assert.deepEqual([...out.factors[1].reasons.words.ends], [21, 28]);
});

test("an account reads its measures, history, outcomes and recorded milestones", () => {
  const seen = [];
  const rules = plugin((a, card) => {
    const cost = a.outcome("cost");
    seen.push({
      id: a.id,
      missing: a.measure("x"),
      history: a.history("usage"),
      attainment: cost?.attainment(),
      meets: cost?.meetsTarget(),
      tenure: a.tenureDays,
      reached: a.reached("rollout"),
      unknown: a.outcome("nope"),
    });
    card.factor("a", 1, 1, "");
    card.factor("b", 1, 0.5, "");
    card.milestone("rollout", 0.2);
  }).rules();
  const out = rules.assess(
    batch([
      { id: "first", cost: 8, costTarget: 10, reachedOn: 20_350 },
      { id: "second", cost: 12 },
    ]),
  );
  assert.deepEqual(seen, [
    // cost is lower-is-better: attainment = target / value = 10 / 8
    { id: "first", missing: undefined, history: [[20_100, 4], [20_300, 6]], attainment: 1.25, meets: true, tenure: 400, reached: 20_350, unknown: undefined },
    // no target: no attainment, nothing to meet; row 1's history is empty
    { id: "second", missing: undefined, history: [], attainment: undefined, meets: undefined, tenure: 400, reached: undefined, unknown: undefined },
  ]);
  // The rule's progress as set: the host marks the recorded one reached.
  assert.deepEqual([...out.milestones[0].progress], [0.2, 0.2]);
  assert.deepEqual([...out.factors[1].credits], [0.5, 0.5]);
});
