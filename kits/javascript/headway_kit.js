// Headway's plugin kit for JavaScript: the same model as the Rust kit (headway-pdk)
// and the Python kit. Declare bands, weighted factors and milestones on a
// `Plugin`, write one function that assesses one account, and export it:
//
//     import { Plugin, ramp, fixed } from "./headway_kit.js";
//
//     const plugin = new Plugin("my-rules", "0.1.0")
//       .band("red", 0).band("green", 60)
//       .reads(["seats-purchased", "seats-active"])
//       .factor("seats", "Seat utilisation", 1.0)
//       .assess((account, card) => {
//         const seats = account.require("seats-purchased");
//         const used = (account.measure("seats-active") ?? 0) / seats;
//         card.factor("seats", used, ramp(used, 0.3, 0.9), `${fixed(used * 100, 0)}% in use`);
//       });
//
//     export const rules = plugin.rules();   // what componentize-js exports
//
// The kit sends what the rule decides (contract 0.3.0): each factor's value, its
// 0-1 score (none for a skipped factor) and its reason, a band the rule forces,
// milestone progress. The host does the arithmetic, as for a Rust plugin: weights
// of skipped factors shared among the others, contributions, the score, the
// band, reached milestones. A thrown error or a `RuleError` fails that account
// only. `headway build` puts this file beside the plugin's app.js.

/** Fits, as the contract names them. */
export const Fit = Object.freeze({ IDEAL: "ideal", STRETCH: "stretch", BAD_FIT: "bad-fit" });

/** Lifecycle stages, as the contract names them. */
export const Stage = Object.freeze({
  TRIAL: "trial",
  ONBOARDING: "onboarding",
  ACTIVE: "active",
  RENEWING: "renewing",
  CHURNED: "churned",
});

/** Fails this account with a code and a message; the rest of the batch is kept. */
export class RuleError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = "RuleError";
    this.code = code;
    this.detail = message;
  }
}

/** Where x sits between low (0) and high (1), clamped to 0-1; NaN gives 0. */
export function ramp(x, low, high) {
  const t = (x - low) / (high - low);
  return Number.isNaN(t) ? 0 : Math.min(Math.max(t, 0), 1);
}

/** x with a fixed number of decimals (0-6), halves away from zero: as the Rust kit. */
export function fixed(x, decimals) {
  return number(x, decimals, 1, false, "");
}

/** A share as a percentage: percent(0.823, 1) is "82.3%". */
export function percent(share, decimals) {
  return number(share, decimals, 100, false, "%");
}

/** A change as a signed percentage: change(0.2, 0) is "+20%". */
export function change(share, decimals) {
  return number(share, decimals, 100, true, "%");
}

const SCALE = [1, 10, 100, 1e3, 1e4, 1e5, 1e6];

function number(x, decimals, scale, sign, suffix) {
  const d = decimals >= 6 ? 6 : decimals > 0 ? decimals | 0 : 0;
  const v = x * scale;
  if (!(v < 1e15 && v > -1e15)) {
    // As Rust prints a float (`{}`): NaN, inf, -inf, or all the digits.
    const text = Number.isNaN(v) ? "NaN" : v === Infinity ? "inf" : v === -Infinity ? "-inf" : String(v);
    return text + suffix;
  }
  const scaled = (v < 0 ? -v : v) * SCALE[d];
  const whole = Math.trunc(scaled);
  const n = scaled - whole >= 0.5 ? whole + 1 : whole;
  const lead = v < 0 && n !== 0 ? "-" : sign ? "+" : "";
  if (d === 0) return lead + n + suffix;
  // Beyond 2^53 a Number's own digits are rounded; a BigInt's are exact.
  const digits = (n <= Number.MAX_SAFE_INTEGER ? String(n) : BigInt(n).toString()).padStart(d + 1, "0");
  return lead + digits.slice(0, -d) + "." + digits.slice(-d) + suffix;
}

const ASCII = /^[\x00-\x7f]*$/;

/** A text-column as an array of strings (ends are UTF-8 byte offsets). */
function texts(column) {
  const out = new Array(column.ends.length);
  let start = 0;
  if (ASCII.test(column.data)) {
    // Bytes and characters coincide: slice the string itself.
    for (let i = 0; i < out.length; i++) {
      const end = column.ends[i];
      out[i] = column.data.slice(start, end);
      start = end;
    }
    return out;
  }
  const bytes = new TextEncoder().encode(column.data);
  const decoder = new TextDecoder();
  for (let i = 0; i < out.length; i++) {
    const end = column.ends[i];
    out[i] = decoder.decode(bytes.subarray(start, end));
    start = end;
  }
  return out;
}

