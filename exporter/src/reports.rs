//! The figures of each report, read from the event tables with the report's [`Filter`]
//! and shaped into what its template shows. Every figure comes from real rows; an empty
//! period gives a report that says so.

use std::collections::{BTreeMap, HashMap};

use clickhouse::{Client, Row, RowOwned, RowRead};
use friction_schema::export::{ExportParams, ReportType};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::charts;
use crate::filter::Filter;

/// Rows listed in a "top" table.
const TOP: u64 = 10;
/// Sessions a journey analysis reads at most (past it the report says it sampled).
const MAX_SESSIONS: u64 = 200_000;
/// Page views of one session a journey analysis follows at most.
const MAX_VIEWS: u64 = 50;
/// Page views with friction a journey analysis reads at most, the most troubled first.
const MAX_VIEWS_WITH_FRICTION: u64 = 1_000_000;

#[derive(Row, Deserialize)]
struct Count {
    name: String,
    n: u64,
}

#[derive(Row, Deserialize)]
struct Clicks {
    name: String,
    rage: u64,
    dead: u64,
}

#[derive(Row, Deserialize)]
struct Percentiles {
    page: String,
    metric: String,
    samples: u64,
    p50: f64,
    p75: f64,
    p95: f64,
}

#[derive(Row, Deserialize)]
struct Journey {
    views: Vec<(String, String)>,
}

#[derive(Row, Deserialize)]
struct ViewFriction {
    page_view_id: String,
    n: u64,
}

async fn fetch<T>(
    client: &Client,
    filter: &Filter,
    sql: &str,
) -> Result<Vec<T>, clickhouse::error::Error>
where
    T: RowOwned + RowRead,
{
    let sql = sql.replace("{filter}", &filter.sql());
    filter.bind(client.query(&sql)).fetch_all().await
}

async fn count(
    client: &Client,
    filter: &Filter,
    sql: &str,
) -> Result<u64, clickhouse::error::Error> {
    let sql = sql.replace("{filter}", &filter.sql());
    filter.bind(client.query(&sql)).fetch_one().await
}

/// Friction per 1,000 pageviews, or `None` without pageviews.
fn per_thousand(events: u64, pageviews: u64) -> Option<f64> {
    (pageviews > 0).then(|| events as f64 * 1000.0 / pageviews as f64)
}

/// The figures of `params`'s report over `filter`.
pub async fn build(
    client: &Client,
    filter: &Filter,
    params: &ExportParams,
) -> Result<Value, clickhouse::error::Error> {
    match params.report_type {
        ReportType::FrictionSummary => summary(client, filter).await,
        ReportType::JourneyAnalysis => journeys(client, filter).await,
        ReportType::CohortComparison => cohorts(client, filter, params).await,
    }
}

async fn pageviews(client: &Client, filter: &Filter) -> Result<u64, clickhouse::error::Error> {
    count(
        client,
        filter,
        "SELECT count() FROM heatmap_data FINAL WHERE {filter} AND event_type = 'pageview'",
    )
    .await
}

async fn summary(client: &Client, filter: &Filter) -> Result<Value, clickhouse::error::Error> {
    let totals: Vec<Count> = fetch(
        client,
        filter,
        "SELECT event_type AS name, count() AS n FROM friction_events FINAL WHERE {filter} \
         GROUP BY name ORDER BY n DESC, name",
    )
    .await?;
    let daily: Vec<Count> = fetch(
        client,
        filter,
        "SELECT toString(toDate(timestamp)) AS name, count() AS n FROM friction_events FINAL \
         WHERE {filter} GROUP BY name ORDER BY name",
    )
    .await?;
    let clicks = |by: &str| {
        format!(
            "SELECT {by} AS name, countIf(event_type = 'rage_click') AS rage, \
             countIf(event_type = 'dead_click') AS dead FROM friction_events FINAL \
             WHERE {{filter}} AND event_type IN ('rage_click', 'dead_click') \
             GROUP BY name ORDER BY rage + dead DESC, name LIMIT {TOP}"
        )
    };
    let pages: Vec<Clicks> = fetch(client, filter, &clicks("path")).await?;
    let elements: Vec<Clicks> = fetch(client, filter, &clicks("selector")).await?;
    let errors: Vec<Count> = fetch(
        client,
        filter,
        &format!(
            "SELECT error_message AS name, sum(greatest(error_count, 1)) AS n FROM friction_events FINAL \
             WHERE {{filter}} AND event_type IN ('javascript_error', 'unhandled_rejection') \
             GROUP BY name ORDER BY n DESC, name LIMIT {TOP}"
        ),
    )
    .await?;
    let performance: Vec<Percentiles> = fetch(
        client,
        filter,
        "SELECT path AS page, metric_name AS metric, count() AS samples, \
         quantile(0.5)(value) AS p50, quantile(0.75)(value) AS p75, quantile(0.95)(value) AS p95 \
         FROM page_performance_metrics FINAL WHERE {filter} \
         GROUP BY page, metric ORDER BY samples DESC, page, metric LIMIT 20",
    )
    .await?;
    let views = pageviews(client, filter).await?;
    let total: u64 = totals.iter().map(|c| c.n).sum();
    let by_day: HashMap<&str, u64> = daily.iter().map(|c| (c.name.as_str(), c.n)).collect();
    let trend: Vec<(String, u64)> = filter
        .days()
        .into_iter()
        .map(|d| {
            let n = by_day.get(d.as_str()).copied().unwrap_or(0);
            (d, n)
        })
        .collect();
    Ok(json!({
        "empty": total == 0 && views == 0,
        "total": total,
        "pageviews": views,
        "per_thousand": per_thousand(total, views).map(|r| format!("{r:.1}")),
        "totals": totals.iter().map(|c| json!({"name": c.name, "n": c.n})).collect::<Vec<_>>(),
        "trend_svg": charts::daily_bars(&trend),
        "pages": clicks_json(&pages),
        "elements": clicks_json(&elements),
        "errors": errors.iter().map(|c| json!({"name": c.name, "n": c.n})).collect::<Vec<_>>(),
        "performance": performance.iter().map(|p| json!({
            "page": p.page, "metric": p.metric, "samples": p.samples,
            "p50": format!("{:.0}", p.p50), "p75": format!("{:.0}", p.p75), "p95": format!("{:.0}", p.p95),
        })).collect::<Vec<_>>(),
    }))
}

