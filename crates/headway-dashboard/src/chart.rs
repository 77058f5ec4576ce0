//! Charts as inline SVG, drawn on the server: nothing to load, readable
//! without script, each with a text alternative.

use std::fmt::Write;

use headway_core::Date;

/// Width and height of a chart's drawing area, in SVG units.
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 36.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// One snapshot on a score chart.
#[derive(Debug, Clone, PartialEq)]
pub struct ScorePoint {
    /// Its day.
    pub day: Date,
    /// Its score, 0-100.
    pub score: f64,
    /// Its band.
    pub band: String,
    /// Set when the rules changed since the snapshot before: what to say.
    pub build_change: Option<String>,
}

/// `<`, `>`, `&` and quotes escaped for SVG text and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A score's height in the drawing area.
fn y_of(score: f64) -> f64 {
    TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - score.clamp(0.0, 100.0) / 100.0)
}

/// Score over time: a line through the snapshots, the bands' lower bounds as
/// dashed rules, and a vertical marker wherever the build changed.
pub fn score_history(points: &[ScorePoint], bands: &[(String, f64)], label: &str) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}">"#,
        escape(label)
    );
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        svg.push_str(r#"<text x="50%" y="50%" text-anchor="middle">no snapshots</text></svg>"#);
        return svg;
    };
    let span = f64::from((last.day.days() - first.day.days()).max(1));
    let x_of = |day: Date| {
        let along = f64::from(day.days() - first.day.days()) / span;
        if points.len() == 1 {
            (LEFT + WIDTH - RIGHT) / 2.0
        } else {
            LEFT + (WIDTH - LEFT - RIGHT) * along
        }
    };
    for score in [0.0, 50.0, 100.0] {
        let y = y_of(score);
        let _ = write!(
            svg,
            r#"<text class="axis" x="{}" y="{:.1}" text-anchor="end">{score}</text>"#,
            LEFT - 6.0,
            y + 4.0
        );
    }
    for (name, min) in bands.iter().filter(|(_, min)| *min > 0.0) {
        let y = y_of(*min);
        let _ = write!(
            svg,
            r#"<line class="band-rule" x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{}" y="{:.1}" text-anchor="end">{} from {min}</text>"#,
            WIDTH - RIGHT,
            WIDTH - RIGHT,
            y - 3.0,
            escape(name)
        );
    }
    for p in points {
        if let Some(change) = &p.build_change {
            let x = x_of(p.day);
            let _ = write!(
                svg,
                r#"<line class="build-change" x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}"><title>{}</title></line>"#,
                HEIGHT - BOTTOM,
                escape(change)
            );
        }
    }
    let line: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", x_of(p.day), y_of(p.score)))
        .collect();
    let _ = write!(
        svg,
        r#"<polyline class="score-line" points="{}"/>"#,
        line.join(" ")
    );
    for p in points {
        let _ = write!(
            svg,
            r#"<circle class="point band-{}" cx="{:.1}" cy="{:.1}" r="3"><title>{}: {:.1} ({})</title></circle>"#,
            css_name(&p.band),
            x_of(p.day),
            y_of(p.score),
            p.day,
            p.score,
            escape(&p.band)
        );
    }
    for (anchor, p) in [("start", first), ("end", last)] {
        let _ = write!(
            svg,
            r#"<text class="axis" x="{:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
            x_of(p.day),
            HEIGHT - 6.0,
            p.day
        );
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars, one per `(label, value)`, scaled to the largest.
pub fn bars(rows: &[(String, f64, String)], label: &str) -> String {
    let row_height = 26.0;
    let height = row_height * rows.len().max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart bars" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{}">"#,
        escape(label)
    );
    let top = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    let (start, end) = (120.0, WIDTH - 140.0);
    for (i, (name, value, shown)) in rows.iter().enumerate() {
        let y = i as f64 * row_height;
        let width = if top > 0.0 {
            (end - start) * value / top
        } else {
            0.0
        };
        let _ = write!(
            svg,
            r#"<text class="axis" x="{}" y="{:.1}" text-anchor="end">{}</text><rect class="bar band-{}" x="{start}" y="{:.1}" width="{width:.1}" height="{}"><title>{}: {}</title></rect><text class="axis" x="{:.1}" y="{:.1}">{}</text>"#,
            start - 8.0,
            y + 17.0,
            escape(name),
            css_name(name),
            y + 4.0,
            row_height - 8.0,
            escape(name),
            escape(shown),
            start + width + 6.0,
            y + 17.0,
            escape(shown)
        );
    }
    svg.push_str("</svg>");
    svg
}

