//! The pages' only script and style sheet, compiled into the binary so the
//! server is one file and the CSP can say `'self'`.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::AppState;

const SCRIPT: &str = include_str!("../assets/keybound.js");
const STYLE: &str = include_str!("../assets/keybound.css");
const ICON: &str = include_str!("../assets/favicon.svg");
/// Short enough that a deploy is picked up within minutes.
const CACHE: &str = "public, max-age=300";

/// The icon every page links; also answered at `/favicon.ico`, where
/// browsers and tools look without being told (an SVG there is understood
/// by current browsers, and beats an empty 404 in every log).
async fn icon() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "image/svg+xml"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        ICON,
    )
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/favicon.svg", get(icon))
        .route("/favicon.ico", get(icon))
        .route(
            "/assets/keybound.js",
            get(|| async {
                (
                    [
                        (CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (CACHE_CONTROL, CACHE),
                    ],
                    SCRIPT,
                )
                    .into_response()
            }),
        )
        .route(
            "/assets/keybound.css",
            get(|| async {
                (
                    [
                        (CONTENT_TYPE, "text/css; charset=utf-8"),
                        (CACHE_CONTROL, CACHE),
                    ],
                    STYLE,
                )
                    .into_response()
            }),
        )
}
