//! Export jobs: the report types, their parameters as requested and checked, and the
//! message that queues a job. The admin service checks a request with [`ExportParams::check`];
//! the exporter reads the same parameters back.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportType {
    /// Totals, trend, top pages, elements and errors, performance, friction rate.
    FrictionSummary,
    /// Page paths, transitions, where friction happens along journeys, drop-off.
    JourneyAnalysis,
    /// Two to four cohorts side by side, with deltas.
    CohortComparison,
}

impl ReportType {
    /// Every report type, in the order forms offer them.
    pub const ALL: [ReportType; 3] = [
        ReportType::FrictionSummary,
        ReportType::JourneyAnalysis,
        ReportType::CohortComparison,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportType::FrictionSummary => "friction_summary",
            ReportType::JourneyAnalysis => "journey_analysis",
            ReportType::CohortComparison => "cohort_comparison",
        }
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "friction_summary" => Some(ReportType::FrictionSummary),
            "journey_analysis" => Some(ReportType::JourneyAnalysis),
            "cohort_comparison" => Some(ReportType::CohortComparison),
            _ => None,
        }
    }
}

/// Device classes, by viewport width (the SDK sends it with every event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceClass {
    /// Narrower than 768 px.
    Mobile,
    /// 768 to 1023 px.
    Tablet,
    /// 1024 px and wider.
    Desktop,
}

impl DeviceClass {
    /// Every class.
    pub const ALL: [DeviceClass; 3] = [
        DeviceClass::Mobile,
        DeviceClass::Tablet,
        DeviceClass::Desktop,
    ];
}

/// Browser families, by user agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Browser {
    /// Chrome and Chromium (not Edge).
    Chrome,
    /// Firefox.
    Firefox,
    /// Safari (not Chrome on iOS).
    Safari,
    /// Edge.
    Edge,
}

impl Browser {
    /// Every family.
    pub const ALL: [Browser; 4] = [
        Browser::Chrome,
        Browser::Firefox,
        Browser::Safari,
        Browser::Edge,
    ];
}

/// One cohort of a comparison: a name and at least one criterion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cohort {
    /// Shown in the report.
    pub name: String,
    /// Own period, inside the report's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_from: Option<String>,
    /// Own period, inside the report's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_to: Option<String>,
    /// Browser family.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<Browser>,
    /// Device class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_class: Option<DeviceClass>,
    /// One site key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<Uuid>,
}

/// What a report covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// The report.
    pub report_type: ReportType,
    /// First day, `YYYY-MM-DD` (UTC).
    pub date_from: String,
    /// Last day, included.
    pub date_to: String,
    /// Only these site keys (empty: all of the owner's).
    #[serde(default)]
    pub key_ids: Vec<Uuid>,
    /// Only pages whose URL starts with this.
    #[serde(default)]
    pub url_prefix: String,
    /// The same two filters, grouped (`{"filters":{"key_ids":[..],"url_prefix":".."}}`);
    /// [`ExportParams::check`] folds them into the fields above.
    #[serde(default, skip_serializing)]
    pub filters: Option<Filters>,
    /// For `cohort_comparison`: two to four.
    #[serde(default)]
    pub cohorts: Vec<Cohort>,
}

/// The filters of a request, when sent grouped.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filters {
    /// Only these site keys.
    #[serde(default)]
    pub key_ids: Vec<Uuid>,
    /// Only pages whose URL starts with this.
    #[serde(default)]
    pub url_prefix: String,
}

/// Longest period of one report, in days.
pub const MAX_DAYS: i64 = 366;
/// Fewest cohorts of a comparison.
pub const MIN_COHORTS: usize = 2;
/// Most cohorts of a comparison.
pub const MAX_COHORTS: usize = 4;

