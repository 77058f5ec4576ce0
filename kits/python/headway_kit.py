"""Headway's plugin kit for Python: the same model as the Rust kit (headway-pdk).

Declare bands, weighted factors and milestones on a `Plugin`, write one function
that assesses one account, and export it:

    from headway_kit import Plugin, ramp, fixed

    plugin = Plugin("my-rules", "0.1.0")
    plugin.band("red", 0).band("green", 60)
    plugin.factor("seats", "Seat utilisation", 1.0)

    @plugin.assess
    def assess(account, card):
        seats = account.require("seats-purchased")
        used = (account.measure("seats-active") or 0) / seats
        card.factor("seats", used, ramp(used, 0.3, 0.9), fixed(used * 100, 0) + "% in use")

    Rules = plugin.rules()   # what componentize-py exports

The kit sends what the rule decides (contract 0.3.0): each factor's value, its
0-1 score (none for a skipped factor) and its reason, a band the rule forces,
milestone progress. The host does the arithmetic, as for a Rust plugin: weights
of skipped factors shared among the others, contributions, the score, the band,
reached milestones. An exception or a `RuleError` fails that account only.
"""

import math

from wit_world.imports import types as wit

__all__ = [
    "Plugin", "RuleError", "Fit", "Stage", "ramp", "fixed", "percent", "change",
]

Fit = wit.Fit
Stage = wit.LifecycleStage


class RuleError(Exception):
    """Fails this account with a code and a message; the rest of the batch is kept."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def ramp(x, low, high):
    """Where x sits between low (0) and high (1), clamped to 0-1; NaN gives 0."""
    try:
        t = (x - low) / (high - low)
    except ZeroDivisionError:
        t = math.nan if x == low else math.copysign(math.inf, x - low)
    if math.isnan(t):
        return 0.0
    return min(max(t, 0.0), 1.0)


def fixed(x, decimals):
    """x with a fixed number of decimals (0-6), halves away from zero: as the Rust kit."""
    return _number(x, decimals, 1.0, False, "")


def percent(share, decimals):
    """A share as a percentage: percent(0.823, 1) is '82.3%'."""
    return _number(share, decimals, 100.0, False, "%")


def change(share, decimals):
    """A change as a signed percentage: change(0.2, 0) is '+20%'."""
    return _number(share, decimals, 100.0, True, "%")


_SCALE = (1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6)


def _number(x, decimals, scale, sign, suffix):
    decimals = min(int(decimals), 6)
    v = x * scale
    if not math.isfinite(v) or abs(v) >= 1e15:
        return f"{v}{suffix}"
    scaled = abs(v) * _SCALE[decimals]
    whole = math.trunc(scaled)
    n = int(whole + (1.0 if scaled - whole >= 0.5 else 0.0))
    lead = "-" if v < 0.0 and n != 0 else ("+" if sign else "")
    digits = str(n).rjust(decimals + 1, "0")
    if decimals:
        digits = digits[:-decimals] + "." + digits[-decimals:]
    return lead + digits + suffix


def _texts(column):
    """A text-column as a list of str (ends are UTF-8 byte offsets)."""
    ascii = column.data.isascii()  # then bytes and characters coincide: no encoding
    raw = column.data if ascii else column.data.encode()
    out, start = [], 0
    for end in column.ends:
        piece = raw[start:end]
        out.append(piece if ascii else piece.decode())
        start = end
    return out


def _present(v):
    return None if v != v else v


class _Outcome:
    __slots__ = ("name", "higher_is_better", "value", "target")

    def __init__(self, name, higher_is_better, value, target):
        self.name = name
        self.higher_is_better = higher_is_better
        self.value = value
        self.target = target

    def meets_target(self):
        if self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    def attainment(self):
        """value / target when higher is better, target / value when lower is."""
        if self.target is None:
            return None
        a, b = (self.value, self.target) if self.higher_is_better else (self.target, self.value)
        try:
            ratio = a / b
        except ZeroDivisionError:
            return None
        return ratio if math.isfinite(ratio) else None


class _Batch:
    """The batch with names resolved once: measure -> values, and so on."""

    def __init__(self, batch):
        self.raw = batch
        self.ids = _texts(batch.ids)
        self._names = None
        self._segments = None
        self._plans = None
        self.measures = {m.name: m.values for m in batch.measures}
        self.history = {s.name: s for s in batch.history}
        self.outcomes = {o.name: o for o in batch.outcomes}
        self.attributes = {a.key: a.values for a in batch.attributes}
        self._attribute_texts = {}
        self.reached = {r.milestone: r.on for r in batch.milestones_reached}

    def texts(self, which):
        cached = getattr(self, "_" + which)
        if cached is None:
            cached = _texts(getattr(self.raw, which))
            setattr(self, "_" + which, cached)
        return cached

    def attribute(self, key):
        if key not in self._attribute_texts:
            column = self.attributes.get(key)
            self._attribute_texts[key] = None if column is None else _texts(column)
        return self._attribute_texts[key]


class Account:
    """One account of the batch, read row-wise."""

    __slots__ = ("_b", "_row")

    def __init__(self, batch, row):
        self._b = batch
        self._row = row

    @property
    def id(self):
        return self._b.ids[self._row]

    @property
    def name(self):
        return self._b.texts("names")[self._row]

    @property
    def segment(self):
        return self._b.texts("segments")[self._row]

    @property
    def plan(self):
        return self._b.texts("plans")[self._row]

    @property
    def stage(self):
        return self._b.raw.stages[self._row]

    @property
    def arr(self):
        return self._b.raw.arr[self._row]

    @property
    def start_date(self):
        """Days since 1970-01-01."""
        return self._b.raw.start_dates[self._row]

    @property
    def renewal_date(self):
        return self._b.raw.renewal_dates[self._row]

    @property
    def as_of(self):
        """The day the data describes (days since 1970-01-01): the rule's today."""
        return self._b.raw.as_of[self._row]

    @property
    def tenure_days(self):
        return self.as_of - self.start_date

    def measure(self, name):
        """A current measure, or None when the account has none by that name."""
        values = self._b.measures.get(name)
        return None if values is None else _present(values[self._row])

    def require(self, name):
        """A measure the rule cannot do without: missing fails this account."""
        value = self.measure(name)
        if value is None:
            raise RuleError("missing-measure", f"account has no measure `{name}`")
        return value

    def history(self, name):
        """The measure's history as (day, value) pairs sorted by day."""
        s = self._b.history.get(name)
        if s is None:
            return []
        row = self._row
        start = s.ends[row - 1] if row else 0
        end = s.ends[row]
        return list(zip(s.days[start:end], s.values[start:end]))

    def outcome(self, name):
        o = self._b.outcomes.get(name)
        if o is None:
            return None
        value = _present(o.values[self._row])
        if value is None:
            return None
        return _Outcome(o.name, o.higher_is_better, value, _present(o.targets[self._row]))

    def outcomes(self):
        return [x for x in (self.outcome(name) for name in self._b.outcomes) if x is not None]

    def attribute(self, key):
        values = self._b.attribute(key)
        if values is None:
            return None
        value = values[self._row]
        return value if value else None

    def reached(self, milestone):
        on = self._b.reached.get(milestone)
        return None if on is None else on[self._row]


