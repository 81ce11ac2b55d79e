//! Tests of the `portolan` binary as an operator runs it: start-up errors that name the setting, secrets kept out
//! of the logs, and a clean exit on SIGTERM.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").to_string()
}

fn portolan(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portolan"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORTOLAN_DATA_DIR", data_dir)
        .current_dir(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("portolan-bin-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Waits until the server answers `/readyz`; `Err` with its output when it exited first.
async fn wait_ready(addr: &str, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = reqwest::get(format!("http://{addr}/readyz")).await
            && r.status().is_success()
        {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            let mut output = format!("portolan exited early: {status}\n");
            if let Some(mut out) = child.stdout.take() {
                let _ = out.read_to_string(&mut output);
            }
            if let Some(mut err) = child.stderr.take() {
                let _ = err.read_to_string(&mut output);
            }
            return Err(output);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("portolan did not become ready on {addr}");
}

/// Starts `portolan serve` on a free port and waits until it is ready. The port is found by binding port 0 and
/// letting it go, so another test may take it in between: then the server stops at start-up, and it is started
/// again on another port.
async fn serve(dir: &std::path::Path, envs: &[(&str, &str)]) -> (Child, String) {
    for _ in 0..5 {
        let addr = free_addr();
        let mut child = portolan(dir)
            .env("PORTOLAN_ADDR", &addr)
            .envs(envs.iter().copied())
            .arg("serve")
            .spawn()
            .expect("spawn portolan");
        match wait_ready(&addr, &mut child).await {
            Ok(()) => return (child, addr),
            Err(output) if output.to_lowercase().contains("in use") => continue,
            Err(output) => panic!("{output}"),
        }
    }
    panic!("no free port after five tries");
}

fn terminate(child: &mut Child) -> std::process::Output {
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let child = std::mem::replace(child, Command::new("true").spawn().expect("placeholder"));
    child.wait_with_output().expect("output")
}

#[test]
fn a_bad_setting_stops_start_up_and_names_it() {
    let dir = temp_dir("bad-setting");
    let out = portolan(&dir).env("PORTOLAN_ADDR", "not-an-address").arg("serve").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("PORTOLAN_ADDR"), "{stderr}");

    let out = portolan(&dir).env("PORTOLAN_GITHUB_CLIENT_ID", "abc").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PORTOLAN_GITHUB_CLIENT_SECRET"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn migrate_subcommand_creates_the_database() {
    let dir = temp_dir("migrate");
    let out = portolan(&dir).arg("migrate").output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join("portolan.db").exists(), "SQLite file in PORTOLAN_DATA_DIR");
    let again = portolan(&dir).arg("migrate").output().expect("run");
    assert!(again.status.success());
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn serves_keeps_secrets_out_of_logs_and_stops_cleanly_on_sigterm() {
    let dir = temp_dir("serve");
    let (mut child, addr) = serve(
        &dir,
        &[
            ("PORTOLAN_LOG", "debug"),
            ("PORTOLAN_GITHUB_CLIENT_ID", "client-id-123"),
            ("PORTOLAN_GITHUB_CLIENT_SECRET", "github-secret-never-logged"),
            ("PORTOLAN_API_TOKEN", "api-token-never-logged-0123"),
        ],
    )
    .await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let me = client
        .get(format!("http://{addr}/api/v1/me"))
        .bearer_auth("api-token-never-logged-0123")
        .send()
        .await
        .expect("request");
    assert_eq!(me.status(), 200);
    let callback = client
        .get(format!("http://{addr}/auth/github/callback?code=oauth-code-never-logged&state=x"))
        .send()
        .await
        .expect("request");
    assert!(callback.status().is_redirection());

    let out = terminate(&mut child);
    assert!(out.status.success(), "SIGTERM ends with exit code 0: {:?}", out.status);
    let logs = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(logs.contains("portolan listening"), "{logs}");
    assert!(logs.contains("portolan stopped"), "{logs}");
    for secret in ["github-secret-never-logged", "api-token-never-logged-0123", "oauth-code-never-logged"] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs:\n{logs}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn catalog_import_prints_a_summary_and_fails_on_bad_documents() {
    let dir = temp_dir("catalog-import");
    let examples = format!("{}/../examples/catalog", env!("CARGO_MANIFEST_DIR"));
    let out = portolan(&dir).args(["catalog", "import", &examples]).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("14 added, 0 updated, 0 unchanged, 0 removed, 0 orphaned, 0 errors"), "{stdout}");
    let again = portolan(&dir).args(["catalog", "import", &examples]).output().expect("run");
    assert!(String::from_utf8_lossy(&again.stdout).contains("0 added, 0 updated, 14 unchanged"));

    let bad = dir.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("catalog-info.yaml"),
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\n  bad: [\n",
    )
    .unwrap();
    let out = portolan(&dir).args(["catalog", "import", bad.to_str().unwrap()]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "a document with an error fails the command");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("catalog-info.yaml: document 1, line"), "{stdout}");
    let _ = std::fs::remove_dir_all(dir);
}
