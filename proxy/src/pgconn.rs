//! How the proxy connects to a database: a libpq connection string (`key=value ...` or a
//! `postgres://` URI) as tokio-postgres's `Config`, and a TLS connector that does what libpq's
//! `sslmode` and `sslrootcert` say (tokio-postgres knows neither verify-ca nor verify-full, nor
//! root certificates):
//!
//! - `disable`: no TLS.
//! - `allow`, `prefer` (the default, as libpq's): TLS when the server offers it, else plain.
//!   (libpq's `allow` tries plain first; here it is `prefer`.)
//! - `require`: TLS or no connection. The certificate is not checked, as libpq does not, unless
//!   `sslrootcert` is given: then its chain must lead to that root (libpq's rule too).
//! - `verify-ca`: TLS, the chain checked against `sslrootcert`.
//! - `verify-full`: that, and the certificate must name the `host` connected to.
//!
//! Client certificates (`sslcert`, `sslkey`) are not supported and refused, not ignored.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::PathBuf;
use std::sync::Arc;
use tokio_postgres_rustls::MakeRustlsConnect;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<SslMode, String> {
        Ok(match text {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(format!(
                    "sslmode {other:?} is not one of disable, allow, prefer, require, verify-ca, verify-full"
                ))
            }
        })
    }

    /// What tokio-postgres is asked for: whether TLS is tried, and whether it must succeed.
    fn negotiation(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as Tp;
        match self {
            SslMode::Disable => Tp::Disable,
            SslMode::Allow | SslMode::Prefer => Tp::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Tp::Require,
        }
    }
}

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Not at all: the connection is encrypted, not authenticated.
    Nothing,
    /// Its chain leads to the root certificate.
    Chain,
    /// That, and it names the host.
    ChainAndName,
}

/// The TLS part of a connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tls {
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
}

impl Tls {
    pub fn check(&self) -> Check {
        match (self.mode, &self.root_cert) {
            (SslMode::VerifyFull, _) => Check::ChainAndName,
            (SslMode::VerifyCa, _) => Check::Chain,
            (SslMode::Disable, _) | (_, None) => Check::Nothing,
            (_, Some(_)) => Check::Chain,
        }
    }
}

/// A database to connect to: where, and how.
#[derive(Clone)]
pub struct Target {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
}

impl Target {
    /// The target a connection string names; reads its root certificate, if any.
    pub fn new(dsn: &str) -> Result<Target, String> {
        let (config, tls) = split(dsn)?;
        Ok(Target {
            config,
            tls: connector(&tls)?,
        })
    }
}

/// Keys of ours, taken out before tokio-postgres reads the rest.
const TLS_KEYS: &[&str] = &["sslmode", "sslrootcert"];
const UNSUPPORTED_KEYS: &[&str] = &["sslcert", "sslkey", "sslpassword", "sslcrl", "sslcrldir"];

/// A connection string as tokio-postgres's config (its sslmode set) and its TLS settings.
pub fn split(dsn: &str) -> Result<(tokio_postgres::Config, Tls), String> {
    let (rest, ours) = if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        split_uri(dsn)?
    } else {
        split_key_values(dsn)?
    };
    let mut mode = SslMode::Prefer;
    let mut root_cert = None;
    for (key, value) in ours {
        match key.as_str() {
            "sslmode" => mode = SslMode::parse(&value)?,
            "sslrootcert" => root_cert = Some(PathBuf::from(value)),
            other => {
                return Err(format!(
                    "{other} is not supported by the proxy: client certificates are not"
                ))
            }
        }
    }
    if matches!(mode, SslMode::VerifyCa | SslMode::VerifyFull) && root_cert.is_none() {
        return Err(format!(
            "sslmode={} needs sslrootcert=FILE, the root certificate to check the server's against",
            if mode == SslMode::VerifyCa {
                "verify-ca"
            } else {
                "verify-full"
            }
        ));
    }
    let mut config: tokio_postgres::Config = rest
        .parse()
        .map_err(|e| format!("not a valid connection string: {e}"))?;
    config.ssl_mode(mode.negotiation());
    Ok((config, Tls { mode, root_cert }))
}

fn is_ours(key: &str) -> Result<bool, String> {
    if UNSUPPORTED_KEYS.contains(&key) {
        return Err(format!(
            "{key} is not supported by the proxy: client certificates are not"
        ));
    }
    Ok(TLS_KEYS.contains(&key))
}

/// `key=value` pairs (libpq's syntax: spaces around `=`, values in single quotes with `\'` and
/// `\\`) without ours, written again for tokio-postgres, and ours.
fn split_key_values(dsn: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut rest = Vec::new();
    let mut ours = Vec::new();
    for (key, value) in key_values(dsn)? {
        if is_ours(&key)? {
            ours.push((key, value));
        } else {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            rest.push(format!("{key}='{quoted}'"));
        }
    }
    Ok((rest.join(" "), ours))
}