class _MilestoneMark:
    __slots__ = ("_card", "_i")

    def __init__(self, card, i):
        self._card = card
        self._i = i

    def predicted(self, day):
        """The day the rule expects the milestone to be reached."""
        if self._i is not None:
            self._card._answer.m_predicted[self._i][self._card._row] = int(day)
        return self

    def likelihood(self, p):
        """How likely the account takes up the milestone's upsell (0-1)."""
        if self._i is not None:
            p = min(max(float(p), 0.0), 1.0)
            self._card._answer.m_likelihood[self._i][self._card._row] = p
        return self


class _Answer:
    """The batch's answer, one slot per account in every column, written in place."""

    def __init__(self, plugin, rows):
        nf = len(plugin._factor_ids)
        nm = len(plugin._milestone_ids)
        self.values = [[math.nan] * rows for _ in range(nf)]
        self.credits = [[math.nan] * rows for _ in range(nf)]
        self.reasons = [[""] * rows for _ in range(nf)]
        # Per factor, the row (plus one) it was last written for.
        self.written = [0] * nf
        self.m_progress = [[0.0] * rows for _ in range(nm)]
        self.m_predicted = [[None] * rows for _ in range(nm)]
        self.m_likelihood = [[None] * rows for _ in range(nm)]
        self.forced_bands = [None] * rows
        self.fit = [None] * rows
        self.errors = []

    def fail(self, row, code, message):
        # The host ignores a failed account's columns: they are left as written.
        self.errors.append(wit.AccountError(index=row, code=code, message=message))

    def into_wit(self):
        return wit.AssessmentBatch(
            forced_bands=self.forced_bands,
            factors=[
                wit.FactorColumn(values=v, credits=c, reasons=_reasons(r))
                for v, c, r in zip(self.values, self.credits, self.reasons)
            ],
            milestones=[
                wit.MilestoneColumn(progress=p, predicted_on=d, likelihood=k)
                for p, d, k in zip(self.m_progress, self.m_predicted, self.m_likelihood)
            ],
            fit=self.fit,
            errors=self.errors,
        )


