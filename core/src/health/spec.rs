//! What a check is asked to do, read from catalog annotations (or the check form): the target, the interval, what
//! counts as healthy and the objective. Pure parsing, so every refusal names the annotation and says why.

use std::time::Duration;

/// The annotation naming the production health URL.
pub const URL_ANNOTATION: &str = "portolan.dev/health-url";
/// The interval annotation (`30s`, `1m`).
pub const INTERVAL_ANNOTATION: &str = "portolan.dev/health-interval";
/// What counts as healthy (`200-399`, `body=ok`, `latency<500ms`, separated by `;`).
pub const EXPECT_ANNOTATION: &str = "portolan.dev/health-expect";
/// The uptime objective in percent (`99.9`).
pub const SLO_ANNOTATION: &str = "portolan.dev/slo";

/// The default interval when none is given.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);
/// The default uptime objective, in percent.
pub const DEFAULT_OBJECTIVE: f64 = 99.9;
/// The default accepted status codes.
pub const DEFAULT_STATUS: &str = "200-399";

/// Where a probe goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An `http://` or `https://` URL.
    Http(url::Url),
    /// `tcp://host:port`: a connect is enough.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
}

impl Target {
    /// Reads a target: an HTTP(S) URL or `tcp://host:port`.
    pub fn parse(text: &str) -> Result<Target, String> {
        let text = text.trim();
        let url = url::Url::parse(text).map_err(|e| format!("`{text}` is not a URL ({e})"))?;
        match url.scheme() {
            "http" | "https" => {
                if url.host_str().is_none() {
                    return Err(format!("`{text}` has no host"));
                }
                Ok(Target::Http(url))
            }
            "tcp" => {
                let host = url.host_str().ok_or_else(|| format!("`{text}` has no host"))?.to_owned();
                let port = url.port().ok_or_else(|| format!("`{text}` needs a port (tcp://host:port)"))?;
                if !(url.path().is_empty() || url.path() == "/") || url.query().is_some() {
                    return Err(format!("`{text}`: a tcp:// target is only host and port"));
                }
                let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
                Ok(Target::Tcp { host, port })
            }
            other => Err(format!("`{text}`: the scheme must be http, https or tcp, not {other}")),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Http(u) => write!(f, "{u}"),
            Target::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Target::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
        }
    }
}

/// Reads a duration such as `30s`, `1m`, `500ms`, `1h` or `1m30s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("an empty duration".to_owned());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("`{t}` is not a duration such as 30s, 1m or 500ms"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| format!("`{t}` is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "" => return Err(format!("`{t}` needs a unit (ms, s, m or h)")),
            other => return Err(format!("`{t}`: unknown unit `{other}` (ms, s, m or h)")),
        };
        total = total.saturating_add(part);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Which status codes count as healthy: inclusive ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusSet(pub Vec<(u16, u16)>);

impl StatusSet {
    /// Reads `200-399`, `200,204`, `2xx` or a mix separated by commas.
    pub fn parse(text: &str) -> Result<StatusSet, String> {
        let mut out = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let range = if let Some(class) = part.strip_suffix("xx").or_else(|| part.strip_suffix("XX")) {
                let d: u16 = class.parse().map_err(|_| format!("`{part}` is not a status class such as 2xx"))?;
                if !(1..=5).contains(&d) {
                    return Err(format!("`{part}` is not a status class such as 2xx"));
                }
                (d * 100, d * 100 + 99)
            } else if let Some((a, b)) = part.split_once('-') {
                let a = code(a)?;
                let b = code(b)?;
                if a > b {
                    return Err(format!("`{part}`: the range runs backwards"));
                }
                (a, b)
            } else {
                let c = code(part)?;
                (c, c)
            };
            out.push(range);
        }
        if out.is_empty() {
            return Err("no status codes given".to_owned());
        }
        Ok(StatusSet(out))
    }

    /// Whether a status code is accepted.
    pub fn accepts(&self, status: u16) -> bool {
        self.0.iter().any(|(a, b)| (*a..=*b).contains(&status))
    }
}

impl std::fmt::Display for StatusSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> =
            self.0.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect();
        f.write_str(&parts.join(","))
    }
}

fn code(text: &str) -> Result<u16, String> {
    let c: u16 = text.trim().parse().map_err(|_| format!("`{}` is not an HTTP status code", text.trim()))?;
    if !(100..=599).contains(&c) {
        return Err(format!("`{c}` is not an HTTP status code (100-599)"));
    }
    Ok(c)
}

/// What a healthy answer looks like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    /// Accepted status codes.
    pub status: StatusSet,
    /// A substring the body must contain.
    pub body: Option<String>,
    /// Above this latency an answer is *degraded*.
    pub degraded_after: Option<Duration>,
}

impl Default for Expect {
    fn default() -> Self {
        Expect { status: StatusSet(vec![(200, 399)]), body: None, degraded_after: None }
    }
}

