// A hostile JavaScript plugin, written straight against the contract (no kit):
// one account per kind of misbehaviour, the rest fine. The host must contain
// each as it contains a Rust plugin's, and the sealed runtime must answer the
// same on every run.

function texts(column) {
  // ids are ASCII here: byte offsets are character offsets.
  const out = [];
  let start = 0;
  for (const end of column.ends) {
    out.push(column.data.slice(start, end));
    start = end;
  }
  return out;
}

function probe(id) {
  switch (id) {
    case "loop":
      for (;;) {}
    case "alloc": {
      const hoard = [];
      for (;;) hoard.push(new ArrayBuffer(16 << 20));
    }
    case "throw":
      throw new Error("this account is cursed");
    case "clock":
      return `time ${Date.now()}`;
    case "random":
      return `random ${Math.random()}`;
    case "env":
      return `env ${typeof process === "undefined" ? "none" : JSON.stringify(process.env)}`;
    default:
      return "ok";
  }
}

export const rules = {
  describe() {
    return {
      name: "hostile-js",
      version: "0.1.0",
      bands: [{ name: "all", minScore: 0 }],
      factors: [{ id: "probe", label: "Probe", weight: 1 }],
      milestones: [],
      reads: [],
    };
  },
  assess(batch) {
    const ids = texts(batch.ids);
    const values = [], credits = [];
    const errors = [];
    let data = "";
    const ends = [];
    ids.forEach((id, index) => {
      let reason = "";
      try {
        reason = probe(id);
        values.push(0.5);
        credits.push(0.5);
      } catch (e) {
        errors.push({ index, code: "rule-error", message: String(e && e.message) });
        values.push(NaN);
        credits.push(NaN);
      }
      data += reason;
      ends.push(data.length);
    });
    return {
      forcedBands: ids.map(() => undefined),
      factors: [
        {
          values,
          credits,
          reasons: { words: { data, ends }, numbers: [], at: [], styles: new Uint8Array(0), numberEnds: ids.map(() => 0) },
        },
      ],
      milestones: [],
      fit: ids.map(() => undefined),
      errors,
    };
  },
};