/** The UTF-8 length of a string. */
function utf8Length(text) {
  if (ASCII.test(text)) return text.length;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4; // a surrogate pair is one code point of four bytes
      i++;
    } else n += 3;
  }
  return n;
}

/** An array of strings as a text-column. */
function column(strings) {
  const data = strings.join("");
  const ends = new Uint32Array(strings.length);
  const ascii = ASCII.test(data);
  let end = 0;
  for (let i = 0; i < strings.length; i++) {
    end += ascii ? strings[i].length : utf8Length(strings[i]);
    ends[i] = end;
  }
  return { data, ends };
}

function present(v) {
  return Number.isNaN(v) ? undefined : v;
}

/** One outcome KPI of an account, with its target where there is one. */
class Outcome {
  constructor(name, higherIsBetter, value, target) {
    this.name = name;
    this.higherIsBetter = higherIsBetter;
    this.value = value;
    this.target = target;
  }

  /** Whether the value meets the target; undefined without a target. */
  meetsTarget() {
    if (this.target === undefined) return undefined;
    return this.higherIsBetter ? this.value >= this.target : this.value <= this.target;
  }

  /** value / target when higher is better, target / value when lower is. */
  attainment() {
    if (this.target === undefined) return undefined;
    const ratio = this.higherIsBetter ? this.value / this.target : this.target / this.value;
    return Number.isFinite(ratio) ? ratio : undefined;
  }
}

/** The batch with names resolved once: measure -> values, and so on. */
class Batch {
  constructor(raw) {
    this.raw = raw;
    this.ids = texts(raw.ids);
    this.cached = {};
    this.measures = new Map(raw.measures.map((m) => [m.name, m.values]));
    this.history = new Map(raw.history.map((s) => [s.name, s]));
    this.outcomes = new Map(raw.outcomes.map((o) => [o.name, o]));
    this.attributes = new Map(raw.attributes.map((a) => [a.key, a.values]));
    this.attributeTexts = new Map();
    this.reached = new Map(raw.milestonesReached.map((r) => [r.milestone, r.on]));
  }

  texts(which) {
    return (this.cached[which] ??= texts(this.raw[which]));
  }

  attribute(key) {
    if (!this.attributeTexts.has(key)) {
      const values = this.attributes.get(key);
      this.attributeTexts.set(key, values === undefined ? undefined : texts(values));
    }
    return this.attributeTexts.get(key);
  }
}

/** One account of the batch, read row-wise. Days count from 1970-01-01. */
export class Account {
  constructor(batch, row) {
    this.batch = batch;
    this.row = row;
  }

  get id() {
    return this.batch.ids[this.row];
  }
  get name() {
    return this.batch.texts("names")[this.row];
  }
  get segment() {
    return this.batch.texts("segments")[this.row];
  }
  get plan() {
    return this.batch.texts("plans")[this.row];
  }
  /** One of `Stage`'s values. */
  get stage() {
    return this.batch.raw.stages[this.row];
  }
  get arr() {
    return this.batch.raw.arr[this.row];
  }
  get startDate() {
    return this.batch.raw.startDates[this.row];
  }
  /** undefined when the account has no renewal date. */
  get renewalDate() {
    return this.batch.raw.renewalDates[this.row] ?? undefined;
  }
  /** The day the data describes: the rule's today. */
  get asOf() {
    return this.batch.raw.asOf[this.row];
  }
  get tenureDays() {
    return this.asOf - this.startDate;
  }

  /** A current measure, or undefined when the account has none by that name. */
  measure(name) {
    const values = this.batch.measures.get(name);
    return values === undefined ? undefined : present(values[this.row]);
  }

  /** A measure the rule cannot do without: missing fails this account. */
  require(name) {
    const value = this.measure(name);
    if (value === undefined) throw new RuleError("missing-measure", `account has no measure \`${name}\``);
    return value;
  }

  /** The measure's history as [day, value] pairs sorted by day. */
  history(name) {
    const s = this.batch.history.get(name);
    if (s === undefined) return [];
    const start = this.row ? s.ends[this.row - 1] : 0;
    const end = s.ends[this.row];
    const out = [];
    for (let i = start; i < end; i++) out.push([s.days[i], s.values[i]]);
    return out;
  }