impl Expect {
    /// Reads `portolan.dev/health-expect`: parts separated by `;`, each a status list (`200-299,304`, or
    /// `status=…`), `body=<substring>` or `latency<500ms`.
    pub fn parse(text: &str) -> Result<Expect, String> {
        let mut out = Expect::default();
        for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            if let Some(body) = part.strip_prefix("body=") {
                let body = body.trim().trim_matches('"');
                if body.is_empty() {
                    return Err("`body=` needs the text to look for".to_owned());
                }
                out.body = Some(body.to_owned());
            } else if let Some(limit) = part.strip_prefix("latency<") {
                let d = parse_duration(limit)?;
                if d.is_zero() {
                    return Err("the latency limit must be above zero".to_owned());
                }
                out.degraded_after = Some(d);
            } else {
                out.status = StatusSet::parse(part.strip_prefix("status=").unwrap_or(part))?;
            }
        }
        Ok(out)
    }
}

/// Reads an objective in percent (`99.9`, `99.95%`), strictly between 0 and 100.
pub fn parse_objective(text: &str) -> Result<f64, String> {
    let t = text.trim().trim_end_matches('%').trim();
    let v: f64 = t.parse().map_err(|_| format!("`{}` is not a percentage such as 99.9", text.trim()))?;
    if !(v > 0.0 && v < 100.0 && v.is_finite()) {
        return Err(format!("`{}`: the objective must be above 0 and below 100", text.trim()));
    }
    Ok(v)
}

/// A check as declared: everything the probe engine needs.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckSpec {
    /// The environment it probes.
    pub environment: String,
    /// A short name, unique per component, environment and source (`health-url` for annotations).
    pub name: String,
    /// Where it goes.
    pub target: Target,
    /// How often.
    pub interval: Duration,
    /// What counts as healthy.
    pub expect: Expect,
    /// Uptime objective in percent.
    pub objective: f64,
}

/// What the annotations of one entity declare, and what was wrong with them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Declared {
    /// Usable checks.
    pub checks: Vec<CheckSpec>,
    /// Refusals, each naming the annotation.
    pub problems: Vec<String>,
}

