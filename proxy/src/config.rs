//! What the proxy serves and where: from the command line or a JSON file.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// One database the dashboard shows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Database {
    pub name: String,
    /// Connection string of a role with `optischema_reader` only.
    pub dsn: String,
    /// Connection string of a role with `optischema_admin`, for trial, apply, revert and dismiss.
    #[serde(default)]
    pub admin_dsn: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    pub ui: PathBuf,
    pub databases: Vec<Database>,
    /// Bearer token that actions need; None: the dashboard is read-only.
    pub admin_token: Option<String>,
    /// Bearer token every API route and `/ws` need; None: they are open to whoever reaches
    /// the proxy.
    pub read_token: Option<String>,
    /// Host names requests may use besides IP addresses and localhost (`--allowed-host`).
    pub allowed_hosts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    ui: Option<PathBuf>,
    admin_token_file: Option<PathBuf>,
    token_file: Option<PathBuf>,
    databases: Vec<Database>,
    #[serde(default)]
    allowed_hosts: Vec<String>,
}

pub const USAGE: &str =
    "usage: optischema-proxy --dsn [NAME=]DSN [--dsn ...] [--admin-dsn [NAME=]DSN ...]
                        [--admin-token-file FILE] [--token-file FILE]
                        [--listen ADDR] [--ui DIR]
                        [--allowed-host NAME ...]
       optischema-proxy --config FILE.json

  --dsn          a database to show, as a libpq connection string or URI, for a role with
                 optischema_reader only; NAME defaults to its dbname. env:VAR or file:PATH
                 instead of the DSN: the DSN is in that environment variable or file, so
                 that its password is not on the command line
  --admin-dsn    a connection for NAME's actions (trial, apply, revert, dismiss), for a role
                 with optischema_admin
  --admin-token-file
                 file holding the bearer token actions need (or OPTISCHEMA_ADMIN_TOKEN);
                 without it and an admin DSN the dashboard is read-only
  --token-file   file holding the token every API route and /ws need (or
                 OPTISCHEMA_PROXY_TOKEN); without it they are open to whoever reaches the proxy
  --listen       address to serve on (default 127.0.0.1:8080)
  --ui           directory of the static dashboard (default ./ui)
  --allowed-host a host name the dashboard is served under (behind a reverse proxy, say);
                 IP addresses and localhost are always accepted, other names refused";

/// Keywords of libpq connection strings: `host=...` is a DSN, not a name.
const LIBPQ_KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "connect_timeout",
    "options",
    "application_name",
    "sslmode",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "target_session_attrs",
    "channel_binding",
];

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `[NAME=]DSN` split into the name (when given) and the connection string.
pub fn named_dsn(arg: &str) -> Result<(Option<String>, String), String> {
    let arg = arg.trim();
    let is_uri = |s: &str| s.starts_with("postgres://") || s.starts_with("postgresql://");
    if is_uri(arg) || is_reference(arg) {
        return Ok((None, arg.to_string()));
    }
    let Some((head, rest)) = arg.split_once('=') else {
        return Err(format!("not a connection string: {}", redact(arg)));
    };
    let head = head.trim();
    if LIBPQ_KEYWORDS.contains(&head) {
        return Ok((None, arg.to_string()));
    }
    if !valid_name(head) {
        return Err(format!(
            "a database name is letters, digits, '_' and '-' (at most 63): {head:?}"
        ));
    }
    if rest.trim().is_empty() {
        return Err(format!("no connection string after {head}="));
    }
    Ok((Some(head.to_string()), rest.trim().to_string()))
}

/// The database a connection string names, for a database given without a name.
pub fn dbname_of(dsn: &str) -> Option<String> {
    let (config, _) = crate::pgconn::split(dsn).ok()?;
    config
        .get_dbname()
        .map(str::to_string)
        .or_else(|| config.get_user().map(str::to_string))
}

