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

The kit does what the Rust kit does, with the same arithmetic: weights of skipped
factors are shared among the others, contributions are weight x score x 100, the
score is their sum (to ten decimals), the band is the highest whose floor the
score reaches unless the rule names one, a milestone recorded as reached or at
progress 1 is reached. An exception or a `RuleError` fails that account only.
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


class _Milestone:
    __slots__ = ("progress", "predicted", "likelihood")

    def __init__(self):
        self.progress = 0.0
        self.predicted = None
        self.likelihood = None


class _MilestoneMark:
    __slots__ = ("_slot",)

    def __init__(self, slot):
        self._slot = slot

    def predicted(self, day):
        """The day the rule expects the milestone to be reached."""
        if self._slot is not None:
            self._slot.predicted = int(day)
        return self

    def likelihood(self, p):
        """How likely the account takes up the milestone's upsell (0-1)."""
        if self._slot is not None:
            self._slot.likelihood = min(max(float(p), 0.0), 1.0)
        return self


class Scorecard:
    """What the rule sets for one account."""

    def __init__(self, plugin):
        self._p = plugin
        n = len(plugin._factor_ids)
        self.values = [math.nan] * n
        self.scores = [None] * n
        self.skipped = [False] * n
        self.reasons = [""] * n
        self.milestones = [_Milestone() for _ in plugin._milestone_ids]
        self.band_index = None
        self.fit_value = None
        self.problem = None

    def _note(self, code, message):
        if self.problem is None:
            self.problem = RuleError(code, message)

    def _factor(self, id):
        i = self._p._factor_index.get(id)
        if i is None:
            self._note("unknown-factor", f"factor `{id}` is not declared in describe()")
        return i

    def factor(self, id, value, score, reason):
        """Sets a factor: its raw value, its score (0-1, clamped) and why."""
        if score != score:
            self._note("invalid-factor", f"factor `{id}` scored NaN")
            return
        i = self._factor(id)
        if i is not None:
            self.values[i] = float(value)
            self.scores[i] = min(max(float(score), 0.0), 1.0) + 0.0
            self.skipped[i] = False
            self.reasons[i] = str(reason)

    def skip(self, id, reason):
        """Leaves a factor out for this account; its weight goes to the others."""
        i = self._factor(id)
        if i is not None:
            self.values[i] = math.nan
            self.scores[i] = None
            self.skipped[i] = True
            self.reasons[i] = str(reason)

    def milestone(self, id, progress):
        """Progress (0-1) toward a declared milestone."""
        i = self._p._milestone_index.get(id)
        if i is None:
            self._note("unknown-milestone", f"milestone `{id}` is not declared in describe()")
            return _MilestoneMark(None)
        slot = self.milestones[i]
        slot.progress = 0.0 if progress != progress else min(max(float(progress), 0.0), 1.0)
        return _MilestoneMark(slot)

    def band(self, name):
        """Puts the account in a named band whatever its score."""
        i = self._p._band_index.get(name)
        if i is None:
            self._note("unknown-band", f"band `{name}` is not declared in describe()")
        else:
            self.band_index = i

    def fit(self, fit):
        self.fit_value = fit


