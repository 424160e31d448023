//! The real binary, as an operator or a cron job runs it: configuration
//! mistakes are named, `check` prints JSON with observation times, and its
//! exit code says what it found.

mod support;

use std::process::{Command, Output};

fn kdrill(args: &[&str]) -> Output {
    match Command::new(env!("CARGO_BIN_EXE_kdrill")).args(args).env_remove("KDRILL_CONFIG").output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run kdrill: {e}"),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_bad_config_names_the_file_and_key_and_exits_2() {
    let dir = std::env::temp_dir().join(support::unique("kdrill-cli"));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("bad.toml");
    let written = std::fs::write(
        &path,
        "[clusters.dc]\nbootstrap = \"127.0.0.1:1\"\n[clusters.dr]\nbootstrap = \"127.0.0.1:2\"\n[timing]\nhold_window = \"soon\"\n",
    );
    assert!(written.is_ok());
    let path_arg = path.display().to_string();
    let out = kdrill(&["check", "--config", &path_arg]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("bad.toml") && err.contains("hold_window"), "the error names file and key: {err}");

    let out = kdrill(&["check", "--config", "/nonexistent/kdrill.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/nonexistent/kdrill.toml"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_secret_in_the_environment_never_reaches_the_output() {
    let dir = std::env::temp_dir().join(support::unique("kdrill-cli"));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("secret.toml");
    let cfg = "[clusters.dc]\nbootstrap = \"127.0.0.1:1\"\n[clusters.dc.properties]\n\"sasl.username\" = \"u\"\n\
               [clusters.dc.secrets]\n\"sasl.password\" = { env = \"KDRILL_CLI_TEST_PW\" }\n\
               [clusters.dr]\nbootstrap = \"127.0.0.1:2\"\n[timing]\npoll_interval = \"1s\"\nstale_after = \"3s\"\n";
    assert!(std::fs::write(&path, cfg).is_ok());
    let path_arg = path.display().to_string();
    let out = match Command::new(env!("CARGO_BIN_EXE_kdrill"))
        .args(["check", "--json", "--settle", "2s", "--config", &path_arg])
        .env("KDRILL_CLI_TEST_PW", "s3cr3t-hunter2")
        .output()
    {
        Ok(o) => o,
        Err(e) => panic!("cannot run kdrill: {e}"),
    };
    // Nothing listens on those ports: the pair cannot be observed.
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let all = text(&out.stdout) + &text(&out.stderr);
    assert!(!all.contains("s3cr3t-hunter2"), "the secret leaked: {all}");
}

#[test]
fn check_on_the_demo_world_reports_the_steady_state() {
    let out = kdrill(&["check", "--demo", "--json", "--settle", "4s"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = match serde_json::from_slice(&out.stdout) {
        Ok(v) => v,
        Err(e) => panic!("not JSON ({e}): {}", text(&out.stdout)),
    };
    assert_eq!(json["sides"][0]["role"], "ACTIVE");
    assert_eq!(json["sides"][1]["role"], "PASSIVE");
    assert!(json["sides"][0]["observed_at"].is_string(), "every figure carries when it was observed");
    assert_eq!(json["mm2"][0]["health"], "healthy");
    assert!(json["violations"].as_array().is_some_and(|v| v.is_empty()));
}

#[test]
fn check_against_the_lab_sees_the_real_pair() {
    support::lab();
    let _lock = support::shared();
    let config = support::lab_example_file();
    let out = kdrill(&["check", "--config", &config.to_string_lossy(), "--json", "--settle", "6s"]);
    let stdout = text(&out.stdout);
    let json: serde_json::Value = match serde_json::from_str(&stdout) {
        Ok(v) => v,
        // The status says a signal where the process died of one.
        Err(e) => panic!("not JSON ({e}), kdrill {}: {stdout}\n{}", out.status, text(&out.stderr)),
    };
    assert!(json["sides"][0]["reachable"].as_bool() == Some(true), "{stdout}");
    assert!(json["sides"][1]["reachable"].as_bool() == Some(true), "{stdout}");
    let dc_dr = json["mm2"].as_array().and_then(|m| m.iter().find(|m| m["flow"] == "DC→DR")).cloned();
    assert!(dc_dr.as_ref().is_some_and(|m| m["workers_alive"].as_u64().is_some_and(|n| n >= 1)), "{stdout}");
    assert!(
        dc_dr.as_ref().is_some_and(|m| m["connectors"].as_array().is_some_and(|c| c.len() >= 3)),
        "connectors from the real status topic: {stdout}"
    );
    // The lab as `scripts/lab up` leaves it: rules hold (0) or a lag or rule
    // finding (1); never "could not observe" (2).
    assert!(matches!(out.status.code(), Some(0 | 1)), "exit {:?}: {stdout}", out.status.code());
}
