//! Which requests the proxy answers: a browser page on another site must not reach the API or
//! the WebSocket (cross-site WebSocket hijacking), and a name that resolves to the proxy only
//! for a while must not make it "same-site" (DNS rebinding). So the `Host` header must name the
//! proxy (an IP address, `localhost`, or a name given with `--allowed-host`), and an `Origin`
//! header, when a browser sends one, must be that same host.

/// The host part of a `Host` header or an origin's authority: without port, brackets kept
/// for IPv6, lowercased.
fn hostname(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, _)) => format!("[{ip}]"),
            None => authority,
        };
    }
    authority
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(authority.clone(), |(h, _)| h.to_string())
}

fn is_ip_literal(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_ok()
}

/// Whether a request with this `Host` header is for the proxy.
pub fn host_allowed(host: Option<&str>, allowed: &[String]) -> bool {
    let Some(host) = host else { return false };
    let name = hostname(host);
    !name.is_empty()
        && (is_ip_literal(&name)
            || name == "localhost"
            || allowed.iter().any(|a| a.eq_ignore_ascii_case(&name)))
}

/// Whether a request's `Origin` (None when the browser sent none, as for a plain navigation)
/// is the proxy's own page, served under `host`.
pub fn origin_allowed(origin: Option<&str>, host: Option<&str>) -> bool {
    let Some(origin) = origin else { return true };
    let Some(host) = host else { return false };
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        // "null" (a sandboxed frame, a file) and anything else
        return false;
    };
    authority
        .trim_end_matches('/')
        .eq_ignore_ascii_case(host.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_ip_addresses_localhost_or_named() {
        let allowed = vec!["dash.example.com".to_string()];
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "10.1.2.3",
            "dash.example.com:443",
        ] {
            assert!(host_allowed(Some(host), &allowed), "{host}");
        }
        for host in [
            "evil.example:8080",
            "",
            "rebind.attacker.net",
            "dash.example.com.evil",
        ] {
            assert!(!host_allowed(Some(host), &allowed), "{host}");
        }
        assert!(!host_allowed(None, &allowed));
    }

    #[test]
    fn origins_must_be_the_page_served_here() {
        let host = Some("127.0.0.1:8080");
        assert!(origin_allowed(None, host));
        assert!(origin_allowed(Some("http://127.0.0.1:8080"), host));
        assert!(origin_allowed(Some("https://127.0.0.1:8080/"), host));
        assert!(!origin_allowed(Some("http://evil.example"), host));
        assert!(!origin_allowed(Some("http://127.0.0.1:9999"), host));
        assert!(!origin_allowed(Some("null"), host));
        assert!(!origin_allowed(Some("http://127.0.0.1:8080"), None));
    }
}
