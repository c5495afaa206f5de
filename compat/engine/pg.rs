//! The Postgres server the harness and the tests run against (a superuser
//! URL, `XFORM_TEST_PG_URL`, set by `.ci/postgres.sh`), and fresh databases
//! on it.

use anyhow::{Context as _, Result};

/// A server, reached as a superuser that may create databases.
#[derive(Clone)]
pub struct Server {
    config: postgres::Config,
}

impl Server {
    /// The server named by `XFORM_TEST_PG_URL`, if it is set.
    pub fn from_env() -> Result<Option<Server>> {
        match std::env::var("XFORM_TEST_PG_URL") {
            Ok(url) if !url.is_empty() => Server::new(&url).map(Some),
            _ => Ok(None),
        }
    }

    pub fn new(url: &str) -> Result<Server> {
        let config: postgres::Config = url
            .parse()
            .context("XFORM_TEST_PG_URL is not a postgres:// URL")?;
        Ok(Server { config })
    }

    /// Host, port, user and password, for a profile.
    pub fn host(&self) -> String {
        match self.config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".to_owned(),
        }
    }

    pub fn port(&self) -> u16 {
        self.config.get_ports().first().copied().unwrap_or(5432)
    }

    pub fn user(&self) -> String {
        self.config.get_user().unwrap_or("postgres").to_owned()
    }

    pub fn password(&self) -> String {
        self.config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default()
    }

    fn admin(&self) -> Result<postgres::Client> {
        self.config
            .connect(postgres::NoTls)
            .context("connect to the Postgres server (XFORM_TEST_PG_URL)")
    }
}

/// A fresh database, dropped when this is dropped (unless kept).
pub struct Database {
    server: Server,
    pub name: String,
    keep: bool,
}

impl Database {
    /// Creates a database named after `label` (and this process and a
    /// counter, so parallel tests and runs never share one).
    pub fn create(server: &Server, label: &str) -> Result<Database> {
        static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let name = format!("xf_{label}_{}_{n}", std::process::id());
        let mut admin = server.admin()?;
        // One statement per call: CREATE DATABASE cannot run in the
        // implicit transaction of a multi-statement query.
        for sql in [
            format!("drop database if exists \"{name}\" with (force)"),
            format!("create database \"{name}\""),
        ] {
            admin.batch_execute(&sql).with_context(|| sql.clone())?;
        }
        Ok(Database {
            server: server.clone(),
            name,
            keep: false,
        })
    }

    /// Leaves the database in place when this is dropped.
    pub fn keep(&mut self) {
        self.keep = true;
    }

    /// A connection to this database as the superuser.
    pub fn connect(&self) -> Result<postgres::Client> {
        let mut config = self.server.config.clone();
        config.dbname(&self.name);
        config
            .connect(postgres::NoTls)
            .with_context(|| format!("connect to database {}", self.name))
    }

    /// Every row of a query (simple protocol: cells as Postgres prints
    /// them, NULL as `None`).
    pub fn rows(&self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        let mut client = self.connect()?;
        let messages = client.simple_query(sql).with_context(|| sql.to_owned())?;
        Ok(messages
            .into_iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                }
                _ => None,
            })
            .collect())
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if let Ok(mut admin) = self.server.admin() {
            let _ = admin.batch_execute(&format!(
                "drop database if exists \"{}\" with (force)",
                self.name
            ));
        }
    }
}
