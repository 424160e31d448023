//! See the parent module.
use super::{CommandRequest, Request, RequestResult};
pub async fn run(req: &CommandRequest, _r: &[crate::config::Secret]) -> RequestResult {
    let line = Request::Command(req.clone()).preview().remove(0);
    RequestResult { request: line, ok: false, detail: "not available".into(), recorded: vec![] }
}
