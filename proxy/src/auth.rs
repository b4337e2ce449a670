//! The read token: when the proxy has one (`--token-file` or `OPTISCHEMA_PROXY_TOKEN`), every
//! API route and `/ws` need it, as `Authorization: Bearer <token>` or, for the WebSocket (a
//! browser cannot set its headers), as the query parameter `token`. The admin token opens them
//! too, so that an action's request needs one header only. Static files stay open: they hold
//! no data.

use axum::http::{header, HeaderMap};

/// Compares in time independent of where the two differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The bearer token of an `Authorization` header, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The `token` parameter of a query string, percent-decoded.
pub fn query_token(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .and_then(percent_decode)
}

/// `%XX` escapes (and `+` for a space, as forms write it) decoded; None when malformed.
pub fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Whether a request presenting `given` may read: always when there is no read token; else
/// when `given` is the read token or the admin token. Both are always compared.
pub fn may_read(read_token: Option<&str>, admin_token: Option<&str>, given: Option<&str>) -> bool {
    let Some(read) = read_token else { return true };
    let given = given.unwrap_or("").as_bytes();
    let is_read = same(given, read.as_bytes());
    let is_admin = admin_token.is_some_and(|a| same(given, a.as_bytes()));
    is_read | is_admin
}

pub const MISSING: &str = "this dashboard needs its token: send Authorization: Bearer <token> (the WebSocket: /ws?token=<token>); open the page as http://HOST/#token=<token>";

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn tokens_compare_whole() {
        assert!(same(b"0123456789abcdef", b"0123456789abcdef"));
        assert!(!same(b"0123456789abcdef", b"0123456789abcdeg"));
        assert!(!same(b"0123456789abcdef", b"0123456789abcde"));
        assert!(!same(b"", b"x"));
    }

    #[test]
    fn the_read_token_or_the_admin_token_opens_reads() {
        let read = Some("read-token-0123456789");
        let admin = Some("admin-token-0123456789");
        assert!(may_read(None, admin, None), "no read token: open");
        assert!(may_read(read, admin, read));
        assert!(may_read(read, admin, admin));
        assert!(!may_read(read, admin, None));
        assert!(!may_read(read, admin, Some("")));
        assert!(!may_read(read, admin, Some("read-token-012345678")));
        assert!(!may_read(read, None, admin));
    }

    #[test]
    fn the_token_comes_from_the_header_or_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer(&headers), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer  s3cret "),
        );
        assert_eq!(bearer(&headers), Some("s3cret"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret"),
        );
        assert_eq!(bearer(&headers), None);
        assert_eq!(
            query_token(Some("a=1&token=ab%2Bc%2F%3D%20d&b=2")).as_deref(),
            Some("ab+c/= d")
        );
        assert_eq!(query_token(Some("mytoken=x")), None);
        assert_eq!(query_token(Some("token=%zz")), None);
        assert_eq!(query_token(None), None);
    }
}
