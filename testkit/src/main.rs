//! `fake-github [ADDR]`: runs the fake GitHub for browser tests (default `127.0.0.1:3999`).
//! The client id and secret come from `FAKE_GITHUB_CLIENT_ID` / `FAKE_GITHUB_CLIENT_SECRET` when set; tokens it
//! accepts without a login from `FAKE_GITHUB_TOKENS` (`token:login,…`).

use portolan_testkit::{FakeGithub, FakeGithubConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3999".to_owned());
    let Ok(addr) = addr.parse() else {
        eprintln!("fake-github: `{addr}` is not an address such as 127.0.0.1:3999");
        std::process::exit(2);
    };
    let mut config = FakeGithubConfig::default();
    if let Ok(id) = std::env::var("FAKE_GITHUB_CLIENT_ID") {
        config.client_id = id;
    }
    if let Ok(secret) = std::env::var("FAKE_GITHUB_CLIENT_SECRET") {
        config.client_secret = secret;
    }
    let fake = FakeGithub::start_on(addr, config).await;
    // `FAKE_GITHUB_TOKENS=token:login,…`: tokens the portal itself is configured with (PORTOLAN_GITHUB_TOKEN).
    for pair in std::env::var("FAKE_GITHUB_TOKENS").unwrap_or_default().split(',').filter(|p| !p.is_empty()) {
        if let Some((token, login)) = pair.split_once(':') {
            fake.add_token(token, login);
        }
    }
    println!("fake GitHub listening on {}", fake.url());
    tokio::signal::ctrl_c().await.ok();
}
