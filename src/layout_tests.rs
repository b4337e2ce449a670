//! The code layout's rules, checked: SQL lives in `sql/<module path>/` and only that module
//! (or one below it) includes it; the install scripts are in `sql/schema/`, the upgrade
//! scripts `sql/optischema--<from>--<to>.sql`; no SQL file is left unused. See the README's "Code layout".

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn files(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, ext, out);
        } else if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
}

/// Each `include_str!("…sql/<path>")` in the source: the including module and `<path>`.
fn inclusions(root: &Path) -> Vec<(String, String)> {
    let mut sources = Vec::new();
    files(&root.join("src"), "rs", &mut sources);
    let mut out = Vec::new();
    for source in sources {
        let text = std::fs::read_to_string(&source).unwrap();
        let module = source
            .strip_prefix(root.join("src"))
            .unwrap()
            .with_extension("")
            .to_string_lossy()
            .trim_end_matches("/mod")
            .to_string();
        for part in text.split("sql/").skip(1) {
            let Some(end) = part.find(".sql\"") else {
                continue;
            };
            let path = &part[..end + 4];
            if !path.contains(char::is_whitespace) {
                out.push((module.clone(), path.to_string()));
            }
        }
    }
    out
}

#[test]
fn sql_files_live_with_the_module_that_runs_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let included = inclusions(root);
    for (module, path) in &included {
        let folder = Path::new(path)
            .parent()
            .unwrap()
            .to_string_lossy()
            .to_string();
        let owned = module == &folder || module.starts_with(&format!("{folder}/"));
        // the install scripts are read by the extension's entry point, in install order
        let schema = folder == "schema" && module == "lib";
        assert!(
            owned || schema,
            "src/{module}.rs includes sql/{path}: move it to sql/{module}/ or call the module that owns it"
        );
    }
    let used: BTreeSet<&str> = included.iter().map(|(_, p)| p.as_str()).collect();
    let mut sql = Vec::new();
    files(&root.join("sql"), "sql", &mut sql);
    for file in sql {
        let path = file
            .strip_prefix(root.join("sql"))
            .unwrap()
            .to_string_lossy()
            .to_string();
        // upgrade scripts are run by ALTER EXTENSION ... UPDATE, not by a module
        if path.starts_with("optischema--") {
            continue;
        }
        assert!(used.contains(path.as_str()), "sql/{path} is not used");
    }
    assert!(included.len() > 50, "{} inclusions found", included.len());
}
