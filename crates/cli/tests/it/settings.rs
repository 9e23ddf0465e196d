//! Issue 13 item 6: one settings source. A flag beats its `KEYBOUND_*`
//! variable, which beats the `--config` file; the file's unknown keys are
//! refused; each subcommand takes only the flags it uses, while one file
//! with every key serves them all.

use super::*;

/// Runs `keybound ARGS --data-dir DIR` with `env` set; (exit code,
/// stdout, stderr).
fn run_with(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env_remove("KEYBOUND_DATABASE_URL")
        .env_remove("KEYBOUND_ORIGIN")
        .env_remove("KEYBOUND_CONFIG")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_flag_beats_its_variable_which_beats_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keybound.toml");
    // An RP ID that covers every origin below: `admin invite` checks the
    // site its link is made of as `serve` does.
    std::fs::write(
        &file,
        "rp_id = \"example\"\norigins = [\"https://file.example\"]\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    assert_eq!(run_with(dir.path(), &["init"], &[]).0, 0);
    let link = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["admin", "invite", "ada", "--config", config];
        args.extend_from_slice(extra);
        let (code, out, err) = run_with(dir.path(), &args, env);
        assert_eq!(code, 0, "{err}");
        out
    };
    let variable = [("KEYBOUND_ORIGIN", "https://env.example")];
    assert!(link(&[], &[]).starts_with("https://file.example/enroll?token="));
    assert!(link(&[], &variable).starts_with("https://env.example/enroll?token="));
    assert!(link(&["--origin", "https://flag.example"], &variable)
        .starts_with("https://flag.example/enroll?token="));
    // With neither, the default (from the listen address and RP ID).
    let (_, out, _) = run_with(dir.path(), &["admin", "invite", "bob"], &[]);
    assert!(
        out.starts_with("http://localhost:8080/enroll?token="),
        "{out}"
    );
}

#[test]
fn an_unknown_file_key_is_refused_with_where_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keybound.toml");
    std::fs::write(&file, "rp_id = \"example.com\"\ncolour = \"blue\"\n").unwrap();
    for command in [&["admin", "users"][..], &["audit", "verify"], &["serve"]] {
        let mut args = command.to_vec();
        args.extend(["--config", file.to_str().unwrap()]);
        let (code, _, err) = run_with(dir.path(), &args, &[]);
        assert_eq!(code, 1, "{command:?}");
        assert!(err.contains("keybound.toml"), "{err}");
        assert!(err.contains("line 2, column 1"), "{err}");
        assert!(err.contains("unknown field `colour`"), "{err}");
        assert!(err.contains("`rate_limit_per_minute`"), "{err}");
    }
}

#[test]
fn each_subcommand_takes_only_its_flags_and_every_file_key() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run_with(
        dir.path(),
        &["admin", "users", "--rate-limit-per-minute", "5"],
        &[],
    );
    assert_eq!(code, 2, "a usage error: {err}");
    assert!(
        err.contains("unexpected argument '--rate-limit-per-minute'"),
        "{err}"
    );
    for refused in [
        &["audit", "verify", "--origin", "https://a.example"][..],
        &["admin", "users", "--origin", "https://a.example"],
        &["admin", "credentials", "ada", "--mds-root", "root.der"],
        &["mds", "show", "x", "--mds-url", "https://mds.example/"],
        &["mds", "import", "blob.jwt", "--open-registration"],
        &["admin", "invite", "ada", "--max-connections", "8"],
    ] {
        let (code, _, err) = run_with(dir.path(), refused, &[]);
        assert_eq!(code, 2, "{refused:?}: {err}");
    }

    // One file for every subcommand: a key a command does not use is
    // accepted (and checked), not refused.
    assert_eq!(run_with(dir.path(), &["init"], &[]).0, 0);
    let file = dir.path().join("keybound.toml");
    std::fs::write(
        &file,
        "rate_limit_per_minute = 5\nmax_connections = 8\nopen_registration = true\n\
         mds_url = \"https://mds.example/\"\nrp_id = \"example.com\"\n",
    )
    .unwrap();
    let config = file.to_str().unwrap();
    for command in [
        &["admin", "users"][..],
        &["admin", "invite", "ada"],
        &["audit", "verify"],
    ] {
        let mut args = command.to_vec();
        args.extend(["--config", config]);
        let (code, _, err) = run_with(dir.path(), &args, &[]);
        assert_eq!(code, 0, "{command:?}: {err}");
    }
    // Nor is a variable for a setting the command does not take read.
    let (code, _, err) = run_with(
        dir.path(),
        &["admin", "users"],
        &[("KEYBOUND_RATE_LIMIT_PER_MINUTE", "many")],
    );
    assert_eq!(code, 0, "{err}");
    // The flags each command uses are there.
    for taken in [
        &[
            "admin",
            "invite",
            "cy",
            "--rp-id",
            "example.com",
            "--listen",
            "127.0.0.1:1",
        ][..],
        &["admin", "users", "--durability", "relaxed"],
        &["audit", "verify", "--durability", "relaxed"],
    ] {
        let (code, _, err) = run_with(dir.path(), taken, &[]);
        assert_eq!(code, 0, "{taken:?}: {err}");
    }
}
