//! The bearer-token check in front of every route.

use super::WebState;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Passes the request on if no token is configured or it carries
/// `Authorization: Bearer <token>`; 401 otherwise.
pub async fn require_token(State(st): State<WebState>, req: Request, next: Next) -> Response {
    let access = st.access.load();
    let Some(token) = &access.token else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if same(given.trim().as_bytes(), token.as_bytes()) {
        return next.run(req).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        "401 Unauthorized: this server needs Authorization: Bearer <web.token>\n",
    )
        .into_response()
}

/// Constant-time equality: both sides are hashed first, so neither the
/// position of the first difference nor the token's length shows in the time
/// taken.
fn same(a: &[u8], b: &[u8]) -> bool {
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_compares_exactly() {
        assert!(super::same(b"s3cret", b"s3cret"));
        assert!(!super::same(b"s3cret", b"s3cres"));
        assert!(!super::same(b"", b"s3cret"));
    }
}