class Scorecard:
    """What the rule sets for one account: each factor's value, its score (0-1)
    and a reason, progress per milestone. The host weighs the factors into the
    0-100 score and picks the band."""

    __slots__ = ("_p", "_answer", "_row", "problem")

    def __init__(self, plugin, answer, row):
        self._p = plugin
        self._answer = answer
        self._row = row
        self.problem = None

    def _note(self, code, message):
        if self.problem is None:
            self.problem = RuleError(code, message)

    def _factor(self, id):
        i = self._p._factor_index.get(id)
        if i is None:
            self._note("unknown-factor", f"factor `{id}` is not declared in describe()")
        return i

    def _write(self, i, value, credit, reason):
        a, row = self._answer, self._row
        a.written[i] = row + 1
        a.values[i][row] = value
        a.credits[i][row] = credit
        a.reasons[i][row] = reason if reason.__class__ is str else str(reason)

    def factor(self, id, value, score, reason):
        """Sets a factor: its raw value, its score (0-1, clamped) and why."""
        if score != score:
            self._note("invalid-factor", f"factor `{id}` scored NaN")
            return
        i = self._factor(id)
        if i is not None:
            self._write(i, float(value), min(max(float(score), 0.0), 1.0) + 0.0, reason)

    def skip(self, id, reason):
        """Leaves a factor out for this account; its weight goes to the others."""
        i = self._factor(id)
        if i is not None:
            self._write(i, math.nan, math.nan, reason)

    def milestone(self, id, progress):
        """Progress (0-1) toward a declared milestone."""
        i = self._p._milestone_index.get(id)
        if i is None:
            self._note("unknown-milestone", f"milestone `{id}` is not declared in describe()")
            return _MilestoneMark(self, None)
        progress = 0.0 if progress != progress else min(max(float(progress), 0.0), 1.0)
        self._answer.m_progress[i][self._row] = progress
        return _MilestoneMark(self, i)

    def band(self, name):
        """Puts the account in a named band whatever its score."""
        i = self._p._band_index.get(name)
        if i is None:
            self._note("unknown-band", f"band `{name}` is not declared in describe()")
        else:
            self._answer.forced_bands[self._row] = i

    def fit(self, fit):
        self._answer.fit[self._row] = fit


class Plugin:
    """A plugin's declaration and its rule."""

    def __init__(self, name, version):
        self.name = name
        self.version = version
        self._bands = []
        self._factors = []
        self._milestones = []
        self._reads = None
        self._rule = None
        self._info = None

    def band(self, name, min_score):
        self._bands.append(wit.BandInfo(name=name, min_score=float(min_score)))
        return self

    def factor(self, id, label, weight):
        self._factors.append(wit.FactorInfo(id=id, label=label, weight=float(weight)))
        return self

    def milestone(self, id, name, description="", upsell=None):
        """upsell: (offer, arr, take_rate) or None."""
        u = None if upsell is None else wit.Upsell(
            offer=upsell[0], arr=float(upsell[1]), take_rate=float(upsell[2]))
        self._milestones.append(
            wit.MilestoneInfo(id=id, name=name, description=description, upsell=u))
        return self

    def reads(self, measures):
        """The inputs the rule reads: the host sends only these columns."""
        self._reads = list(measures)
        return self

    def assess(self, rule):
        """Decorator: the function that assesses one account, rule(account, card)."""
        self._rule = rule
        return rule

    def info(self):
        if self._info is None:
            self._info = wit.PluginInfo(
                name=self.name, version=self.version, bands=self._bands,
                factors=self._factors, milestones=self._milestones, reads=self._reads)
            self._factor_ids = [f.id for f in self._factors]
            self._factor_index = {id: i for i, id in enumerate(self._factor_ids)}
            self._milestone_ids = [m.id for m in self._milestones]
            self._milestone_index = {id: i for i, id in enumerate(self._milestone_ids)}
            self._band_index = {b.name: i for i, b in enumerate(self._bands)}
        return self._info

    def rules(self):
        """The class componentize-py exports as `Rules`."""
        plugin = self

        class Rules:
            def describe(self):
                return plugin.info()

            def assess(self, batch):
                return plugin.assess_batch(batch)

        return Rules

    def assess_batch(self, raw):
        self.info()
        batch = _Batch(raw)
        rows = len(batch.ids)
        answer = _Answer(self, rows)
        written = answer.written
        rule = self._rule
        for row in range(rows):
            card = Scorecard(self, answer, row)
            try:
                rule(Account(batch, row), card)
                if card.problem is not None:
                    raise card.problem
                if written.count(row + 1) != len(written):
                    i = next(i for i, w in enumerate(written) if w != row + 1)
                    raise RuleError(
                        "unset-factor",
                        f"factor `{self._factor_ids[i]}` was neither set nor skipped")
            except RuleError as e:
                answer.fail(row, e.code, e.message)
            except Exception as e:  # noqa: BLE001 - one account's bug fails one account
                answer.fail(row, "rule-error", f"{type(e).__name__}: {e}")
        return answer.into_wit()


def _reasons(texts):
    """A factor's reasons (one str per account) as a reason column: the words
    only; the kit formats its numbers itself (`fixed`, `percent`, `change`)."""
    data = "".join(texts)
    size = len if data.isascii() else (lambda t: len(t.encode()))
    ends, end = [], 0
    for t in texts:
        end += size(t)
        ends.append(end)
    return wit.ReasonColumn(
        words=wit.TextColumn(data=data, ends=ends),
        numbers=[], at=[], styles=b"", number_ends=[0] * len(texts))
