//! The overview page's figures, in the shape of core's [`Overview`]. Locally they come
//! from core's counters object (`MetricsDO`, with `METRICS_COUNTERS = "1"`); in
//! production from Analytics Engine's SQL API, over the points core's stream objects
//! write (see [`durable_streams_cloudflare::metrics`]): the queries and the reading of
//! their answers are here.
//!
//! The queries weigh every point by `_sample_interval`, so the figures stay right once
//! Analytics Engine samples; minutes are computed by the query as whole minutes since the
//! epoch, so no time zone enters. The only names put into SQL are the dataset, which must
//! be a plain identifier, and literals, which are quoted by [`literal`].

use std::collections::BTreeMap;

use serde_json::Value;

use durable_streams_cloudflare::metrics::{
    zero_filled, HotStream, Overview, HOT_LISTED, HOT_MINUTES, KEPT_MINUTES, READERS_FRESH_MS,
};
use durable_streams_cloudflare::protocol::ProtocolError;

/// The dataset core writes to unless `ANALYTICS_DATASET` names another.
pub const DEFAULT_DATASET: &str = "durable_streams_metrics";

/// Where the SQL API is, and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Analytics {
    /// The account's id.
    pub account: String,
    /// An API token with Account Analytics Read.
    pub token: String,
    /// The dataset, a checked identifier.
    pub dataset: String,
}

impl Analytics {
    /// The SQL API's settings from the worker's `CF_ACCOUNT_ID`, `CF_API_TOKEN` and
    /// `ANALYTICS_DATASET`: `None` without an account or token (the overview then reads
    /// the counters), an error for a dataset that is not a plain identifier.
    pub fn from_vars(
        account: Option<String>,
        token: Option<String>,
        dataset: Option<String>,
    ) -> Result<Option<Self>, ProtocolError> {
        let (Some(account), Some(token)) =
            (account.filter(|a| !a.is_empty()), token.filter(|t| !t.is_empty()))
        else {
            return Ok(None);
        };
        if !account.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(ProtocolError::unavailable("CF_ACCOUNT_ID must be the account's hexadecimal id"));
        }
        let dataset = dataset.filter(|d| !d.is_empty()).unwrap_or_else(|| DEFAULT_DATASET.to_owned());
        let plain = dataset.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && dataset.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && dataset.len() <= 64;
        if !plain {
            return Err(ProtocolError::unavailable(
                "ANALYTICS_DATASET must be a plain name: letters, digits and _, at most 64",
            ));
        }
        Ok(Some(Self { account, token, dataset }))
    }

    /// The SQL API's URL.
    pub fn url(&self) -> String {
        format!("https://api.cloudflare.com/client/v4/accounts/{}/analytics_engine/sql", self.account)
    }
}

/// `s` as an SQL string literal: quoted, with quotes doubled. Backslashes (an escape in
/// the API's dialect) and control characters are refused rather than escaped.
pub fn literal(s: &str) -> Result<String, ProtocolError> {
    if s.chars().any(|c| c == '\\' || c.is_control()) {
        return Err(ProtocolError::unavailable("a value with a backslash or a control character"));
    }
    Ok(format!("'{}'", s.replace('\'', "''")))
}

/// The queries one overview takes, in the order [`read`] wants their answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    /// Appends and bytes per minute over the last [`KEPT_MINUTES`].
    Series,
    /// The streams with the most appends over the last [`HOT_MINUTES`].
    Hot,
    /// How many streams were appended to over the last [`HOT_MINUTES`].
    Active,
    /// Each stream's latest readers gauge, if fresh.
    Readers,
}

impl Query {
    /// Every query of an overview.
    pub const ALL: [Query; 4] = [Query::Series, Query::Hot, Query::Active, Query::Readers];

