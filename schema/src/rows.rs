//! ClickHouse row types of the three event tables, built from an envelope's events
//! without copying strings. Column order and types follow `migrations/`.

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::envelope::EnvelopeHeader;
use crate::event::{Event, Kind, ValidityFlags};
use crate::url;

/// A row of `friction_events`.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct FrictionRow<'a> {
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub owner_id: &'a str,
    #[serde(with = "clickhouse::serde::uuid")]
    pub key_id: Uuid,
    pub session_id: &'a str,
    pub page_view_id: &'a str,
    pub event_type: &'a str,
    pub timestamp: i64,
    pub client_timestamp: i64,
    pub received_at: i64,
    pub clock_corrected: bool,
    pub url: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub selector: &'a str,
    pub element_tag: &'a str,
    pub x: i32,
    pub y: i32,
    pub click_count: u32,
    pub error_message: &'a str,
    pub error_source: &'a str,
    pub error_line: u32,
    pub error_column: u32,
    pub error_stack: &'a str,
    pub error_count: u32,
    pub form: &'a str,
    pub field_name: &'a str,
    pub field_type: &'a str,
    pub validity: ValidityFlags,
    pub viewport_width: u32,
    pub viewport_height: u32,
    pub user_agent: &'a str,
    pub client_ip: &'a str,
    #[serde(with = "clickhouse::serde::uuid")]
    pub batch_id: Uuid,
}

/// A row of `heatmap_data`: clicks and pageviews.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct HeatmapRow<'a> {
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub owner_id: &'a str,
    #[serde(with = "clickhouse::serde::uuid")]
    pub key_id: Uuid,
    pub session_id: &'a str,
    pub page_view_id: &'a str,
    pub event_type: &'a str,
    pub timestamp: i64,
    pub client_timestamp: i64,
    pub received_at: i64,
    pub clock_corrected: bool,
    pub url: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub referrer: &'a str,
    pub navigation_type: &'a str,
    pub selector: &'a str,
    pub element_tag: &'a str,
    pub x: i32,
    pub y: i32,
    pub client_x: i32,
    pub client_y: i32,
    pub viewport_width: u32,
    pub viewport_height: u32,
    pub scroll_x: i32,
    pub scroll_y: i32,
    pub user_agent: &'a str,
    pub client_ip: &'a str,
    #[serde(with = "clickhouse::serde::uuid")]
    pub batch_id: Uuid,
}

/// A row of `page_performance_metrics`: one metric of one page view.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct PerformanceRow<'a> {
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub owner_id: &'a str,
    #[serde(with = "clickhouse::serde::uuid")]
    pub key_id: Uuid,
    pub session_id: &'a str,
    pub page_view_id: &'a str,
    pub metric_name: &'a str,
    pub value: f64,
    pub timestamp: i64,
    pub client_timestamp: i64,
    pub received_at: i64,
    pub clock_corrected: bool,
    pub url: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub viewport_width: u32,
    pub viewport_height: u32,
    pub user_agent: &'a str,
    pub client_ip: &'a str,
    #[serde(with = "clickhouse::serde::uuid")]
    pub batch_id: Uuid,
}

/// An event turned into the row of its table.
#[derive(Debug, Clone, PartialEq)]
pub enum EventRow<'a> {
    /// For `friction_events`.
    Friction(FrictionRow<'a>),
    /// For `heatmap_data`.
    Heatmap(HeatmapRow<'a>),
    /// For `page_performance_metrics`.
    Performance(PerformanceRow<'a>),
}

/// Table name of each kind.
pub fn table(kind: Kind) -> &'static str {
    match kind {
        Kind::Friction => "friction_events",
        Kind::Heatmap => "heatmap_data",
        Kind::Performance => "page_performance_metrics",
    }
}

impl<'a> EventRow<'a> {
    /// The row for `event` as received under `header`.
    pub fn new(header: &EnvelopeHeader<'a>, e: &Event<'a>) -> Self {
        let (host, path) = (url::host(e.url), url::path(e.url));
        match e.event_type.kind() {
            Kind::Friction => EventRow::Friction(FrictionRow {
                event_id: e.event_id,
                owner_id: header.owner_id,
                key_id: header.key_id,
                session_id: e.session_id,
                page_view_id: e.page_view_id,
                event_type: e.event_type.as_str(),
                timestamp: e.timestamp,
                client_timestamp: e.client_timestamp,
                received_at: header.received_at,
                clock_corrected: e.clock_corrected,
                url: e.url,
                host,
                path,
                selector: e.selector,
                element_tag: e.element_tag,
                x: e.x,
                y: e.y,
                click_count: e.click_count,
                error_message: e.message,
                error_source: e.source,
                error_line: e.line,
                error_column: e.column,
                error_stack: e.stack,
                error_count: e.count,
                form: e.form,
                field_name: e.field_name,
                field_type: e.field_type,
                validity: e.validity,
                viewport_width: e.viewport_width,
                viewport_height: e.viewport_height,
                user_agent: header.user_agent,
                client_ip: header.client_ip,
                batch_id: header.batch_id,
            }),
            Kind::Heatmap => EventRow::Heatmap(HeatmapRow {
                event_id: e.event_id,
                owner_id: header.owner_id,
                key_id: header.key_id,
                session_id: e.session_id,
                page_view_id: e.page_view_id,
                event_type: e.event_type.as_str(),
                timestamp: e.timestamp,
                client_timestamp: e.client_timestamp,
                received_at: header.received_at,
                clock_corrected: e.clock_corrected,
                url: e.url,
                host,
                path,
                referrer: e.referrer,
                navigation_type: e.navigation_type,
                selector: e.selector,
                element_tag: e.element_tag,
                x: e.x,
                y: e.y,
                client_x: e.client_x,
                client_y: e.client_y,
                viewport_width: e.viewport_width,
                viewport_height: e.viewport_height,
                scroll_x: e.scroll_x,
                scroll_y: e.scroll_y,
                user_agent: header.user_agent,
                client_ip: header.client_ip,
                batch_id: header.batch_id,
            }),
            Kind::Performance => EventRow::Performance(PerformanceRow {
                event_id: e.event_id,
                owner_id: header.owner_id,
                key_id: header.key_id,
                session_id: e.session_id,
                page_view_id: e.page_view_id,
                metric_name: e.event_type.as_str(),
                value: e.value,
                timestamp: e.timestamp,
                client_timestamp: e.client_timestamp,
                received_at: header.received_at,
                clock_corrected: e.clock_corrected,
                url: e.url,
                host,
                path,
                viewport_width: e.viewport_width,
                viewport_height: e.viewport_height,
                user_agent: header.user_agent,
                client_ip: header.client_ip,
                batch_id: header.batch_id,
            }),
        }
    }
}
