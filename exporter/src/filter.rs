//! The rows a report reads: one owner, one period, optional keys and URL prefix, and for a
//! cohort its own period, browser, device class or key. Written once as a SQL condition
//! with bound values, used by every query of every report.

use clickhouse::query::Query;
use friction_schema::export::{Browser, Cohort, DeviceClass, ExportParams};

/// Which rows of the event tables a query reads.
#[derive(Debug, Clone)]
pub struct Filter {
    owner_id: String,
    from_ms: i64,
    to_ms: i64,
    key_ids: Vec<String>,
    url_prefix: String,
    browser: Option<Browser>,
    device_class: Option<DeviceClass>,
}

impl Filter {
    /// The report's rows, or `None` when its dates do not parse (they were checked).
    pub fn new(owner_id: &str, params: &ExportParams) -> Option<Filter> {
        let (from_ms, to_ms) = params.period_ms()?;
        Some(Filter {
            owner_id: owner_id.to_owned(),
            from_ms,
            to_ms,
            key_ids: params.key_ids.iter().map(ToString::to_string).collect(),
            url_prefix: params.url_prefix.clone(),
            browser: None,
            device_class: None,
        })
    }

    /// The rows of one cohort: the report's, narrowed by the cohort's criteria.
    pub fn cohort(&self, cohort: &Cohort) -> Filter {
        let day = |d: &Option<String>| d.as_deref().and_then(friction_schema::export::parse_day);
        let mut f = self.clone();
        if let Some(from) = day(&cohort.date_from) {
            f.from_ms = f.from_ms.max(from * 86_400_000);
        }
        if let Some(to) = day(&cohort.date_to) {
            f.to_ms = f.to_ms.min((to + 1) * 86_400_000);
        }
        if let Some(key) = cohort.key_id {
            f.key_ids = vec![key.to_string()];
        }
        f.browser = cohort.browser;
        f.device_class = cohort.device_class;
        f
    }

    /// The condition, with `?` for each bound value (bind them with [`Filter::bind`]).
    pub fn sql(&self) -> String {
        let mut sql = String::from(
            "owner_id = ? AND timestamp >= fromUnixTimestamp64Milli(?) \
             AND timestamp < fromUnixTimestamp64Milli(?) \
             AND (empty(?) OR has(?, toString(key_id))) AND startsWith(url, ?)",
        );
        sql.push_str(match self.browser {
            None => "",
            Some(Browser::Edge) => " AND position(user_agent, 'Edg/') > 0",
            Some(Browser::Chrome) => {
                " AND position(user_agent, 'Chrome/') > 0 AND position(user_agent, 'Edg/') = 0"
            }
            Some(Browser::Firefox) => " AND position(user_agent, 'Firefox/') > 0",
            Some(Browser::Safari) => {
                " AND position(user_agent, 'Safari/') > 0 AND position(user_agent, 'Chrome/') = 0 \
                 AND position(user_agent, 'CriOS/') = 0"
            }
        });
        sql.push_str(match self.device_class {
            None => "",
            Some(DeviceClass::Mobile) => " AND viewport_width < 768",
            Some(DeviceClass::Tablet) => " AND viewport_width >= 768 AND viewport_width < 1024",
            Some(DeviceClass::Desktop) => " AND viewport_width >= 1024",
        });
        sql
    }

    /// Binds the values of [`Filter::sql`], in order.
    pub fn bind(&self, query: Query) -> Query {
        query
            .bind(&self.owner_id)
            .bind(self.from_ms)
            .bind(self.to_ms)
            .bind(&self.key_ids)
            .bind(&self.key_ids)
            .bind(&self.url_prefix)
    }

    /// The days of the period, as `YYYY-MM-DD`, for trends with a point every day.
    pub fn days(&self) -> Vec<String> {
        let first = self.from_ms.div_euclid(86_400_000);
        let last = (self.to_ms - 1).div_euclid(86_400_000);
        (first..=last).map(civil).collect()
    }
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
pub fn civil(day: i64) -> String {
    // Civil from days (Howard Hinnant's algorithm).
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use friction_schema::export::parse_day;

    #[test]
    fn day_numbers_round_trip() {
        for d in ["1970-01-01", "2024-02-29", "2026-11-26", "2100-12-31"] {
            assert_eq!(civil(parse_day(d).unwrap()), d);
        }
    }
}