fn clicks_json(rows: &[Clicks]) -> Vec<Value> {
    rows.iter()
        .map(|c| json!({"name": c.name, "rage": c.rage, "dead": c.dead}))
        .collect()
}

async fn journeys(client: &Client, filter: &Filter) -> Result<Value, clickhouse::error::Error> {
    let sessions: Vec<Journey> = fetch(
        client,
        filter,
        &format!(
            "SELECT arraySlice(arrayMap(v -> (v.2, v.3), arraySort(v -> v.1, groupArray((timestamp, page_view_id, path)))), 1, {MAX_VIEWS}) AS views \
             FROM heatmap_data FINAL WHERE {{filter}} AND event_type = 'pageview' \
             GROUP BY session_id LIMIT {MAX_SESSIONS}"
        ),
    )
    .await?;
    let friction: Vec<ViewFriction> = fetch(
        client,
        filter,
        &format!(
            "SELECT page_view_id, count() AS n FROM friction_events FINAL \
             WHERE {{filter}} AND page_view_id != '' GROUP BY page_view_id \
             ORDER BY n DESC LIMIT {MAX_VIEWS_WITH_FRICTION}"
        ),
    )
    .await?;
    let friction: HashMap<&str, u64> = friction
        .iter()
        .map(|f| (f.page_view_id.as_str(), f.n))
        .collect();

    let mut paths: BTreeMap<String, u64> = BTreeMap::new();
    let mut transitions: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut by_step: BTreeMap<usize, (u64, u64)> = BTreeMap::new();
    // Per page: views with friction, and how many of those ended the session.
    let mut exits: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for s in &sessions {
        let path: Vec<&str> = s.views.iter().take(4).map(|(_, p)| p.as_str()).collect();
        *paths.entry(path.join(" → ")).or_default() += 1;
        for pair in s.views.windows(2) {
            *transitions
                .entry((pair[0].1.clone(), pair[1].1.clone()))
                .or_default() += 1;
        }
        for (i, (view, page)) in s.views.iter().enumerate() {
            let n = friction.get(view.as_str()).copied().unwrap_or(0);
            let step = by_step.entry((i + 1).min(10)).or_default();
            step.0 += 1;
            step.1 += n;
            if n > 0 {
                let e = exits.entry(page.clone()).or_default();
                e.0 += 1;
                e.1 += u64::from(i + 1 == s.views.len());
            }
        }
    }
    let top = |m: Vec<(Value, u64)>| {
        let mut m = m;
        m.sort_by_key(|e| std::cmp::Reverse(e.1));
        m.truncate(TOP as usize);
        m.into_iter()
            .map(|(k, n)| json!({"name": k, "n": n}))
            .collect::<Vec<_>>()
    };
    let mut drop_off: Vec<(String, u64, u64)> =
        exits.into_iter().map(|(p, (v, e))| (p, v, e)).collect();
    drop_off.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)));
    drop_off.truncate(TOP as usize);
    Ok(json!({
        "empty": sessions.is_empty(),
        "sessions": sessions.len(),
        "sampled": sessions.len() as u64 >= MAX_SESSIONS,
        "paths": top(paths.into_iter().map(|(k, n)| (Value::from(k), n)).collect()),
        "transitions": top(transitions.into_iter().map(|((a, b), n)| (Value::from(format!("{a} → {b}")), n)).collect()),
        "steps": by_step.into_iter().map(|(step, (views, n))| json!({
            "step": if step == 10 { "10+".to_owned() } else { step.to_string() },
            "views": views, "friction": n,
            "per_thousand": per_thousand(n, views).map(|r| format!("{r:.1}")),
        })).collect::<Vec<_>>(),
        "drop_off": drop_off.into_iter().map(|(page, views, exits)| json!({
            "page": page, "views": views, "exits": exits,
            "rate": format!("{:.0}%", exits as f64 * 100.0 / views.max(1) as f64),
        })).collect::<Vec<_>>(),
    }))
}

