//! See the parent module.
use super::{ConnectRequest, Request, RequestResult};
pub async fn send(req: &ConnectRequest, _t: std::time::Duration) -> RequestResult {
    let line = Request::Connect(req.clone()).preview().remove(0);
    RequestResult { request: line, ok: false, detail: "not available".into(), recorded: vec![] }
}