/// A connection string with any password replaced, for messages.
pub fn redact(dsn: &str) -> String {
    if let Some(scheme_end) = dsn.find("://") {
        let rest = &dsn[scheme_end + 3..];
        if let Some(at) = rest.find('@') {
            let userinfo = &rest[..at];
            if let Some(colon) = userinfo.find(':') {
                return format!(
                    "{}{}:***{}",
                    &dsn[..scheme_end + 3],
                    &userinfo[..colon],
                    &rest[at..]
                );
            }
        }
        return dsn.to_string();
    }
    dsn.split_whitespace()
        .map(|kv| {
            if kv.starts_with("password=") {
                "password=***".to_string()
            } else {
                kv.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A token from its file, or else the environment's; `what` names it in errors.
fn token(
    what: &str,
    file: Option<&std::path::Path>,
    env: Option<String>,
) -> Result<Option<String>, String> {
    let token = match (file, env) {
        (Some(path), _) => std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the {what} file {}: {e}", path.display()))?
            .trim()
            .to_string(),
        (None, Some(t)) => t,
        (None, None) => return Ok(None),
    };
    if token.len() < 16 {
        return Err(format!("the {what} must be at least 16 characters"));
    }
    Ok(Some(token))
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| format!("--listen takes ADDRESS:PORT, such as 127.0.0.1:8080, not {s:?}"))
}

/// A process's environment, as `std::env::var` would give it.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A connection string as given: itself, or the one in environment variable VAR (`env:VAR`) or
/// in a file (`file:PATH`, a mounted secret say), so that no password need be on the command
/// line, where `ps` shows it.
pub fn resolve(given: String, env: Env) -> Result<String, String> {
    if let Some(var) = given.strip_prefix("env:") {
        return env(var)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("environment variable {var} (from env:{var}) is not set"));
    }
    if let Some(path) = given.strip_prefix("file:") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the connection string file {path}: {e}"))?;
        let text = text.trim();
        if text.is_empty() {
            return Err(format!("the connection string file {path} is empty"));
        }
        return Ok(text.to_string());
    }
    Ok(given)
}

fn is_reference(arg: &str) -> bool {
    arg.starts_with("env:") || arg.starts_with("file:")
}

/// The configuration from the command line (`args` without the program name) and the
/// environment: `OPTISCHEMA_ADMIN_TOKEN`, `OPTISCHEMA_PROXY_TOKEN` and the variables that
/// `env:VAR` connection strings name.
pub fn from_args(args: &[String], env: Env) -> Result<Config, String> {
    let env_token = env("OPTISCHEMA_ADMIN_TOKEN").filter(|t| !t.is_empty());
    let env_read_token = env("OPTISCHEMA_PROXY_TOKEN").filter(|t| !t.is_empty());
    let mut listen = "127.0.0.1:8080".to_string();
    let mut ui = PathBuf::from("ui");
    let mut dsns: Vec<(Option<String>, String)> = Vec::new();
    let mut admin: Vec<(Option<String>, String)> = Vec::new();
    let mut token_file: Option<PathBuf> = None;
    let mut read_token_file: Option<PathBuf> = None;
    let mut config_file: Option<PathBuf> = None;
    let mut allowed_hosts: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--dsn" => dsns.push(named_dsn(&value()?)?),
            "--admin-dsn" => admin.push(named_dsn(&value()?)?),
            "--admin-token-file" => token_file = Some(PathBuf::from(value()?)),
            "--token-file" => read_token_file = Some(PathBuf::from(value()?)),
            "--listen" => listen = value()?,
            "--ui" => ui = PathBuf::from(value()?),
            "--allowed-host" => allowed_hosts.push(value()?),
            "--config" => config_file = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if let Some(path) = config_file {
        if !dsns.is_empty() || !admin.is_empty() {
            return Err("give databases either with --dsn or in --config, not both".into());
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut file: File =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let admin_token = token("admin token", file.admin_token_file.as_deref(), env_token)?;
        let read_token = token(
            "read token",
            file.token_file.as_deref().or(read_token_file.as_deref()),
            env_read_token,
        )?;
        for d in &mut file.databases {
            if !valid_name(&d.name) {
                return Err(format!("database name {:?} is not valid", d.name));
            }
            d.dsn = resolve(std::mem::take(&mut d.dsn), env)?;
            d.admin_dsn = d.admin_dsn.take().map(|a| resolve(a, env)).transpose()?;
        }
        return finish(Config {
            listen: parse_listen(file.listen.as_deref().unwrap_or(&listen))?,
            ui: file.ui.unwrap_or(ui),
            databases: file.databases,
            admin_token,
            read_token,
            allowed_hosts: if file.allowed_hosts.is_empty() {
                allowed_hosts
            } else {
                file.allowed_hosts
            },
        });
    }
    if dsns.is_empty() {
        return Err(format!("no database given\n{USAGE}"));
    }
    let mut databases: Vec<Database> = Vec::new();
    for (i, (name, dsn)) in dsns.into_iter().enumerate() {
        let dsn = resolve(dsn, env)?;
        let name = name
            .or_else(|| dbname_of(&dsn))
            .unwrap_or_else(|| format!("db{}", i + 1));
        databases.push(Database {
            name,
            dsn,
            admin_dsn: None,
        });
    }
    for (name, dsn) in admin {
        let target = match name {
            Some(n) => n,
            None if databases.len() == 1 => databases[0].name.clone(),
            None => return Err(
                "with several databases, name the one an --admin-dsn is for: --admin-dsn NAME=DSN"
                    .into(),
            ),
        };
        let db = databases
            .iter_mut()
            .find(|d| d.name == target)
            .ok_or_else(|| format!("--admin-dsn names {target:?}, which no --dsn gives"))?;
        db.admin_dsn = Some(resolve(dsn, env)?);
    }
    finish(Config {
        listen: parse_listen(&listen)?,
        ui,
        databases,
        admin_token: token("admin token", token_file.as_deref(), env_token)?,
        read_token: token("read token", read_token_file.as_deref(), env_read_token)?,
        allowed_hosts,
    })
}

fn finish(config: Config) -> Result<Config, String> {
    if config.databases.is_empty() {
        return Err("no database given".into());
    }
    for (i, d) in config.databases.iter().enumerate() {
        if config.databases[..i].iter().any(|o| o.name == d.name) {
            return Err(format!(
                "two databases are named {:?}: name them with --dsn NAME=DSN",
                d.name
            ));
        }
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    /// An environment holding `vars` only.
    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_dsn_may_be_named_or_take_its_dbname() {
        assert_eq!(
            named_dsn("host=127.0.0.1 port=5432 dbname=shop").unwrap(),
            (None, "host=127.0.0.1 port=5432 dbname=shop".into())
        );
        assert_eq!(
            named_dsn("shop=host=127.0.0.1 dbname=x").unwrap(),
            (Some("shop".into()), "host=127.0.0.1 dbname=x".into())
        );
        assert_eq!(
            named_dsn("eu-1=postgres://u@h/db").unwrap(),
            (Some("eu-1".into()), "postgres://u@h/db".into())
        );
        assert_eq!(
            named_dsn("postgresql://u@h/db").unwrap(),
            (None, "postgresql://u@h/db".into())
        );
        assert!(named_dsn("bad name=host=x").is_err());
        assert!(named_dsn("shop=").is_err());
        assert!(named_dsn("nothing").is_err());
        assert_eq!(dbname_of("host=h dbname=shop").as_deref(), Some("shop"));
        assert_eq!(
            dbname_of("postgres://u@h/inventory").as_deref(),
            Some("inventory")
        );
        assert_eq!(
            dbname_of("host=h dbname=shop sslmode=verify-full sslrootcert=/r.crt").as_deref(),
            Some("shop")
        );
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("host=h password=s3cret user=u"),
            "host=h password=*** user=u"
        );
        assert_eq!(
            redact("postgres://alice:s3cret@db:5432/shop"),
            "postgres://alice:***@db:5432/shop"
        );
        assert_eq!(
            redact("postgres://alice@db/shop"),
            "postgres://alice@db/shop"
        );
    }

    #[test]
    fn the_command_line_gives_databases_admin_connections_and_the_listen_address() {
        let c = from_args(
            &args(&[
                "--dsn",
                "host=h dbname=shop user=reader",
                "--dsn",
                "eu=host=e dbname=shop user=reader",
                "--admin-dsn",
                "eu=host=e dbname=shop user=dba",
                "--listen",
                "0.0.0.0:9000",
            ]),
            &env(&[("OPTISCHEMA_ADMIN_TOKEN", "0123456789abcdef")]),
        )
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(c.databases.len(), 2);
        assert_eq!(c.databases[0].name, "shop");
        assert_eq!(c.databases[0].admin_dsn, None);
        assert_eq!(c.databases[1].name, "eu");
        assert_eq!(
            c.databases[1].admin_dsn.as_deref(),
            Some("host=e dbname=shop user=dba")
        );
        assert_eq!(c.admin_token.as_deref(), Some("0123456789abcdef"));
        // defaults: loopback, read-only
        let c = from_args(&args(&["--dsn", "dbname=shop"]), &no_env).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(c.admin_token, None);
        assert_eq!(c.read_token, None);
    }

    #[test]
    fn bad_command_lines_say_what_is_wrong() {
        let err = |a: &[&str]| from_args(&args(a), &no_env).unwrap_err();
        assert!(err(&[]).contains("no database given"));
        assert!(err(&["--dsn"]).contains("--dsn needs a value"));
        assert!(err(&["--dsn", "dbname=a", "--bogus"]).contains("unknown argument \"--bogus\""));
        assert!(err(&["--dsn", "dbname=a", "--dsn", "dbname=a"])
            .contains("two databases are named \"a\""));
        assert!(err(&["--dsn", "dbname=a", "--admin-dsn", "b=dbname=a"])
            .contains("which no --dsn gives"));
        assert!(err(&["--dsn", "dbname=a", "--listen", "localhost"]).contains("ADDRESS:PORT"));
        assert!(from_args(
            &args(&["--dsn", "dbname=a"]),
            &env(&[("OPTISCHEMA_ADMIN_TOKEN", "short")])
        )
        .unwrap_err()
        .contains("the admin token must be at least 16"));
        assert!(from_args(
            &args(&["--dsn", "dbname=a"]),
            &env(&[("OPTISCHEMA_PROXY_TOKEN", "short")])
        )
        .unwrap_err()
        .contains("the read token must be at least 16"));
        assert!(
            err(&["--dsn", "dbname=a", "--token-file", "/nonexistent/token"])
                .contains("cannot read the read token file /nonexistent/token")
        );
    }

    #[test]
    fn connection_strings_may_come_from_the_environment_or_a_file() {
        let dir = std::env::temp_dir().join(format!("optischema-proxy-dsn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = dir.join("admin-dsn");
        std::fs::write(&secret, "host=h dbname=shop user=dba password=s3cret\n").unwrap();
        let admin = format!("file:{}", secret.display());
        let vars = env(&[("SHOP_DSN", "host=h dbname=shop user=dash password=hunter2")]);
        let c = from_args(
            &args(&["--dsn", "env:SHOP_DSN", "--admin-dsn", &admin]),
            &vars,
        )
        .unwrap();
        assert_eq!(c.databases[0].name, "shop", "named after the DSN's dbname");
        assert_eq!(
            c.databases[0].dsn,
            "host=h dbname=shop user=dash password=hunter2"
        );
        assert_eq!(
            c.databases[0].admin_dsn.as_deref(),
            Some("host=h dbname=shop user=dba password=s3cret")
        );
        let c = from_args(&args(&["--dsn", "eu=env:SHOP_DSN"]), &vars).unwrap();
        assert_eq!(c.databases[0].name, "eu");
        let err = |a: &[&str]| from_args(&args(a), &vars).unwrap_err();
        assert!(err(&["--dsn", "env:NOT_SET"])
            .contains("environment variable NOT_SET (from env:NOT_SET) is not set"));
        assert!(err(&["--dsn", "file:/nonexistent/dsn"])
            .contains("cannot read the connection string file /nonexistent/dsn"));
        // a config file's connection strings too
        let file = dir.join("proxy.json");
        std::fs::write(
            &file,
            r#"{"databases": [{"name": "shop", "dsn": "env:SHOP_DSN"}]}"#,
        )
        .unwrap();
        let c = from_args(&args(&["--config", file.to_str().unwrap()]), &vars).unwrap();
        assert_eq!(
            c.databases[0].dsn,
            "host=h dbname=shop user=dash password=hunter2"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_read_token_comes_from_its_file_before_the_environment() {
        let dir = std::env::temp_dir().join(format!(
            "optischema-proxy-read-token-{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("token");
        std::fs::write(&file, "from-the-file-0123456789\n").unwrap();
        let c = from_args(
            &args(&["--dsn", "dbname=a", "--token-file", file.to_str().unwrap()]),
            &env(&[("OPTISCHEMA_PROXY_TOKEN", "from-the-environment-0123")]),
        )
        .unwrap();
        assert_eq!(c.read_token.as_deref(), Some("from-the-file-0123456789"));
        let c = from_args(
            &args(&["--dsn", "dbname=a"]),
            &env(&[("OPTISCHEMA_PROXY_TOKEN", "from-the-environment-0123")]),
        )
        .unwrap();
        assert_eq!(c.read_token.as_deref(), Some("from-the-environment-0123"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_config_file_lists_the_databases() {
        let dir =
            std::env::temp_dir().join(format!("optischema-proxy-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let token = dir.join("token");
        std::fs::write(&token, "  a-long-enough-token \n").unwrap();
        let file = dir.join("proxy.json");
        std::fs::write(
            &file,
            format!(
                r#"{{"listen": "127.0.0.1:7000", "admin_token_file": "{}",
                    "databases": [{{"name": "shop", "dsn": "dbname=shop", "admin_dsn": "dbname=shop user=dba"}}]}}"#,
                token.display()
            ),
        )
        .unwrap();
        let c = from_args(&args(&["--config", file.to_str().unwrap()]), &no_env).unwrap();
        assert_eq!(c.listen, "127.0.0.1:7000".parse().unwrap());
        assert_eq!(c.admin_token.as_deref(), Some("a-long-enough-token"));
        assert_eq!(
            c.databases[0].admin_dsn.as_deref(),
            Some("dbname=shop user=dba")
        );
        std::fs::write(&file, r#"{"databases": [], "colour": "red"}"#).unwrap();
        assert!(
            from_args(&args(&["--config", file.to_str().unwrap()]), &no_env)
                .unwrap_err()
                .contains("unknown field")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