    /// Its SQL text for `dataset` (already checked by [`Analytics::from_vars`]).
    pub fn sql(self, dataset: &str) -> Result<String, ProtocolError> {
        let (append, readers) = (literal("append")?, literal("readers")?);
        let since = |amount: i64, unit: &str| format!("timestamp > NOW() - INTERVAL '{amount}' {unit}");
        Ok(match self {
            Self::Series => format!(
                "SELECT intDiv(toUInt32(timestamp), 60) AS minute, sum(_sample_interval) AS appends, \
                 sum(_sample_interval * double2) AS bytes FROM {dataset} WHERE blob2 = {append} AND {} \
                 GROUP BY minute ORDER BY minute FORMAT JSON",
                since(KEPT_MINUTES, "MINUTE")
            ),
            Self::Hot => format!(
                "SELECT blob1 AS stream, sum(_sample_interval) AS appends, sum(_sample_interval * double2) AS bytes \
                 FROM {dataset} WHERE blob2 = {append} AND {} GROUP BY stream ORDER BY appends DESC LIMIT {HOT_LISTED} \
                 FORMAT JSON",
                since(HOT_MINUTES, "MINUTE")
            ),
            Self::Active => format!(
                "SELECT count(DISTINCT blob1) AS active FROM {dataset} WHERE blob2 = {append} AND {} FORMAT JSON",
                since(HOT_MINUTES, "MINUTE")
            ),
            Self::Readers => format!(
                "SELECT blob1 AS stream, argMax(double1, timestamp) AS long_poll, argMax(double2, timestamp) AS sse \
                 FROM {dataset} WHERE blob2 = {readers} AND {} GROUP BY stream FORMAT JSON",
                since(READERS_FRESH_MS / 1000, "SECOND")
            ),
        })
    }
}

/// The overview at `now_ms` from the answers to [`Query::ALL`], in that order: bodies of
/// the API's `FORMAT JSON` (`{"data": [rows]}`, numbers as numbers or strings).
pub fn read(now_ms: i64, answers: [&[u8]; 4]) -> Result<Overview, ProtocolError> {
    let [series, hot, active, readers] = answers.map(rows);
    let mut by_minute = BTreeMap::new();
    for row in series? {
        by_minute.insert(number(&row, "minute") as i64, (count(&row, "appends"), count(&row, "bytes")));
    }
    let hot = hot?
        .iter()
        .map(|row| HotStream {
            stream: row.get("stream").and_then(Value::as_str).unwrap_or_default().to_owned(),
            appends: count(row, "appends"),
            bytes: count(row, "bytes"),
        })
        .collect();
    let active = active?.first().map_or(0, |row| count(row, "active"));
    let (mut long_poll, mut sse) = (0, 0);
    for row in readers? {
        long_poll += count(&row, "long_poll");
        sse += count(&row, "sse");
    }
    let now = now_ms.div_euclid(60_000);
    let (appends_per_minute, bytes_per_minute) = by_minute.get(&(now - 1)).copied().unwrap_or_default();
    Ok(Overview {
        source: "analytics-engine".to_owned(),
        appends_per_minute,
        bytes_per_minute,
        active_streams: active,
        long_poll_readers: long_poll,
        sse_readers: sse,
        series: zero_filled(now_ms, &by_minute),
        hot,
    })
}

fn rows(body: &[u8]) -> Result<Vec<serde_json::Map<String, Value>>, ProtocolError> {
    let answer: Value = serde_json::from_slice(body).map_err(|e| {
        ProtocolError::unavailable(format!("Analytics Engine answered with something else than JSON: {e}"))
    })?;
    let rows = answer
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| ProtocolError::unavailable("Analytics Engine answered without data"))?;
    Ok(rows.iter().filter_map(|r| r.as_object().cloned()).collect())
}

