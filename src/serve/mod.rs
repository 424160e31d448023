//! `kdrill serve`: the assessment over HTTP, read-only by construction. The
//! server holds no dispatcher and no route accepts a method but GET and
//! HEAD (everything else is 405). It formats only: the figures come from
//! `check::report`, the same report `check --json` prints.
//!
//! - `/` — the wall page (embedded, no build step), fed by `/events`;
//! - `/events` — server-sent events: the report's JSON when it changes and
//!   at least every few seconds;
//! - `/metrics` — Prometheus text (see `metrics`);
//! - `/api/v1/assessment` — the `check --json` report;
//! - `/healthz` — the process answers; `/readyz` — both sides observed fresh.
//!
//! Optionally over TLS (`tls`) and behind basic authentication (`auth`);
//! `/healthz` stays open for load balancers and probes: it tells nothing.

pub mod auth;
pub mod drill;
pub mod metrics;
pub mod tls;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{ALLOW, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use openssl::ssl::{Ssl, SslAcceptor};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use auth::BasicAuth;

use crate::assess::Assessment;
use crate::check;

/// The wall page: plain HTML, CSS and JS.
const PAGE: &str = include_str!("page.html");
/// The longest `/events` stays silent: the page marks itself stale after
/// missing a few of these.
const EVENT_EVERY: Duration = Duration::from_secs(3);

/// What the handlers serve, formatted once per assessment.
#[derive(Debug, Default)]
pub struct Served {
    /// The `check --json` report, pretty (as `check --json` prints it).
    pub json: String,
    /// The same report on one line, for `/events`.
    pub event: String,
    pub metrics: String,
    /// Both sides observed, and fresh.
    pub ready: bool,
    /// The shared drill (`null` when none), for `/api/v1/drill` and `/events`.
    pub drill: String,
}

impl Served {
    pub fn new(a: &Assessment) -> Served {
        Served::with_drill(a, None)
    }

    /// With the drill the drill topic shares, judged on `a`.
    pub fn with_drill(a: &Assessment, drill: Option<&drill::DrillStatus>) -> Served {
        let report = check::report(a);
        let ready = !report.sides.is_empty() && report.sides.iter().all(|s| s.observed_at.is_some() && !s.stale);
        Served {
            // The report is plain data: serialising it cannot fail.
            json: serde_json::to_string_pretty(&report).unwrap_or_default(),
            event: serde_json::to_string(&report).unwrap_or_default(),
            metrics: metrics::render_with_drill(&report, drill),
            ready,
            drill: serde_json::to_string(&drill).unwrap_or_default(),
        }
    }
}

pub type Latest = watch::Receiver<Arc<Served>>;
type Body = UnsyncBoxBody<Bytes, Infallible>;

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What guards the routes: TLS and basic authentication, each optional.
#[derive(Default)]
pub struct Guard {
    pub tls: Option<SslAcceptor>,
    pub auth: Option<BasicAuth>,
}

/// Serves connections until the listener fails.
pub async fn run(listener: TcpListener, latest: Latest, guard: Guard) -> std::io::Result<()> {
    let tls = guard.tls.map(Arc::new);
    let auth = guard.auth.map(Arc::new);
    loop {
        let (stream, peer) = listener.accept().await?;
        let (latest, tls, auth) = (latest.clone(), tls.clone(), auth.clone());
        tokio::spawn(async move {
            let io = TokioIo::new(stream);
            let Some(tls) = tls else { return serve_connection(io, latest, auth).await };
            match handshake(&tls, io).await {
                Ok(io) => serve_connection(io, latest, auth).await,
                Err(e) => tracing::debug!("serve: TLS handshake with {peer} failed: {e}"),
            }
        });
    }
}

async fn handshake(
    tls: &SslAcceptor,
    io: TokioIo<tokio::net::TcpStream>,
) -> Result<hyper_openssl::SslStream<TokioIo<tokio::net::TcpStream>>, String> {
    let ssl = Ssl::new(tls.context()).map_err(|e| e.to_string())?;
    let mut stream = hyper_openssl::SslStream::new(ssl, io).map_err(|e| e.to_string())?;
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, std::pin::Pin::new(&mut stream).accept()).await {
        Ok(Ok(())) => Ok(stream),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".to_owned()),
    }
}