/// Reads an entity's health annotations. `production` is the environment the plain `portolan.dev/health-url`
/// probes; `environments` are the configured ones; `min_interval` is the shortest interval allowed.
pub fn declared_checks<'a>(
    annotations: impl IntoIterator<Item = (&'a str, &'a str)>,
    environments: &[String],
    production: Option<&str>,
    min_interval: Duration,
) -> Declared {
    let mut out = Declared::default();
    let mut urls: Vec<(String, &str, &str)> = Vec::new();
    let mut interval = DEFAULT_INTERVAL;
    let mut expect = Expect::default();
    let mut objective = DEFAULT_OBJECTIVE;
    for (key, value) in annotations {
        let key = key.trim();
        if key == URL_ANNOTATION {
            match production {
                Some(p) => urls.push((p.to_owned(), key, value)),
                None => out.problems.push(format!("{key}: no production environment is configured")),
            }
        } else if let Some(env) = key.strip_prefix("portolan.dev/health-url.") {
            let env = env.to_lowercase();
            if environments.contains(&env) {
                urls.push((env, key, value));
            } else {
                out.problems
                    .push(format!("{key}: `{env}` is not a configured environment ({})", environments.join(", ")));
            }
        } else if key == INTERVAL_ANNOTATION {
            match parse_duration(value) {
                Ok(d) if d < min_interval => {
                    out.problems.push(format!(
                        "{key}: {} is below the shortest interval allowed ({} ms); using {} ms",
                        value.trim(),
                        min_interval.as_millis(),
                        min_interval.as_millis()
                    ));
                    interval = min_interval;
                }
                Ok(d) => interval = d,
                Err(e) => out.problems.push(format!("{key}: {e}")),
            }
        } else if key == EXPECT_ANNOTATION {
            match Expect::parse(value) {
                Ok(e) => expect = e,
                Err(e) => out.problems.push(format!("{key}: {e}")),
            }
        } else if key == SLO_ANNOTATION {
            match parse_objective(value) {
                Ok(v) => objective = v,
                Err(e) => out.problems.push(format!("{key}: {e}")),
            }
        }
    }
    // The environment-specific annotation wins over the plain one for the same environment.
    urls.sort_by_key(|(_, key, _)| *key == URL_ANNOTATION);
    let mut seen: Vec<String> = Vec::new();
    for (env, key, value) in urls {
        if seen.contains(&env) {
            continue;
        }
        match Target::parse(value) {
            Ok(target) => {
                seen.push(env.clone());
                out.checks.push(CheckSpec {
                    environment: env,
                    name: "health-url".to_owned(),
                    target,
                    interval,
                    expect: expect.clone(),
                    objective,
                });
            }
            Err(e) => out.problems.push(format!("{key}: {e}")),
        }
    }
    out.checks.sort_by(|a, b| a.environment.cmp(&b.environment));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envs() -> Vec<String> {
        ["development", "staging", "production"].map(String::from).to_vec()
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 2h "), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("30").unwrap_err().contains("unit"));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("3d").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn status_sets_accept_ranges_classes_and_lists() {
        let s = StatusSet::parse("200-299, 304,4xx").unwrap();
        assert!(s.accepts(200) && s.accepts(299) && s.accepts(304) && s.accepts(404));
        assert!(!s.accepts(300) && !s.accepts(500));
        assert_eq!(s.to_string(), "200-299,304,400-499");
        assert!(StatusSet::parse("299-200").is_err());
        assert!(StatusSet::parse("700").is_err());
        assert!(StatusSet::parse("").is_err());
    }

    #[test]
    fn expectations_combine_status_body_and_latency() {
        let e = Expect::parse("200,204; body=\"ok\"; latency<750ms").unwrap();
        assert_eq!(e.status, StatusSet(vec![(200, 200), (204, 204)]));
        assert_eq!(e.body.as_deref(), Some("ok"));
        assert_eq!(e.degraded_after, Some(Duration::from_millis(750)));
        assert_eq!(Expect::parse("").unwrap(), Expect::default());
        assert!(Expect::parse("latency<0s").is_err());
        assert!(Expect::parse("body=").is_err());
    }

    #[test]
    fn targets_are_http_urls_or_tcp_host_and_port() {
        assert!(matches!(Target::parse("https://pay.example/health").unwrap(), Target::Http(_)));
        assert_eq!(
            Target::parse("tcp://db.internal:5432").unwrap(),
            Target::Tcp { host: "db.internal".into(), port: 5432 }
        );
        assert!(Target::parse("tcp://db.internal").unwrap_err().contains("port"));
        assert!(Target::parse("ftp://x").unwrap_err().contains("scheme"));
        assert!(Target::parse("not a url").is_err());
        assert_eq!(Target::parse("tcp://[::1]:80").unwrap().to_string(), "tcp://[::1]:80");
    }

    #[test]
    fn objectives_are_percentages_strictly_inside_0_and_100() {
        assert_eq!(parse_objective("99.95%"), Ok(99.95));
        assert!(parse_objective("100").is_err());
        assert!(parse_objective("0").is_err());
        assert!(parse_objective("NaN").is_err());
        assert!(parse_objective("high").is_err());
    }

    #[test]
    fn annotations_declare_one_check_per_environment() {
        let d = declared_checks(
            [
                ("portolan.dev/health-url", "https://pay.example/health"),
                ("portolan.dev/health-url.staging", "https://pay.staging.example/health"),
                ("portolan.dev/health-url.production", "https://pay-prod.example/health"),
                ("portolan.dev/health-interval", "30s"),
                ("portolan.dev/health-expect", "200; latency<500ms"),
                ("portolan.dev/slo", "99.5"),
                ("backstage.io/techdocs-ref", "dir:."),
            ],
            &envs(),
            Some("production"),
            Duration::from_secs(1),
        );
        assert!(d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(d.checks.len(), 2);
        let prod = d.checks.iter().find(|c| c.environment == "production").unwrap();
        assert_eq!(prod.target.to_string(), "https://pay-prod.example/health", "the specific annotation wins");
        assert_eq!(prod.interval, Duration::from_secs(30));
        assert_eq!(prod.objective, 99.5);
        assert_eq!(prod.expect.degraded_after, Some(Duration::from_millis(500)));
        assert!(d.checks.iter().any(|c| c.environment == "staging"));
    }

    #[test]
    fn bad_annotations_are_named_and_the_rest_still_work() {
        let d = declared_checks(
            [
                ("portolan.dev/health-url", "https://pay.example/health"),
                ("portolan.dev/health-url.qa", "https://qa.example"),
                ("portolan.dev/health-url.staging", "gopher://x"),
                ("portolan.dev/health-interval", "100ms"),
                ("portolan.dev/slo", "101"),
            ],
            &envs(),
            Some("production"),
            Duration::from_secs(1),
        );
        assert_eq!(d.checks.len(), 1);
        assert_eq!(d.checks[0].interval, Duration::from_secs(1), "raised to the minimum");
        assert_eq!(d.checks[0].objective, DEFAULT_OBJECTIVE);
        let all = d.problems.join("\n");
        assert!(all.contains("portolan.dev/health-url.qa: `qa` is not a configured environment"), "{all}");
        assert!(all.contains("portolan.dev/health-url.staging:"), "{all}");
        assert!(all.contains("portolan.dev/health-interval: 100ms is below"), "{all}");
        assert!(all.contains("portolan.dev/slo:"), "{all}");
    }
}
