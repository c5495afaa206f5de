//! The dbt package hub's JSON API: `api/v1/index.json` (every package
//! name) and `api/v1/<org>/<name>.json` (its versions, each with the
//! packages it needs and its tarball's URL). The hub is
//! `DBT_PACKAGE_HUB_URL` when set, as in dbt, else hub.getdbt.com. Every
//! response is fetched at most once per command.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use serde_json::Value;

const DEFAULT_HUB: &str = "https://hub.getdbt.com/";

/// What went wrong talking to the hub.
#[derive(Debug, Clone)]
pub enum HubError {
    /// No answer, or not the answer of a hub (the URL and why).
    Unreachable { url: String, reason: String },
    /// The hub answered 404 for a package.
    NotFound { url: String },
    /// The hub answered something that is not its JSON.
    Malformed { url: String, reason: String },
}

/// One version of a hub package.
#[derive(Debug, Clone)]
pub struct Version {
    /// The package's project name (its folder under `dbt_packages/`).
    pub name: String,
    /// The packages it needs, as `packages.yml` entries.
    pub packages: Vec<Value>,
    pub tarball: String,
    pub requires_dbt: Vec<String>,
}

/// A hub package's versions, in the hub's order.
#[derive(Debug)]
pub struct Package {
    pub versions: Vec<(String, Version)>,
}

impl Package {
    pub fn version(&self, v: &str) -> Option<&Version> {
        self.versions.iter().find(|(k, _)| k == v).map(|(_, x)| x)
    }
}

pub struct Hub {
    base: String,
    agent: ureq::Agent,
    index: RefCell<Option<Rc<Vec<String>>>>,
    packages: RefCell<HashMap<String, Rc<Package>>>,
}

impl Hub {
    /// The hub of `DBT_PACKAGE_HUB_URL`, or dbt's.
    pub fn from_env() -> Self {
        let mut base = std::env::var("DBT_PACKAGE_HUB_URL")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_HUB.to_owned());
        // dbt appends `api/v1/...` to the text as it is; a missing slash
        // would only make every request fail.
        if !base.ends_with('/') {
            base.push('/');
        }
        let timeout = std::env::var("DBT_HTTP_TIMEOUT")
            .ok()
            .and_then(|t| t.parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(10.0);
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs_f64(timeout)))
            .timeout_global(Some(Duration::from_mins(5)))
            .user_agent(concat!("xform/", env!("CARGO_PKG_VERSION")))
            .build();
        Self {
            base,
            agent: config.into(),
            index: RefCell::new(None),
            packages: RefCell::new(HashMap::new()),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, name: &str) -> String {
        format!("{}api/v1/{name}.json", self.base)
    }

    fn get(&self, url: &str) -> Result<ureq::http::Response<ureq::Body>, HubError> {
        tracing::debug!("GET {url}");
        self.agent.get(url).call().map_err(|e| match e {
            ureq::Error::StatusCode(404) => HubError::NotFound {
                url: url.to_owned(),
            },
            ureq::Error::StatusCode(code) => HubError::Unreachable {
                url: url.to_owned(),
                reason: format!("the server answered HTTP {code}"),
            },
            other => HubError::Unreachable {
                url: url.to_owned(),
                reason: describe(&other),
            },
        })
    }

    fn get_json(&self, url: &str) -> Result<Value, HubError> {
        let mut resp = self.get(url)?;
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| HubError::Unreachable {
                url: url.to_owned(),
                reason: describe(&e),
            })?;
        serde_json::from_str(&text).map_err(|e| HubError::Malformed {
            url: url.to_owned(),
            reason: format!("not JSON: {e}"),
        })
    }

    /// Every package on the hub (`org/name`).
    pub fn index(&self) -> Result<Rc<Vec<String>>, HubError> {
        if let Some(i) = self.index.borrow().as_ref() {
            return Ok(Rc::clone(i));
        }
        let url = self.url("index");
        let names = match self.get_json(&url)? {
            Value::Array(a) => a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            other => {
                return Err(HubError::Malformed {
                    url,
                    reason: format!("expected a list of package names, found {}", kind(&other)),
                });
            }
        };
        let names = Rc::new(names);
        *self.index.borrow_mut() = Some(Rc::clone(&names));
        Ok(names)
    }

    /// A package's versions.
    pub fn package(&self, name: &str) -> Result<Rc<Package>, HubError> {
        if let Some(p) = self.packages.borrow().get(name) {
            return Ok(Rc::clone(p));
        }
        let url = self.url(name);
        let json = self.get_json(&url)?;
        let malformed = |reason: String| HubError::Malformed {
            url: url.clone(),
            reason,
        };
        let Some(versions) = json.get("versions").and_then(Value::as_object) else {
            return Err(malformed("no `versions` mapping".into()));
        };
        let mut out = Vec::new();
        for (v, info) in versions {
            let name = info
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed(format!("version {v} has no `name`")))?;
            let tarball = info
                .pointer("/downloads/tarball")
                .and_then(Value::as_str)
                .ok_or_else(|| malformed(format!("version {v} has no `downloads.tarball`")))?;
            let packages = match info.get("packages") {
                Some(Value::Array(a)) => a.clone(),
                None | Some(Value::Null) => Vec::new(),
                Some(_) => {
                    return Err(malformed(format!(
                        "`packages` of version {v} is not a list"
                    )));
                }
            };
            let require_dbt_version = match info.get("require_dbt_version") {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            out.push((
                v.clone(),
                Version {
                    name: name.to_owned(),
                    packages,
                    tarball: tarball.to_owned(),
                    requires_dbt: require_dbt_version,
                },
            ));
        }
        let p = Rc::new(Package { versions: out });
        self.packages
            .borrow_mut()
            .insert(name.to_owned(), Rc::clone(&p));
        Ok(p)
    }

    /// Downloads `url` to the file `dest`.
    pub fn download(&self, url: &str, dest: &Path) -> Result<(), HubError> {
        let mut resp = self.get(url)?;
        let mut reader = resp.body_mut().as_reader();
        let mut file = std::fs::File::create(dest).map_err(|e| HubError::Unreachable {
            url: url.to_owned(),
            reason: format!("cannot write `{}`: {e}", dest.display()),
        })?;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = reader.read(&mut buf).map_err(|e| HubError::Unreachable {
                url: url.to_owned(),
                reason: format!("the download broke off: {e}"),
            })?;
            if n == 0 {
                break;
            }
            std::io::Write::write_all(&mut file, &buf[..n]).map_err(|e| HubError::Unreachable {
                url: url.to_owned(),
                reason: format!("cannot write `{}`: {e}", dest.display()),
            })?;
        }
        Ok(())
    }
}

const fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// An HTTP error in words, with the underlying cause (refused, timed out,
/// unknown host, TLS) rather than the client's enum name.
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
            std::io::ErrorKind::TimedOut => "timed out".to_owned(),
            _ => io.to_string(),
        },
        ureq::Error::HostNotFound => "host not found".to_owned(),
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        other => other.to_string(),
    }
}