/// A parameter that breaks the rules: `field()` names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidParams {
    /// The field at fault.
    pub field: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> InvalidParams {
    InvalidParams {
        field,
        message: message.into(),
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date, if it is one.
pub fn parse_day(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1970..=2200).contains(&y)
        || !(1..=12).contains(&m)
        || d < 1
        || d > month_days[(m - 1) as usize]
    {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

impl ExportParams {
    /// The period as `[from, to)` in ms since the epoch, if the dates are valid.
    pub fn period_ms(&self) -> Option<(i64, i64)> {
        let from = parse_day(&self.date_from)?;
        let to = parse_day(&self.date_to)?;
        Some((from * 86_400_000, (to + 1) * 86_400_000))
    }

    /// Checks every rule of a request, after folding grouped `filters` into the
    /// top-level fields (sending both is refused).
    pub fn check(&mut self) -> Result<(), InvalidParams> {
        if let Some(filters) = self.filters.take() {
            if !self.key_ids.is_empty() || !self.url_prefix.is_empty() {
                return Err(invalid(
                    "filters",
                    "send key_ids and url_prefix either in filters or at the top level, not both",
                ));
            }
            self.key_ids = filters.key_ids;
            self.url_prefix = filters.url_prefix;
        }
        let from = parse_day(&self.date_from)
            .ok_or_else(|| invalid("date_from", "date_from must be a date like 2026-11-01"))?;
        let to = parse_day(&self.date_to)
            .ok_or_else(|| invalid("date_to", "date_to must be a date like 2026-11-30"))?;
        if to < from {
            return Err(invalid("date_to", "date_to must not be before date_from"));
        }
        if to - from + 1 > MAX_DAYS {
            return Err(invalid("date_to", "a report covers at most 366 days"));
        }
        if self.key_ids.len() > 100 {
            return Err(invalid("key_ids", "at most 100 key ids"));
        }
        if self.url_prefix.len() > 2048 || self.url_prefix.chars().any(char::is_control) {
            return Err(invalid(
                "url_prefix",
                "url_prefix must be at most 2048 printable characters",
            ));
        }
        match (self.report_type, self.cohorts.len()) {
            (ReportType::CohortComparison, MIN_COHORTS..=MAX_COHORTS) => {}
            (ReportType::CohortComparison, _) => {
                return Err(invalid(
                    "cohorts",
                    "a cohort comparison takes two to four cohorts",
                ))
            }
            (_, 0) => {}
            (_, _) => return Err(invalid("cohorts", "only a cohort comparison takes cohorts")),
        }
        for cohort in &self.cohorts {
            let name = cohort.name.trim();
            if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
                return Err(invalid(
                    "cohorts",
                    "each cohort needs a name of 1 to 60 characters",
                ));
            }
            let (own_from, own_to) = (&cohort.date_from, &cohort.date_to);
            for day in [own_from, own_to].into_iter().flatten() {
                let d = parse_day(day).ok_or_else(|| {
                    invalid(
                        "cohorts",
                        format!("cohort {name:?}: {day:?} is not a date like 2026-11-01"),
                    )
                })?;
                if d < from || d > to {
                    return Err(invalid(
                        "cohorts",
                        format!("cohort {name:?}: its dates must fall inside the report's"),
                    ));
                }
            }
            let criteria = [
                own_from.is_some() || own_to.is_some(),
                cohort.browser.is_some(),
                cohort.device_class.is_some(),
                cohort.key_id.is_some(),
            ];
            if !criteria.contains(&true) {
                return Err(invalid(
                    "cohorts",
                    format!("cohort {name:?} needs a date range, browser, device_class or key_id"),
                ));
            }
        }
        Ok(())
    }
}

/// The Kafka message that queues a job; the job's row holds everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    /// The job.
    pub job_id: Uuid,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(from: &str, to: &str) -> ExportParams {
        ExportParams {
            report_type: ReportType::FrictionSummary,
            date_from: from.into(),
            date_to: to.into(),
            key_ids: vec![],
            url_prefix: String::new(),
            filters: None,
            cohorts: vec![],
        }
    }

    #[test]
    fn grouped_filters_are_folded_in() {
        let mut p: ExportParams = serde_json::from_str(
            r#"{"report_type":"friction_summary","date_from":"2026-11-01","date_to":"2026-11-02",
                "filters":{"url_prefix":"https://shop.example.com/","key_ids":["00000000-0000-0000-0000-000000000001"]}}"#,
        )
        .unwrap();
        p.check().unwrap();
        assert_eq!(p.url_prefix, "https://shop.example.com/");
        assert_eq!(p.key_ids.len(), 1);
        assert!(!serde_json::to_string(&p).unwrap().contains("filters"));
        let mut both = p.clone();
        both.filters = Some(Filters::default());
        assert_eq!(both.check().unwrap_err().field, "filters");
    }

    #[test]
    fn days_are_counted_from_the_epoch() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2026-11-26"), Some(20_783));
        assert_eq!(parse_day("2024-02-29"), Some(19_782));
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-1-01",
            "26-11-01",
            "2026-11-31",
            "x",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn periods_and_cohorts_follow_the_rules() {
        assert!(params("2026-01-01", "2026-12-31").check().is_ok());
        assert_eq!(
            params("2025-01-01", "2026-01-02")
                .check()
                .unwrap_err()
                .field,
            "date_to"
        );
        assert_eq!(
            params("2026-02-01", "2026-01-01")
                .check()
                .unwrap_err()
                .field,
            "date_to"
        );
        assert_eq!(
            params("2026-02-30", "2026-03-01")
                .check()
                .unwrap_err()
                .field,
            "date_from"
        );
        let mut p = params("2026-01-01", "2026-01-31");
        p.report_type = ReportType::CohortComparison;
        assert_eq!(p.check().unwrap_err().field, "cohorts");
        let cohort = |name: &str, device| Cohort {
            name: name.into(),
            date_from: None,
            date_to: None,
            browser: None,
            device_class: device,
            key_id: None,
        };
        p.cohorts = vec![
            cohort("mobile", Some(DeviceClass::Mobile)),
            cohort("none", None),
        ];
        assert!(p
            .check()
            .unwrap_err()
            .message
            .contains("needs a date range"));
        p.cohorts[1] = cohort("desktop", Some(DeviceClass::Desktop));
        assert!(p.check().is_ok());
        assert_eq!(
            p.period_ms().unwrap().1 - p.period_ms().unwrap().0,
            31 * 86_400_000
        );
    }
}
