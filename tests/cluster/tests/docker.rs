//! docker/: there is no container engine here, so the compose file is checked with Debian's
//! compose client and the image's build steps (docker/build.sh) run on this machine.

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

fn compose_config(env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new("docker-compose");
    command
        .args(["-f", "docker/compose.yaml", "config"])
        .current_dir(repo());
    for var in [
        "POSTGRES_PASSWORD",
        "DASHBOARD_PASSWORD",
        "DASHBOARD_ADMIN_PASSWORD",
        "SANDBOX_PASSWORD",
    ] {
        command.env_remove(var);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command
        .output()
        .expect("docker-compose (apt-get install docker-compose)")
}

#[test]
fn the_compose_file_is_valid_and_publishes_on_loopback_only() {
    let out = compose_config(&[
        ("POSTGRES_PASSWORD", "pw-db"),
        ("DASHBOARD_PASSWORD", "pw-dash"),
        ("DASHBOARD_ADMIN_PASSWORD", "pw-admin"),
        ("SANDBOX_PASSWORD", "pw-sandbox"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = String::from_utf8(out.stdout).unwrap();
    for service in ["  db:", "  sandbox:", "  proxy:"] {
        assert!(config.contains(service), "no {service} in\n{config}");
    }
    assert!(
        config.contains("target: db") && config.contains("target: proxy"),
        "{config}"
    );
    assert!(
        config.contains("pgdata:"),
        "the database keeps its data on a volume"
    );
    assert!(
        config.contains("127.0.0.1:5432:5432") || config.contains("host_ip: 127.0.0.1"),
        "{config}"
    );
    assert!(
        config.contains("127.0.0.1:8080:8080") || config.contains("published: 8080"),
        "{config}"
    );
    assert!(!config.contains("0.0.0.0:"), "{config}");
    assert!(
        config.contains("user=optischema_dashboard password=pw-dash"),
        "{config}"
    );
    // passwords are required, not defaulted
    let out = compose_config(&[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("set POSTGRES_PASSWORD"));
}

#[test]
fn the_image_build_steps_produce_the_extension_and_the_proxy() {
    let out_dir =
        std::env::temp_dir().join(format!("optischema-docker-build-{}", std::process::id()));
    let out = Command::new("bash")
        .arg("docker/build.sh")
        .arg(&out_dir)
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ext = out_dir.join("extension/usr");
    let library = ext.join("lib/postgresql/15/lib/optischema.so");
    assert!(std::fs::metadata(&library).unwrap().len() > 1_000_000);
    let control =
        std::fs::read_to_string(ext.join("share/postgresql/15/extension/optischema.control"))
            .unwrap();
    assert!(control.contains("default_version = '0.2.0'"), "{control}");
    let script =
        std::fs::read_to_string(ext.join("share/postgresql/15/extension/optischema--0.2.0.sql"))
            .unwrap();
    assert!(script.contains("CREATE TABLE optischema.action_log"));
    // an install of the image updates in place from the version before
    let upgrade = std::fs::read_to_string(
        ext.join("share/postgresql/15/extension/optischema--0.1.0--0.2.0.sql"),
    )
    .unwrap();
    assert!(upgrade.contains("ALTER TABLE optischema.action_log"));
    let proxy = Command::new(out_dir.join("bin/optischema-proxy"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(proxy.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&proxy.stderr).contains("usage: optischema-proxy"));
    std::fs::remove_dir_all(&out_dir).unwrap();
}