  /** An outcome KPI, or undefined when the account does not report it. */
  outcome(name) {
    const o = this.batch.outcomes.get(name);
    if (o === undefined) return undefined;
    const value = present(o.values[this.row]);
    if (value === undefined) return undefined;
    return new Outcome(o.name, o.higherIsBetter, value, present(o.targets[this.row]));
  }

  /** Every outcome KPI the account reports. */
  outcomes() {
    return [...this.batch.outcomes.keys()].map((name) => this.outcome(name)).filter((o) => o !== undefined);
  }

  /** A free-form attribute (`attributes` in the input), or undefined. */
  attribute(key) {
    const values = this.batch.attribute(key);
    return values === undefined ? undefined : values[this.row] || undefined;
  }

  /** The day a milestone was recorded as reached, or undefined. */
  reached(milestone) {
    const on = this.batch.reached.get(milestone);
    return on === undefined ? undefined : (on[this.row] ?? undefined);
  }
}

/** What `card.milestone(...)` returns: set the expected day and the upsell's odds. */
class MilestoneMark {
  constructor(card, i) {
    this.card = card;
    this.i = i;
  }

  /** The day the rule expects the milestone to be reached. */
  predicted(day) {
    if (this.i !== undefined) this.card.answer.predictedOn[this.i][this.card.row] = Math.trunc(day);
    return this;
  }

  /** How likely the account takes up the milestone's upsell (0-1). */
  likelihood(p) {
    if (this.i !== undefined) this.card.answer.likelihood[this.i][this.card.row] = Math.min(Math.max(Number(p), 0), 1);
    return this;
  }
}

/** The batch's answer: one slot per account in every column, written in place. */
class Answer {
  constructor(plugin, rows) {
    const perFactor = (make) => plugin.factorIds.map(make);
    const perMilestone = (make) => plugin.milestoneIds.map(make);
    this.forcedBands = new Array(rows).fill(undefined);
    this.fit = new Array(rows).fill(undefined);
    this.values = perFactor(() => new Float64Array(rows).fill(NaN));
    this.credits = perFactor(() => new Float64Array(rows).fill(NaN));
    this.reasons = perFactor(() => new Array(rows).fill(""));
    // Per factor, the row (plus one) it was last written for.
    this.written = new Uint32Array(plugin.factorIds.length);
    this.progress = perMilestone(() => new Float64Array(rows));
    this.predictedOn = perMilestone(() => new Array(rows).fill(undefined));
    this.likelihood = perMilestone(() => new Array(rows).fill(undefined));
    this.errors = [];
  }

  /** The index of a factor `row` left unwritten, or -1. */
  unset(row) {
    return this.written.findIndex((w) => w !== row + 1);
  }

  /** The host ignores a failed account's columns: they are left as written. */
  fail(row, code, message) {
    this.errors.push({ index: row, code, message });
  }

  toContract() {
    return {
      forcedBands: this.forcedBands,
      factors: this.values.map((values, i) => ({
        values,
        credits: this.credits[i],
        reasons: reasonColumn(this.reasons[i]),
      })),
      milestones: this.progress.map((progress, i) => ({
        progress,
        predictedOn: this.predictedOn[i],
        likelihood: this.likelihood[i],
      })),
      fit: this.fit,
      errors: this.errors,
    };
  }
}

/** A factor's reasons (one string per account) as a reason column: the words
 * only, as the kit formats its numbers itself (`fixed`, `percent`, `change`). */
function reasonColumn(strings) {
  return {
    words: column(strings),
    numbers: new Float64Array(0),
    at: new Uint32Array(0),
    styles: new Uint8Array(0),
    numberEnds: new Uint32Array(strings.length),
  };
}

/** What the rule sets for one account: each factor's value, its score (0-1) and
 * a reason, progress per milestone. The host weighs the factors into the 0-100
 * score and picks the band. One card serves a whole batch, moved from row to
 * row: allocating per account costs the interpreter more than the rule itself. */
export class Scorecard {
  constructor(plugin, answer) {
    this.plugin = plugin;
    this.answer = answer;
    this.row = 0;
    this.problem = undefined;
  }

  note(code, message) {
    this.problem ??= new RuleError(code, message);
  }

  index(id) {
    const i = this.plugin.factorIndex.get(id);
    if (i === undefined) this.note("unknown-factor", `factor \`${id}\` is not declared in describe()`);
    return i;
  }

  write(i, value, credit, reason) {
    const { answer, row } = this;
    answer.written[i] = row + 1;
    answer.values[i][row] = value;
    answer.credits[i][row] = credit;
    answer.reasons[i][row] = String(reason);
  }