async fn cohorts(
    client: &Client,
    filter: &Filter,
    params: &ExportParams,
) -> Result<Value, clickhouse::error::Error> {
    struct Measured {
        name: String,
        views: u64,
        total: u64,
        counts: HashMap<String, u64>,
        perf: HashMap<String, Percentiles>,
    }
    let mut measured = Vec::new();
    for cohort in &params.cohorts {
        let f = filter.cohort(cohort);
        let views = pageviews(client, &f).await?;
        let types: Vec<Count> = fetch(
            client,
            &f,
            "SELECT event_type AS name, count() AS n FROM friction_events FINAL WHERE {filter} \
             GROUP BY name ORDER BY name",
        )
        .await?;
        let perf: Vec<Percentiles> = fetch(
            client,
            &f,
            "SELECT '' AS page, metric_name AS metric, count() AS samples, \
             quantile(0.5)(value) AS p50, quantile(0.75)(value) AS p75, quantile(0.95)(value) AS p95 \
             FROM page_performance_metrics FINAL WHERE {filter} GROUP BY metric ORDER BY metric",
        )
        .await?;
        measured.push(Measured {
            name: cohort.name.clone(),
            views,
            total: types.iter().map(|t| t.n).sum(),
            counts: types.into_iter().map(|t| (t.name, t.n)).collect(),
            perf: perf.into_iter().map(|p| (p.metric.clone(), p)).collect(),
        });
    }
    // Deltas against the first cohort, the baseline.
    let delta = |now: Option<f64>, base: Option<f64>| match (now, base) {
        (Some(n), Some(b)) if b != 0.0 => format!("{:+.0}%", (n - b) * 100.0 / b),
        (Some(n), Some(_)) => format!("{n:+.1}"),
        _ => "–".to_owned(),
    };
    let rate = |m: &Measured, n: u64| per_thousand(n, m.views);
    let Some(base) = measured.first() else {
        return Ok(
            json!({"empty": true, "cohorts": [], "types": [], "metrics": [], "chart_svg": ""}),
        );
    };
    let cohorts: Vec<Value> = measured
        .iter()
        .map(|m| {
            json!({
                "name": m.name, "pageviews": m.views, "friction": m.total,
                "per_thousand": rate(m, m.total).map(|r| format!("{r:.1}")),
                "delta": delta(rate(m, m.total), rate(base, base.total)),
            })
        })
        .collect();
    // One row per friction type and per metric, with a cell per cohort: a type one cohort
    // never had shows as 0 there, not as a missing row.
    let mut type_names: Vec<&String> = measured.iter().flat_map(|m| m.counts.keys()).collect();
    type_names.sort();
    type_names.dedup();
    let types: Vec<Value> = type_names
        .iter()
        .map(|name| {
            let n = |m: &Measured| m.counts.get(*name).copied().unwrap_or(0);
            let cells: Vec<Value> = measured
                .iter()
                .map(|m| {
                    json!({
                        "n": n(m),
                        "per_thousand": rate(m, n(m)).map(|r| format!("{r:.1}")),
                        "delta": delta(rate(m, n(m)), rate(base, n(base))),
                    })
                })
                .collect();
            json!({"name": name, "cells": cells})
        })
        .collect();
    let mut metric_names: Vec<&String> = measured.iter().flat_map(|m| m.perf.keys()).collect();
    metric_names.sort();
    metric_names.dedup();
    let metrics: Vec<Value> = metric_names
        .iter()
        .map(|name| {
            let cells: Vec<Value> = measured
                .iter()
                .map(|m| match m.perf.get(*name) {
                    Some(p) => json!({
                        "samples": p.samples,
                        "p50": format!("{:.0}", p.p50), "p75": format!("{:.0}", p.p75), "p95": format!("{:.0}", p.p95),
                        "delta": delta(Some(p.p75), base.perf.get(*name).map(|b| b.p75)),
                    }),
                    None => json!({"samples": 0}),
                })
                .collect();
            json!({"name": name, "cells": cells})
        })
        .collect();
    let bars: Vec<(String, f64)> = measured
        .iter()
        .map(|m| (m.name.clone(), rate(m, m.total).unwrap_or(0.0)))
        .collect();
    Ok(json!({
        "empty": measured.iter().all(|m| m.views == 0 && m.total == 0),
        "cohorts": cohorts,
        "types": types,
        "metrics": metrics,
        "chart_svg": charts::horizontal_bars(&bars),
    }))
}