def _ten_decimals(x):
    scaled = x * 1e10
    whole = math.trunc(scaled)
    return (whole + (1.0 if scaled - whole >= 0.5 else 0.0)) / 1e10


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
            self._weights = [f.weight for f in self._factors]
            self._factor_index = {id: i for i, id in enumerate(self._factor_ids)}
            self._milestone_ids = [m.id for m in self._milestones]
            self._milestone_index = {id: i for i, id in enumerate(self._milestone_ids)}
            self._band_index = {b.name: i for i, b in enumerate(self._bands)}
            self._floors = [b.min_score for b in self._bands]
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
        nf = len(self._factor_ids)
        nm = len(self._milestone_ids)
        scores, bands, fits, errors = [], bytearray(), [], []
        f_values = [[] for _ in range(nf)]
        f_weights = [[] for _ in range(nf)]
        f_contribs = [[] for _ in range(nf)]
        f_reasons = [[] for _ in range(nf)]
        m_progress = [[] for _ in range(nm)]
        m_reached = [[] for _ in range(nm)]
        m_predicted = [[] for _ in range(nm)]
        m_likelihood = [[] for _ in range(nm)]
        for row in range(rows):
            account = Account(batch, row)
            card = Scorecard(self)
            try:
                self._rule(account, card)
                if card.problem is not None:
                    raise card.problem
                score, weights, contribs = self._weigh(card)
            except RuleError as e:
                self._failed(row, e.code, e.message, scores, bands, fits, errors,
                             f_values, f_weights, f_contribs, f_reasons,
                             m_progress, m_reached, m_predicted, m_likelihood)
                continue
            except Exception as e:  # noqa: BLE001 - one account's bug fails one account
                self._failed(row, "rule-error", f"{type(e).__name__}: {e}", scores, bands,
                             fits, errors, f_values, f_weights, f_contribs, f_reasons,
                             m_progress, m_reached, m_predicted, m_likelihood)
                continue
            band = card.band_index
            if band is None:
                band = 0
                for i, floor in enumerate(self._floors):
                    if score >= floor:
                        band = i
            for i in range(nf):
                f_values[i].append(card.values[i])
                f_weights[i].append(weights[i])
                f_contribs[i].append(contribs[i])
                f_reasons[i].append(card.reasons[i])
            for i, id in enumerate(self._milestone_ids):
                slot = card.milestones[i]
                recorded = account.reached(id)
                progress = 1.0 if recorded is not None else slot.progress
                reached = recorded if recorded is not None else (
                    account.as_of if progress >= 1.0 else None)
                m_progress[i].append(progress)
                m_reached[i].append(reached)
                m_predicted[i].append(slot.predicted)
                m_likelihood[i].append(slot.likelihood)
            scores.append(score)
            bands.append(band)
            fits.append(card.fit_value)
        return wit.AssessmentBatch(
            scores=scores,
            bands=bytes(bands),
            factors=[
                wit.FactorColumn(values=f_values[i], weights=f_weights[i],
                                 contributions=f_contribs[i], reasons=_column(f_reasons[i]))
                for i in range(nf)
            ],
            milestones=[
                wit.MilestoneColumn(progress=m_progress[i], reached_on=m_reached[i],
                                    predicted_on=m_predicted[i], likelihood=m_likelihood[i])
                for i in range(nm)
            ],
            fit=fits,
            errors=errors,
        )

    def _weigh(self, card):
        applicable = 0.0
        for i, id in enumerate(self._factor_ids):
            if card.skipped[i]:
                continue
            if card.scores[i] is None:
                raise RuleError("unset-factor", f"factor `{id}` was neither set nor skipped")
            applicable += self._weights[i]
        if applicable <= 0.0:
            raise RuleError("no-applicable-factor", "every factor was skipped")
        score = 0.0
        weights, contribs = [], []
        for i, weight in enumerate(self._weights):
            w = 0.0 if card.skipped[i] else weight / applicable
            c = w * (card.scores[i] or 0.0) * 100.0
            score += c
            weights.append(w)
            contribs.append(c)
        return _ten_decimals(min(max(score, 0.0), 100.0)), weights, contribs

    def _failed(self, row, code, message, scores, bands, fits, errors,
                f_values, f_weights, f_contribs, f_reasons,
                m_progress, m_reached, m_predicted, m_likelihood):
        scores.append(math.nan)
        bands.append(0)
        fits.append(None)
        for i in range(len(self._factor_ids)):
            f_values[i].append(math.nan)
            f_weights[i].append(0.0)
            f_contribs[i].append(0.0)
            f_reasons[i].append("")
        for i in range(len(self._milestone_ids)):
            m_progress[i].append(0.0)
            m_reached[i].append(None)
            m_predicted[i].append(None)
            m_likelihood[i].append(None)
        errors.append(wit.AccountError(index=row, code=code, message=message))


def _column(texts):
    """A list of str as a text-column (ends are UTF-8 byte offsets)."""
    data = "".join(texts)
    size = len if data.isascii() else (lambda t: len(t.encode()))
    ends, end = [], 0
    for t in texts:
        end += size(t)
        ends.append(end)
    return wit.TextColumn(data=data, ends=ends)