  /** Sets a factor: its raw value, its score (0-1, clamped) and why. */
  factor(id, value, score, reason) {
    score = Number(score);
    if (Number.isNaN(score)) {
      this.note("invalid-factor", `factor \`${id}\` scored NaN`);
      return;
    }
    const i = this.index(id);
    if (i !== undefined) this.write(i, value, Math.min(Math.max(score, 0), 1) + 0, reason); // + 0 turns -0 into 0
  }

  /** Leaves a factor out for this account; its weight goes to the others. */
  skip(id, reason) {
    const i = this.index(id);
    if (i !== undefined) this.write(i, NaN, NaN, reason);
  }

  /** Progress (0-1) toward a declared milestone. */
  milestone(id, progress) {
    const i = this.plugin.milestoneIndex.get(id);
    if (i === undefined) {
      this.note("unknown-milestone", `milestone \`${id}\` is not declared in describe()`);
      return new MilestoneMark(this, undefined);
    }
    this.answer.progress[i][this.row] = Number.isNaN(progress) ? 0 : Math.min(Math.max(Number(progress), 0), 1);
    return new MilestoneMark(this, i);
  }

  /** Puts the account in a named band whatever its score. */
  band(name) {
    const i = this.plugin.bandIndex.get(name);
    if (i === undefined) this.note("unknown-band", `band \`${name}\` is not declared in describe()`);
    else this.answer.forcedBands[this.row] = i;
  }

  /** How well the account fits the ideal customer profile: one of `Fit`'s values. */
  fit(fit) {
    this.answer.fit[this.row] = fit;
  }
}

/** A plugin's declaration and its rule. */
export class Plugin {
  constructor(name, version) {
    this.name = name;
    this.version = version;
    this.bands = [];
    this.factors = [];
    this.milestones = [];
    this.readList = undefined;
    this.rule = undefined;
    this.described = undefined;
  }

  band(name, minScore) {
    this.bands.push({ name, minScore: Number(minScore) });
    return this;
  }

  factor(id, label, weight) {
    this.factors.push({ id, label, weight: Number(weight) });
    return this;
  }

  /** upsell: { offer, arr, takeRate } or nothing. */
  milestone(id, name, { description = "", upsell } = {}) {
    this.milestones.push({
      id,
      name,
      description,
      upsell: upsell && { offer: upsell.offer, arr: Number(upsell.arr), takeRate: Number(upsell.takeRate) },
    });
    return this;
  }

  /** The inputs the rule reads: the host sends only these columns. */
  reads(measures) {
    this.readList = [...measures];
    return this;
  }

  /** The function that assesses one account: rule(account, card). */
  assess(rule) {
    this.rule = rule;
    return this;
  }

  info() {
    if (this.described === undefined) {
      this.described = {
        name: this.name,
        version: this.version,
        bands: this.bands,
        factors: this.factors,
        milestones: this.milestones,
        reads: this.readList,
      };
      this.factorIds = this.factors.map((f) => f.id);
      this.factorIndex = new Map(this.factorIds.map((id, i) => [id, i]));
      this.milestoneIds = this.milestones.map((m) => m.id);
      this.milestoneIndex = new Map(this.milestoneIds.map((id, i) => [id, i]));
      this.bandIndex = new Map(this.bands.map((b, i) => [b.name, i]));
    }
    return this.described;
  }

  /** The object componentize-js exports as `rules`. */
  rules() {
    return {
      describe: () => this.info(),
      assess: (batch) => this.assessBatch(batch),
    };
  }

  assessBatch(raw) {
    this.info();
    if (this.rule === undefined) throw new Error("no rule: call plugin.assess(rule)");
    const batch = new Batch(raw);
    const rows = batch.ids.length;
    const answer = new Answer(this, rows);
    const card = new Scorecard(this, answer);
    for (let row = 0; row < rows; row++) {
      card.row = row;
      card.problem = undefined;
      try {
        this.rule(new Account(batch, row), card);
        if (card.problem !== undefined) throw card.problem;
        const unset = answer.unset(row);
        if (unset >= 0) throw new RuleError("unset-factor", `factor \`${this.factorIds[unset]}\` was neither set nor skipped`);
      } catch (e) {
        const [code, message] =
          e instanceof RuleError ? [e.code, e.detail] : ["rule-error", e instanceof Error ? `${e.name}: ${e.message}` : String(e)];
        answer.fail(row, code, message);
      }
    }
    return answer.toContract();
  }
}
