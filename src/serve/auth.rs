//! Basic authentication for `kdrill serve`: one user and its password
//! (which `main` reads from the environment or a file, never the command
//! line). Credentials are compared in constant time; nothing here logs them.

use base64::Engine as _;
use hyper::header::HeaderValue;

/// The realm browsers show when they ask for credentials.
pub const CHALLENGE: &str = "Basic realm=\"kdrill\"";

/// The one user allowed in, with its password.
#[derive(Clone)]
pub struct BasicAuth {
    /// SHA-256 of `user:password`: a fixed-size value compared in constant
    /// time, so neither the password nor its length shows in the timing.
    expected: [u8; 32],
}

impl BasicAuth {
    pub fn new(user: &str, password: &str) -> BasicAuth {
        BasicAuth { expected: digest(user.as_bytes(), password.as_bytes()) }
    }

    /// Whether an `Authorization` header carries the right user and password.
    pub fn admits(&self, header: Option<&HeaderValue>) -> bool {
        let Some(token) = header.and_then(|h| h.to_str().ok()).and_then(basic_token) else { return false };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(token.trim()) else { return false };
        let Some(colon) = decoded.iter().position(|&b| b == b':') else { return false };
        let given = digest(&decoded[..colon], &decoded[colon + 1..]);
        openssl::memcmp::eq(&given, &self.expected)
    }
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BasicAuth(***)")
    }
}

/// The token after `Basic ` (the scheme is case-insensitive).
fn basic_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("basic").then_some(token)
}

fn digest(user: &[u8], password: &[u8]) -> [u8; 32] {
    let mut h = openssl::sha::Sha256::new();
    h.update(user);
    h.update(b":");
    h.update(password);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> HeaderValue {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {token}")).expect("ascii")
    }

    #[test]
    fn only_the_right_user_and_password_are_admitted() {
        let auth = BasicAuth::new("wall", "s3cret:with colon");
        assert!(auth.admits(Some(&header("wall", "s3cret:with colon"))));
        assert!(
            auth.admits(Some(
                &HeaderValue::from_str(
                    &header("wall", "s3cret:with colon").to_str().expect("ascii").replace("Basic", "basic")
                )
                .expect("ascii")
            ))
        );
        for (user, password) in [("wall", "s3cret"), ("wal", "s3cret:with colon"), ("", ""), ("wall", "")] {
            assert!(!auth.admits(Some(&header(user, password))), "{user}:{password}");
        }
        assert!(!auth.admits(None));
        assert!(!auth.admits(Some(&HeaderValue::from_static("Bearer abc"))));
        assert!(!auth.admits(Some(&HeaderValue::from_static("Basic !!!"))));
    }
}
