//! Upgrades: every released version updates in place to the current one, and the catalog an
//! update leaves is the one a fresh install makes. The released install scripts are kept in
//! `tests/upgrade/`; the update scripts are `sql/optischema--<from>--<to>.sql`.

use optischema_cluster_tests::*;
use postgres::{Client, NoTls};
use std::path::Path;

/// Versions released before the current one, oldest first.
const RELEASED: &[&str] = &["0.1.0"];

fn current_version() -> String {
    let manifest = include_str!("../../../Cargo.toml");
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("the extension's version in Cargo.toml")
        .to_string()
}

fn connect_to(cluster: &Cluster, dbname: &str) -> Client {
    Client::connect(
        &format!(
            "host=127.0.0.1 port={} user=postgres dbname={dbname}",
            cluster.port
        ),
        NoTls,
    )
    .expect("connects")
}

/// Everything the extension is made of, one line per object and property, names only (no
/// oids, no column positions), sorted: two databases compare equal when an application could
/// not tell them apart.
fn catalog(c: &mut Client) -> Vec<String> {
    let queries = [
        // every object the extension owns
        "SELECT 'member ' || pg_describe_object(classid, objid, objsubid)
           FROM pg_depend
          WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
            AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'optischema')",
        // relations: kind, row level security, options, privileges (a NULL acl is the default)
        "SELECT format('relation %s %s rls=%s force=%s options=%s acl=%s', c.relname, c.relkind,
                       c.relrowsecurity, c.relforcerowsecurity, c.reloptions,
                       (SELECT array_agg(a ORDER BY a::text)
                          FROM unnest(coalesce(c.relacl, acldefault(
                                 (CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::\"char\", c.relowner))) a))
           FROM pg_class c WHERE c.relnamespace = 'optischema'::regnamespace",
        // columns by name, with type, nullability and default
        "SELECT format('column %s.%s %s notnull=%s default=%s', c.relname, a.attname,
                       format_type(a.atttypid, a.atttypmod), a.attnotnull,
                       pg_get_expr(d.adbin, d.adrelid))
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE c.relnamespace = 'optischema'::regnamespace AND a.attnum > 0
            AND NOT a.attisdropped",
        "SELECT format('constraint %s.%s %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
           FROM pg_constraint WHERE connamespace = 'optischema'::regnamespace",
        "SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index
          WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'optischema'::regnamespace)",
        "SELECT format('view %s %s', c.relname, pg_get_viewdef(c.oid))
           FROM pg_class c WHERE c.relnamespace = 'optischema'::regnamespace AND c.relkind = 'v'",
        "SELECT format('function %s(%s) %s secdef=%s volatile=%s config=%s src=%s acl=%s', p.proname,
                       pg_get_function_identity_arguments(p.oid), pg_get_function_result(p.oid),
                       p.prosecdef, p.provolatile, p.proconfig, md5(p.prosrc),
                       (SELECT array_agg(a ORDER BY a::text)
                          FROM unnest(coalesce(p.proacl, acldefault('f', p.proowner))) a))
           FROM pg_proc p WHERE p.pronamespace = 'optischema'::regnamespace",
        "SELECT format('policy %s.%s %s %s %s', c.relname, p.polname, p.polcmd,
                       p.polroles::regrole[], pg_get_expr(p.polqual, p.polrelid))
           FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
          WHERE c.relnamespace = 'optischema'::regnamespace",
        "SELECT format('schema acl=%s', (SELECT array_agg(a ORDER BY a::text)
                          FROM unnest(coalesce(nspacl, acldefault('n', nspowner))) a))
           FROM pg_namespace WHERE nspname = 'optischema'",
    ];
    let mut lines: Vec<String> = queries
        .iter()
        .flat_map(|q| {
            c.query(*q, &[])
                .unwrap_or_else(|e| panic!("{q}: {e}"))
                .into_iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        })
        .collect();
    lines.sort();
    lines
}

#[test]
fn every_released_version_updates_to_what_a_fresh_install_makes() {
    let current = current_version();
    let cluster = Cluster::start(&[]);
    let extension_dir = Path::new(&pg_config("--sharedir")).join("extension");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../upgrade");
    let mut c = cluster.connect();
    c.batch_execute("CREATE DATABASE fresh").unwrap();
    let mut fresh = connect_to(&cluster, "fresh");
    fresh
        .batch_execute("CREATE EXTENSION optischema CASCADE")
        .unwrap();
    let want = catalog(&mut fresh);
    assert!(want.len() > 100, "{} catalog lines", want.len());
    assert!(want
        .iter()
        .any(|l| l.starts_with("column action_log.plan jsonb notnull=t ")));

    for released in RELEASED {
        // the released install script, as that version's package installed it
        let script = format!("optischema--{released}.sql");
        std::fs::copy(fixtures.join(&script), extension_dir.join(&script)).unwrap();
        let db = format!("from_{}", released.replace('.', "_"));
        c.batch_execute(&format!("CREATE DATABASE {db}")).unwrap();
        let mut old = connect_to(&cluster, &db);
        old.batch_execute(&format!(
            "CREATE EXTENSION optischema VERSION '{released}' CASCADE"
        ))
        .unwrap();
        // what an install of that version holds: an action queued, one done
        old.batch_execute(
            "INSERT INTO optischema.recommendation_store (fingerprint, kind, title, sql, explanation, confidence)
             VALUES ('i', 'index', 'an index', 'CREATE INDEX CONCURRENTLY ON public.t (a)', 'x', 0.5);
             INSERT INTO optischema.action_log (recommendation_id, mode, steps, status)
             SELECT id, 'apply', '{\"CREATE INDEX CONCURRENTLY optischema_rec_1 ON public.t (a)\"}', s
               FROM optischema.recommendation_store, (VALUES ('done'), ('queued')) v(s);",
        )
        .unwrap();
        let before = catalog(&mut old);
        assert_ne!(before, want, "{released} already looks like {current}");
        old.batch_execute(&format!("ALTER EXTENSION optischema UPDATE TO '{current}'"))
            .unwrap();
        let version: String = old
            .query_one(
                "SELECT extversion FROM pg_extension WHERE extname = 'optischema'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(version, current);
        let got = catalog(&mut old);
        let missing: Vec<_> = want.iter().filter(|l| !got.contains(l)).collect();
        let extra: Vec<_> = got.iter().filter(|l| !want.contains(l)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{released} -> {current} differs from a fresh install\nmissing: {missing:#?}\nextra: {extra:#?}"
        );
        // the rows are kept; an action queued before the update is failed, not run as nothing
        let rows: Vec<(String, Option<String>, String)> = old
            .query(
                "SELECT status, error, plan::text FROM optischema.action_log ORDER BY id",
                &[],
            )
            .unwrap()
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0, "done");
        assert_eq!(rows[1].0, "failed");
        assert!(rows[1].1.as_deref().unwrap().contains("apply it again"));
        assert!(rows.iter().all(|r| r.2 == "[]"));
        std::fs::remove_file(extension_dir.join(&script)).unwrap();
    }
}

fn pg_config(arg: &str) -> String {
    let pg_config = std::env::var("PG_CONFIG")
        .unwrap_or_else(|_| "/usr/lib/postgresql/15/bin/pg_config".into());
    let out = std::process::Command::new(pg_config)
        .arg(arg)
        .output()
        .expect("pg_config runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
