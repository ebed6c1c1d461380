//! The owner's reports as the console shows them: the service's figures for a range of local
//! days (`GET /v1/reports/summary`), the rows behind a figure, and the CSV exports. Reports are
//! computed by the service, so they need the network; the last figures fetched are kept in the
//! local store (forgotten at sign-out with everything else) and given back, marked as such, when
//! the service cannot be reached.

use protocol::{ReportFigure, ReportSummary};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{Console, ConsoleError, TransportError};

/// The setting that holds the last figures fetched (a [`ReportAnswer`] as JSON).
const LAST_REPORT: &str = "last_report";

/// Which figures: local days `from`..=`to` (`2026-03-01`), optionally one channel and one person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct ReportFilter {
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub staff_id: Option<String>,
}

impl ReportFilter {
    fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = vec![("from", self.from.clone()), ("to", self.to.clone())];
        query.extend(self.channel.clone().map(|c| ("channel", c)));
        query.extend(self.staff_id.clone().map(|s| ("staff_id", s)));
        query
    }
}

/// The figures, for which filter, fetched when; `offline` when the service could not be reached
/// and these are the last figures fetched (possibly for another filter: `filter` says which).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReportAnswer {
    pub summary: ReportSummary,
    pub filter: ReportFilter,
    /// RFC 3339.
    pub fetched_at: String,
    #[serde(default)]
    pub offline: bool,
}

/// Which CSV export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(export)]
pub enum ReportExport {
    /// One row per conversation episode.
    Conversations,
    /// One row per booking.
    Bookings,
    /// One row per call (missed calls, or the calls behind a call figure).
    Calls,
}

/// A CSV export and the file name to save it under.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct ReportCsv {
    pub file_name: String,
    pub csv: String,
}

/// The figures from the service (kept as the last copy), or the last copy when it cannot be
/// reached. A refusal (an agent, a bad range) is never answered from the copy.
pub async fn summary(console: &Console, filter: ReportFilter) -> Result<ReportAnswer, ConsoleError> {
    let transport = console.transport()?;
    let fetched = transport.request_json(reqwest::Method::GET, "/v1/reports/summary", &filter.query(), None).await;
    match fetched {
        Ok(value) => {
            let summary: ReportSummary = serde_json::from_value(value).map_err(|e| ConsoleError::Transport(TransportError::Server(format!("an unexpected report: {e}"))))?;
            let answer = ReportAnswer { summary, filter, fetched_at: jiff::Timestamp::now().to_string(), offline: false };
            console.store().set_setting(LAST_REPORT, &serde_json::to_string(&answer).expect("a report serialises")).await?;
            Ok(answer)
        }
        Err(e) if e.is_transient() => match last(console).await? {
            Some(copy) => Ok(ReportAnswer { offline: true, ..copy }),
            None => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

async fn last(console: &Console) -> Result<Option<ReportAnswer>, ConsoleError> {
    let saved = console.store().setting(LAST_REPORT).await?;
    // A copy this version cannot read (an older console's) is as good as none.
    Ok(saved.and_then(|s| serde_json::from_str(&s).ok()))
}

/// Exactly the conversations, bookings or calls a figure counts (`ReportRows`, as the service
/// sent it).
pub async fn rows(console: &Console, filter: &ReportFilter, figure: ReportFigure, previous: bool) -> Result<serde_json::Value, ConsoleError> {
    let mut query = filter.query();
    query.push(("figure", figure.as_str().to_owned()));
    if previous {
        query.push(("previous", "true".into()));
    }
    Ok(console.transport()?.request_json(reqwest::Method::GET, "/v1/reports/rows", &query, None).await?)
}

/// A CSV export of the period's conversations, bookings or missed calls (or only those behind
/// `figure`).
pub async fn csv(console: &Console, export: ReportExport, filter: &ReportFilter, figure: Option<ReportFigure>) -> Result<ReportCsv, ConsoleError> {
    let mut query = filter.query();
    query.extend(figure.map(|f| ("figure", f.as_str().to_owned())));
    let (path, name) = match export {
        ReportExport::Conversations => ("/v1/reports/conversations.csv", "conversations"),
        ReportExport::Bookings => ("/v1/reports/bookings.csv", "bookings"),
        ReportExport::Calls => ("/v1/reports/calls.csv", "calls"),
    };
    let csv = console.transport()?.get_text(path, &query).await?;
    let figure = figure.map(|f| format!("-{}", f.as_str())).unwrap_or_default();
    Ok(ReportCsv { file_name: format!("{name}{figure}-{}-{}.csv", filter.from, filter.to), csv })
}
