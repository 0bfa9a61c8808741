//! Charts drawn on the server as inline SVG, so the PDF needs no script and no network:
//! a bar per day for trends, a horizontal bar per cohort for comparisons.

/// Escapes text for SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A bar per day, labelled with the first and last day and the highest value.
pub fn daily_bars(days: &[(String, u64)]) -> String {
    let (width, height, pad) = (680.0, 180.0, 24.0);
    let max = days.iter().map(|d| d.1).max().unwrap_or(0).max(1) as f64;
    let step = (width - 2.0 * pad) / days.len().max(1) as f64;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">"##
    );
    svg.push_str(&format!(
        r##"<line x1="{pad}" y1="{y}" x2="{x2}" y2="{y}" stroke="#9aa5b1" stroke-width="1"/>"##,
        y = height - pad,
        x2 = width - pad
    ));
    for (i, (_, n)) in days.iter().enumerate() {
        let h = (*n as f64 / max) * (height - 2.5 * pad);
        svg.push_str(&format!(
            r##"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="#d9480f"/>"##,
            x = pad + i as f64 * step + step * 0.15,
            y = height - pad - h,
            w = (step * 0.7).max(1.0),
        ));
    }
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        svg.push_str(&format!(
            r##"<text x="{pad}" y="{y}" font-size="11" fill="#52606d">{}</text><text x="{x}" y="{y}" font-size="11" fill="#52606d" text-anchor="end">{}</text>"##,
            escape(&first.0),
            escape(&last.0),
            y = height - 6.0,
            x = width - pad
        ));
    }
    svg.push_str(&format!(
        r##"<text x="{pad}" y="14" font-size="11" fill="#52606d">max {} per day</text></svg>"##,
        max as u64
    ));
    svg
}

/// A horizontal bar per label, with its value written beside it.
pub fn horizontal_bars(rows: &[(String, f64)]) -> String {
    let (width, row_h, label_w) = (680.0, 28.0, 170.0);
    let height = row_h * rows.len().max(1) as f64 + 8.0;
    let max = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1e-9);
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">"##
    );
    for (i, (label, value)) in rows.iter().enumerate() {
        let y = 4.0 + i as f64 * row_h;
        let w = value / max * (width - label_w - 80.0);
        svg.push_str(&format!(
            r##"<text x="0" y="{ty:.1}" font-size="12" fill="#1f2933">{}</text><rect x="{label_w}" y="{y:.1}" width="{w:.1}" height="18" fill="#d9480f"/><text x="{vx:.1}" y="{ty:.1}" font-size="12" fill="#1f2933">{value:.1}</text>"##,
            escape(label),
            ty = y + 13.0,
            vx = label_w + w + 6.0,
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_svg_with_escaped_labels() {
        let svg = daily_bars(&[("2026-11-01".into(), 3), ("2026-11-02".into(), 0)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<rect").count(), 2);
        let bars = horizontal_bars(&[("a<b".into(), 2.5)]);
        assert!(bars.contains("a&lt;b") && bars.contains("2.5"));
        assert!(daily_bars(&[]).ends_with("</svg>"));
    }
}