/// A numeric column: the API writes 64-bit integers as strings.
fn number(row: &serde_json::Map<String, Value>, column: &str) -> f64 {
    match row.get(column) {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// A count, rounded (sampling weights make estimates).
fn count(row: &serde_json::Map<String, Value>, column: &str) -> u64 {
    number(row, column).max(0.0).round() as u64
}

/// What a failed SQL API call means to an operator.
pub fn failure(status: u16, body: &str) -> ProtocolError {
    let why = match status {
        401 | 403 => "the API token cannot read analytics (it needs Account Analytics Read)",
        429 => "the SQL API is rate limiting this account",
        _ => "the SQL API failed",
    };
    let detail: String = body.chars().take(200).collect();
    ProtocolError::unavailable(format!("Analytics Engine: {why} (HTTP {status}): {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 5 s into a whole minute.
    const NOW: i64 = 1_800_000_000_000 + 5_000;

    fn vars(account: &str, token: &str, dataset: Option<&str>) -> Result<Option<Analytics>, ProtocolError> {
        Analytics::from_vars(Some(account.into()), Some(token.into()), dataset.map(str::to_owned))
    }

    #[test]
    fn the_sql_api_is_used_only_with_an_account_and_a_token() {
        assert_eq!(vars("", "t", None), Ok(None));
        assert_eq!(Analytics::from_vars(Some("abc1".into()), None, None), Ok(None));
        let a = vars("abc1", "t", None).unwrap().unwrap();
        assert_eq!(a.dataset, DEFAULT_DATASET);
        assert_eq!(a.url(), "https://api.cloudflare.com/client/v4/accounts/abc1/analytics_engine/sql");
        assert_eq!(vars("abc1", "t", Some("other_set2")).unwrap().unwrap().dataset, "other_set2");
    }

    #[test]
    fn names_that_are_not_plain_never_reach_the_sql() {
        for bad in ["x; DROP", "a b", "name'--", "1abc", "ds.x", &"a".repeat(65)] {
            assert!(vars("abc1", "t", Some(bad)).is_err(), "{bad}");
        }
        assert!(vars("acct/../x", "t", None).is_err());
    }

    #[test]
    fn literals_are_quoted_and_escape_characters_refused() {
        assert_eq!(literal("append").unwrap(), "'append'");
        assert_eq!(literal("it's").unwrap(), "'it''s'");
        assert!(literal("a\\' OR 1=1").is_err());
        assert!(literal("a\nb").is_err());
    }

    #[test]
    fn queries_weigh_by_sample_interval_and_read_only_the_dataset() {
        for q in Query::ALL {
            let sql = q.sql("durable_streams_metrics").unwrap();
            assert!(sql.contains("FROM durable_streams_metrics WHERE"), "{sql}");
            assert!(sql.ends_with("FORMAT JSON"), "{sql}");
            assert_eq!(sql.matches(';').count(), 0);
        }
        assert!(Query::Series.sql("d").unwrap().contains("sum(_sample_interval * double2) AS bytes"));
        assert!(Query::Hot.sql("d").unwrap().contains(&format!("LIMIT {HOT_LISTED}")));
        assert!(Query::Readers.sql("d").unwrap().contains("INTERVAL '120' SECOND"));
    }

    #[test]
    fn answers_become_the_overview_with_zero_filled_minutes() {
        let minute = NOW.div_euclid(60_000);
        let series = format!(
            r#"{{"meta":[],"data":[{{"minute":"{}","appends":"3","bytes":25}},{{"minute":{},"appends":1,"bytes":"7"}}],"rows":2}}"#,
            minute - 1,
            minute
        );
        let hot = br#"{"data":[{"stream":"p/a","appends":"2","bytes":20.0},{"stream":"p/b","appends":2,"bytes":12}]}"#;
        let active = br#"{"data":[{"active":"2"}]}"#;
        let readers =
            br#"{"data":[{"stream":"p/a","long_poll":2,"sse":1},{"stream":"p/b","long_poll":0,"sse":3}]}"#;
        let o = read(NOW, [series.as_bytes(), hot, active, readers]).unwrap();
        assert_eq!(o.source, "analytics-engine");
        assert_eq!((o.appends_per_minute, o.bytes_per_minute, o.active_streams), (3, 25, 2));
        assert_eq!((o.long_poll_readers, o.sse_readers), (2, 4));
        assert_eq!(o.series.len(), KEPT_MINUTES as usize);
        assert_eq!((o.series[58].appends, o.series[59].appends, o.series[59].bytes), (3, 1, 7));
        assert_eq!(o.series.iter().map(|m| m.appends).sum::<u64>(), 4);
        assert_eq!(o.hot[0], HotStream { stream: "p/a".into(), appends: 2, bytes: 20 });
    }

    #[test]
    fn answers_that_are_not_data_are_errors_not_zeros() {
        let ok = br#"{"data":[]}"#;
        assert!(read(NOW, [b"<html>", ok, ok, ok]).is_err());
        assert!(read(NOW, [ok, br#"{"errors":["x"]}"#, ok, ok]).is_err());
        assert_eq!(read(NOW, [ok, ok, ok, ok]).unwrap().series.len(), KEPT_MINUTES as usize);
        let e = failure(403, "forbidden");
        assert_eq!(e.status(), 503);
        assert!(e.message().contains("Account Analytics Read"));
    }
}