async fn serve_connection<I>(io: I, latest: Latest, auth: Option<Arc<BasicAuth>>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let (latest, auth) = (latest.clone(), auth.clone());
        async move { Ok::<_, Infallible>(route(&req, latest, auth.as_deref())) }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await {
        tracing::debug!("serve: connection ended: {e}");
    }
}

fn full(text: impl Into<Bytes>) -> Body {
    Full::new(text.into()).boxed_unsync()
}

fn respond(status: StatusCode, content_type: &str, body: Body) -> Response<Body> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        res.headers_mut().insert(CONTENT_TYPE, v);
    }
    if let Ok(v) = "no-store".parse() {
        res.headers_mut().insert(CACHE_CONTROL, v);
    }
    res
}

/// Every path: GET and HEAD only; behind `auth` but for `/healthz`.
fn route(req: &Request<Incoming>, latest: Latest, auth: Option<&BasicAuth>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        let mut res =
            respond(StatusCode::METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", full("read-only: GET or HEAD\n"));
        if let Ok(v) = "GET, HEAD".parse() {
            res.headers_mut().insert(ALLOW, v);
        }
        return res;
    }
    let open = req.uri().path() == "/healthz";
    if let Some(auth) = auth.filter(|_| !open)
        && !auth.admits(req.headers().get(AUTHORIZATION))
    {
        let mut res = respond(StatusCode::UNAUTHORIZED, "text/plain; charset=utf-8", full("credentials needed\n"));
        res.headers_mut().insert(WWW_AUTHENTICATE, hyper::header::HeaderValue::from_static(auth::CHALLENGE));
        return res;
    }
    let served = latest.borrow().clone();
    let (status, content_type, body) = match req.uri().path() {
        "/" => (StatusCode::OK, "text/html; charset=utf-8", full(PAGE)),
        "/metrics" => {
            (StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", full(served.metrics.clone()))
        }
        "/api/v1/assessment" => (StatusCode::OK, "application/json", full(served.json.clone())),
        "/api/v1/drill" => (
            StatusCode::OK,
            "application/json",
            full(format!("{}\n", if served.drill.is_empty() { "null" } else { &served.drill })),
        ),
        "/healthz" => (StatusCode::OK, "text/plain; charset=utf-8", full("ok\n")),
        "/readyz" if served.ready => (StatusCode::OK, "text/plain; charset=utf-8", full("ready\n")),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain; charset=utf-8",
            full("not ready: a side is not observed fresh\n"),
        ),
        // HEAD gets the headers without an endless body.
        "/events" if head => (StatusCode::OK, "text/event-stream", full("")),
        "/events" => (StatusCode::OK, "text/event-stream", events(latest)),
        _ => (StatusCode::NOT_FOUND, "text/plain; charset=utf-8", full("not found\n")),
    };
    respond(status, content_type, body)
}

/// The report as server-sent events: now, on every change, and at least
/// every `EVENT_EVERY`; ends when the assessments stop.
fn events(latest: Latest) -> Body {
    let stream = futures::stream::unfold((latest, true), |(mut latest, first)| async move {
        if !first {
            // A timeout sends the same report again; a closed channel ends the stream.
            if let Ok(Err(_)) = tokio::time::timeout(EVENT_EVERY, latest.changed()).await {
                return None;
            }
        }
        let (event, drill) = {
            let served = latest.borrow_and_update();
            (served.event.clone(), served.drill.clone())
        };
        Some((format!("data: {event}\n\nevent: drill\ndata: {drill}\n\n"), (latest, false)))
    });
    BodyExt::boxed_unsync(StreamBody::new(stream.map(|e| Ok::<_, Infallible>(Frame::data(Bytes::from(e))))))
}