fn key_values(dsn: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = dsn.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            // the word is not shown: it may be part of a password
            return Err(
                "a word without \"=\" in the connection string (quote a value with spaces: key='a b')"
                    .into(),
            );
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.push(chars.next().ok_or("unterminated quoted value")?),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err("unterminated quoted value in the connection string".into()),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some(escaped) = chars.next() {
                        value.push(escaped);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

/// A URI without our query parameters, and ours (percent-decoded).
fn split_uri(dsn: &str) -> Result<(String, Vec<(String, String)>), String> {
    let Some((base, query)) = dsn.split_once('?') else {
        return Ok((dsn.to_string(), Vec::new()));
    };
    let mut kept = Vec::new();
    let mut ours = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |t: &str| {
            crate::auth::percent_decode(t)
                .ok_or_else(|| format!("bad percent-encoding in the connection URI: {t:?}"))
        };
        let key = decode(key)?;
        if is_ours(&key)? {
            ours.push((key, decode(value)?));
        } else {
            kept.push(pair);
        }
    }
    let uri = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((uri, ours))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS connector for `tls`: the root certificate read and the check it calls for.
pub fn connector(tls: &Tls) -> Result<MakeRustlsConnect, String> {
    let provider = provider();
    let verifier: Arc<dyn ServerCertVerifier> = match tls.check() {
        Check::Nothing => Arc::new(Unchecked(provider.clone())),
        check => {
            let path = tls.root_cert.as_ref().expect("a check has a root");
            let mut roots = RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("cannot read sslrootcert {}: {e}", path.display()))?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!(
                    "sslrootcert {} holds no certificate",
                    path.display()
                ));
            }
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
            if check == Check::ChainAndName {
                webpki
            } else {
                Arc::new(ChainOnly(webpki))
            }
        }
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `require` without a root certificate, as libpq: any certificate (the handshake's
/// signatures are still checked, so the connection is encrypted to whoever holds its key).
#[derive(Debug)]
struct Unchecked(Arc<CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// verify-ca: the chain is checked, the name is not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        // the name is checked last, after the chain (rustls' WebPkiServerVerifier): a name
        // error means the chain is good
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::SslMode as Tp;

    fn tls(dsn: &str) -> Tls {
        split(dsn).unwrap().1
    }

    #[test]
    fn sslmode_decides_whether_tls_is_tried_required_and_checked() {
        let cases = [
            ("host=h", SslMode::Prefer, Tp::Prefer, Check::Nothing),
            (
                "host=h sslmode=disable",
                SslMode::Disable,
                Tp::Disable,
                Check::Nothing,
            ),
            (
                "host=h sslmode=allow",
                SslMode::Allow,
                Tp::Prefer,
                Check::Nothing,
            ),
            (
                "host=h sslmode=require",
                SslMode::Require,
                Tp::Require,
                Check::Nothing,
            ),
            (
                "host=h sslmode=require sslrootcert=/r.crt",
                SslMode::Require,
                Tp::Require,
                Check::Chain,
            ),
            (
                "host=h sslmode=verify-ca sslrootcert=/r.crt",
                SslMode::VerifyCa,
                Tp::Require,
                Check::Chain,
            ),
            (
                "host=h sslmode = verify-full sslrootcert='/my certs/r.crt'",
                SslMode::VerifyFull,
                Tp::Require,
                Check::ChainAndName,
            ),
            (
                "postgres://u@h/db?sslmode=verify-full&sslrootcert=%2Fr.crt&application_name=x",
                SslMode::VerifyFull,
                Tp::Require,
                Check::ChainAndName,
            ),
        ];
        for (dsn, mode, negotiation, check) in cases {
            let (config, tls) = split(dsn).unwrap();
            assert_eq!(tls.mode, mode, "{dsn}");
            assert_eq!(config.get_ssl_mode(), negotiation, "{dsn}");
            assert_eq!(tls.check(), check, "{dsn}");
        }
        assert_eq!(
            tls("host=h sslmode=verify-full sslrootcert='/my certs/r.crt'").root_cert,
            Some(PathBuf::from("/my certs/r.crt"))
        );
        assert_eq!(
            tls("postgres://u@h/db?sslrootcert=%2Fr.crt&sslmode=verify-ca").root_cert,
            Some(PathBuf::from("/r.crt"))
        );
    }

    #[test]
    fn the_rest_of_the_string_reaches_tokio_postgres_intact() {
        let (config, _) = split(
            r"host=db port=5433 user=dash password='a \'q\' \\ x' sslmode=require dbname=shop",
        )
        .unwrap();
        assert_eq!(config.get_password(), Some(&br"a 'q' \ x"[..]));
        assert_eq!(config.get_dbname(), Some("shop"));
        assert_eq!(config.get_user(), Some("dash"));
        assert_eq!(config.get_ports(), &[5433]);
        let (config, _) = split("host=db password=it\\'s dbname=shop").unwrap();
        assert_eq!(config.get_password(), Some(&b"it's"[..]));
        let (config, _) = split("host=db password='a b\\'c' dbname=shop").unwrap();
        assert_eq!(config.get_password(), Some(&b"a b'c"[..]));
        let (config, _) =
            split("postgres://dash:pw@db:5433/shop?sslmode=require&connect_timeout=3").unwrap();
        assert_eq!(config.get_dbname(), Some("shop"));
        assert_eq!(
            config.get_connect_timeout(),
            Some(&std::time::Duration::from_secs(3))
        );
        assert_eq!(config.get_ssl_mode(), Tp::Require);
    }

    #[test]
    fn what_cannot_be_honoured_is_refused() {
        let err = |dsn: &str| split(dsn).unwrap_err();
        assert!(err("host=h sslmode=verify-full").contains("needs sslrootcert"));
        assert!(err("host=h sslmode=verify-ca").contains("needs sslrootcert"));
        assert!(err("host=h sslmode=always").contains("is not one of"));
        assert!(err("host=h sslcert=/c.crt sslkey=/c.key").contains("client certificates"));
        assert!(err("postgres://h/db?sslkey=%2Fk").contains("client certificates"));
        assert!(err("host=h password='open").contains("unterminated"));
        assert!(err("host").contains("a word without \"=\""));
        let Err(e) = connector(&Tls {
            mode: SslMode::VerifyFull,
            root_cert: Some("/nonexistent/root.crt".into()),
        }) else {
            panic!("a missing root certificate was accepted")
        };
        assert!(
            e.contains("cannot read sslrootcert /nonexistent/root.crt"),
            "{e}"
        );
    }
}
