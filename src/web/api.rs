//! The JSON API (documented in `docs/api.md`) and `/metrics`.

use super::search::Search;
use super::WebState;
use crate::model::Record;
use crate::status::report as status;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::time::SystemTime;

/// An error answer: `{"error": "..."}` with its status.
pub fn error(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, Json(serde_json::json!({ "error": msg.into() }))).into_response()
}

/// Runs a blocking store read off the async threads; a store error is 500.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

/// One page of search results.
#[derive(Serialize)]
struct Page {
    messages: Vec<Record>,
    /// Pass as `after` for the next (older) page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_after: Option<i64>,
}

/// Records matching `search` and the next page's `after`.
pub async fn search(
    st: &WebState,
    search: &Search,
) -> Result<(Vec<Record>, Option<i64>), Response> {
    let filter = search
        .to_filter()
        .map_err(|e| error(StatusCode::BAD_REQUEST, e))?;
    let store = st.store.clone();
    let limit = filter.effective_limit();
    let records = blocking(move || store.query(&filter)).await?;
    let next = (records.len() == limit)
        .then(|| records.last().and_then(|r| r.id))
        .flatten();
    Ok((records, next))
}

/// `GET /api/messages?...`
pub async fn messages(
    State(st): State<WebState>,
    q: Result<Query<Search>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.body_text()),
    };
    match search(&st, &q).await {
        Ok((messages, next_after)) => Json(Page {
            messages,
            next_after,
        })
        .into_response(),
        Err(r) => r,
    }
}

/// `GET /api/messages/{id}`
pub async fn message(State(st): State<WebState>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::NOT_FOUND, format!("no message {id:?}"));
    };
    let store = st.store.clone();
    match blocking(move || store.get(id)).await {
        Ok(Some(r)) => Json(r).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no message {id}")),
        Err(r) => r,
    }
}

/// The status report for `st` now.
pub async fn report(st: &WebState) -> Result<status::StatusReport, Response> {
    let milter = st.milter.then(|| {
        st.metrics
            .as_ref()
            .map(|h| {
                let mut m = crate::metrics::samples(&h.render(), "authsense_milter_");
                // Counts and sums only: the histogram's buckets are for Prometheus.
                m.retain(|(name, _)| !name.contains("_bucket{"));
                m
            })
            .unwrap_or_default()
    });
    let store = st.store.clone();
    let export = st.exporter.as_ref().map(|e| e.health());
    blocking(move || status::report(&store, SystemTime::now(), milter, export)).await
}

/// `GET /api/status`
pub async fn status(State(st): State<WebState>) -> Response {
    match report(&st).await {
        Ok(r) => Json(r).into_response(),
        Err(r) => r,
    }
}

/// `GET /metrics`: Prometheus text format 0.0.4.
pub async fn metrics(State(st): State<WebState>) -> Response {
    let Some(h) = &st.metrics else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "no metrics recorder");
    };
    h.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        h.render(),
    )
        .into_response()
}