/// One column per day, stacked by band (first band at the bottom), each as
/// its share of that day's accounts.
pub fn band_mix(days: &[(Date, Vec<(String, usize)>)], label: &str) -> String {
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}">"#,
        escape(label)
    );
    if days.is_empty() {
        svg.push_str(r#"<text x="50%" y="50%" text-anchor="middle">no snapshots</text></svg>"#);
        return svg;
    }
    let slot = (WIDTH - LEFT - RIGHT) / days.len() as f64;
    let bar = (slot * 0.8).max(1.0);
    for (i, (day, counts)) in days.iter().enumerate() {
        let total: usize = counts.iter().map(|(_, n)| n).sum();
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        let mut below = 0usize;
        for (band, n) in counts.iter().filter(|(_, n)| *n > 0) {
            let (top, bottom) = (
                y_of(100.0 * (below + n) as f64 / total as f64),
                y_of(100.0 * below as f64 / total as f64),
            );
            let _ = write!(
                svg,
                r#"<rect class="bar band-{}" x="{x:.1}" y="{top:.1}" width="{bar:.1}" height="{:.1}"><title>{day}: {} {n} of {total}</title></rect>"#,
                css_name(band),
                bottom - top,
                escape(band)
            );
            below += n;
        }
    }
    for score in [0.0, 50.0, 100.0] {
        let _ = write!(
            svg,
            r#"<text class="axis" x="{}" y="{:.1}" text-anchor="end">{score}%</text>"#,
            LEFT - 6.0,
            y_of(score) + 4.0
        );
    }
    let (first, last) = (days[0].0, days[days.len() - 1].0);
    let _ = write!(
        svg,
        r#"<text class="axis" x="{LEFT}" y="{}">{first}</text><text class="axis" x="{}" y="{}" text-anchor="end">{last}</text></svg>"#,
        HEIGHT - 6.0,
        WIDTH - RIGHT,
        HEIGHT - 6.0
    );
    svg
}

/// A band's name as a CSS class part: letters, digits and `-` only.
pub fn css_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(day: &str, score: f64, change: Option<&str>) -> ScorePoint {
        ScorePoint {
            day: day.parse().unwrap(),
            score,
            band: "yellow".into(),
            build_change: change.map(str::to_owned),
        }
    }

    #[test]
    fn a_score_history_places_each_snapshot_and_marks_build_changes() {
        let points = [
            point("2026-01-01", 100.0, None),
            point("2026-01-11", 50.0, Some("rules changed: a 1 -> a 2")),
            point("2026-01-21", 0.0, None),
        ];
        let svg = score_history(
            &points,
            &[("red".into(), 0.0), ("green".into(), 75.0)],
            "acme",
        );
        // x from 36 to 628 over 20 days; y from 10 (100) to 196 (0).
        assert!(
            svg.contains(r#"points="36.0,10.0 332.0,103.0 628.0,196.0""#),
            "{svg}"
        );
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches(r#"class="build-change""#).count(), 1);
        assert!(svg.contains(r#"<line class="build-change" x1="332.0""#));
        // One rule, for green: red starts at 0.
        assert_eq!(svg.matches(r#"class="band-rule""#).count(), 1);
        assert!(svg.contains("green from 75"));
    }

    #[test]
    fn charts_escape_what_they_show_and_survive_no_data() {
        let svg = score_history(&[], &[], "<script>");
        assert!(svg.contains("aria-label=\"&lt;script&gt;\""));
        assert!(svg.contains("no snapshots"));
        let one = score_history(&[point("2026-01-01", 40.0, None)], &[], "one");
        assert!(one.contains(r#"points="332.0,121.6""#), "{one}");
        let svg = bars(&[("a&b".into(), 0.0, "0".into())], "none");
        assert!(svg.contains(r#"width="0.0""#) && svg.contains("a&amp;b"));
    }

    #[test]
    fn a_band_mix_stacks_each_days_shares() {
        let day = |s: &str| -> Date { s.parse().unwrap() };
        let svg = band_mix(
            &[
                (
                    day("2026-01-01"),
                    vec![("red".into(), 1), ("green".into(), 3)],
                ),
                (
                    day("2026-02-01"),
                    vec![("red".into(), 0), ("green".into(), 2)],
                ),
            ],
            "mix",
        );
        // Two slots of 296 units, bars of 236.8; 186 units of height for 100%.
        assert!(svg.contains(r#"<rect class="bar band-red" x="65.6" y="149.5" width="236.8" height="46.5"><title>2026-01-01: red 1 of 4</title>"#), "{svg}");
        assert!(svg.contains(
            r#"<rect class="bar band-green" x="65.6" y="10.0" width="236.8" height="139.5">"#
        ));
        assert!(svg.contains(r#"<rect class="bar band-green" x="361.6" y="10.0" width="236.8" height="186.0"><title>2026-02-01: green 2 of 2</title>"#));
        assert_eq!(
            svg.matches("<rect").count(),
            3,
            "an empty band draws nothing"
        );
        assert!(band_mix(&[], "none").contains("no snapshots"));
    }

    #[test]
    fn bars_scale_to_the_largest() {
        let svg = bars(
            &[
                ("red".into(), 10.0, "10".into()),
                ("green".into(), 40.0, "40".into()),
            ],
            "bands",
        );
        // 380 units for the largest.
        assert!(
            svg.contains(r#"width="95.0""#) && svg.contains(r#"width="380.0""#),
            "{svg}"
        );
    }
}
