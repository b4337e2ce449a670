//! One database: a connection that LISTENs on `optischema` and checks who sent each payload, and
//! a reader connection for the API's queries, both made again whenever either is lost; actions
//! on a short admin connection of their own. The two are apart because a backend sends
//! notifications only between statements: on a connection that also ran the API's queries, a
//! slow page load would hold up every live event.

use crate::config::Database;
use crate::error::ApiError;
use crate::events;
use crate::pgconn::Target;
use crate::workers::{self, Verdict, WorkerPids};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, RwLock};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client};

/// Every statement the proxy runs is bounded.
const LISTENER_SETUP: &str = "SET statement_timeout = '5s';
                              SET application_name = 'optischema-proxy (listener)'; LISTEN optischema";
const READER_SETUP: &str = "SET statement_timeout = '5s'; SET TimeZone = 'UTC';
                            SET application_name = 'optischema-proxy'";
/// A short connection to another database of a server (the fleet view).
const PEEK_SETUP: &str = "SET statement_timeout = '5s'; SET TimeZone = 'UTC';
                          SET application_name = 'optischema-proxy'";
const ADMIN_SETUP: &str =
    "SET statement_timeout = '10s'; SET lock_timeout = '2s'; SET TimeZone = 'UTC';
                           SET application_name = 'optischema-proxy (admin)'";

pub struct Db {
    pub name: String,
    reader: Target,
    admin: Option<Target>,
    client: RwLock<Option<Arc<Client>>>,
    connected: AtomicBool,
    /// Why the reader is not connected, as browsers may see it (never the DSN).
    error: std::sync::Mutex<Option<String>>,
}

impl Db {
    /// The database of `config`; an error when a connection string or its root certificate is
    /// not usable.
    pub fn new(config: &Database) -> Result<Db, String> {
        let target = |dsn: &str, what: &str| {
            Target::new(dsn).map_err(|e| format!("{} ({what}): {e}", config.name))
        };
        Ok(Db {
            name: config.name.clone(),
            reader: target(&config.dsn, "--dsn")?,
            admin: config
                .admin_dsn
                .as_deref()
                .map(|d| target(d, "--admin-dsn"))
                .transpose()?,
            client: RwLock::new(None),
            connected: AtomicBool::new(false),
            error: std::sync::Mutex::new(None),
        })
    }

    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Why the reader is not connected, when it is not and an attempt failed.
    pub fn error(&self) -> Option<String> {
        if self.connected() {
            return None;
        }
        self.error.lock().map(|e| e.clone()).unwrap_or(None)
    }

    fn set_error(&self, error: Option<&str>) {
        if let Ok(mut e) = self.error.lock() {
            *e = error.map(str::to_string);
        }
    }

    pub fn has_admin(&self) -> bool {
        self.admin.is_some()
    }

    /// The reader connection, or 503 while it is being made again.
    pub async fn client(&self) -> Result<Arc<Client>, ApiError> {
        self.client.read().await.clone().ok_or_else(|| {
            ApiError::unavailable(format!(
                "database {} is not reachable: the proxy is reconnecting",
                self.name
            ))
        })
    }

    /// The server the reader connects to (hosts and ports) and the database there (libpq's
    /// default, the user name, when the string names none): two names for one database of one
    /// server are shown once in the fleet view.
    pub fn place(&self) -> (String, String) {
        let config = &self.reader.config;
        let server = format!("{:?} {:?}", config.get_hosts(), config.get_ports());
        let database = config
            .get_dbname()
            .or(config.get_user())
            .unwrap_or_default()
            .to_string();
        (server, database)
    }

    /// A short connection to database `datname` of the same server, with the reader's role and
    /// TLS, closed when dropped: the fleet view reads the databases the extension lists.
    pub async fn peek(&self, datname: &str) -> Result<Client, ApiError> {
        let mut config = self.reader.config.clone();
        config.dbname(datname);
        let (client, connection) = config
            .connect(self.reader.tls.clone())
            .await
            .map_err(|e| ApiError::unavailable(describe(&e)))?;
        tokio::spawn(connection);
        client
            .batch_execute(PEEK_SETUP)
            .await
            .map_err(ApiError::from_db)?;
        Ok(client)
    }

    /// A fresh admin connection, closed when dropped.
    pub async fn admin(&self) -> Result<Client, ApiError> {
        let target = self
            .admin
            .as_ref()
            .ok_or_else(|| ApiError::read_only(&self.name))?;
        let (client, connection) =
            target
                .config
                .connect(target.tls.clone())
                .await
                .map_err(|e| {
                    eprintln!(
                        "optischema-proxy: admin connection to {} failed: {e}",
                        self.name
                    );
                    ApiError::unavailable(format!(
                        "the admin connection to database {} failed",
                        self.name
                    ))
                })?;
        tokio::spawn(connection);
        client
            .batch_execute(ADMIN_SETUP)
            .await
            .map_err(ApiError::from_db)?;
        Ok(client)
    }

    /// Keeps the listener and the reader connected for ever, sending each notification (and each
    /// change of connection state) to `events`.
    pub async fn listen(self: Arc<Self>, events: broadcast::Sender<String>) {
        let mut delay = Duration::from_millis(250);
        // the last error said (logged and sent to the browsers), so that a failure repeated at
        // every attempt is said once
        let mut reported: Option<String> = None;
        let mut warned_hidden = false;
        loop {
            match self.reader.config.connect(self.reader.tls.clone()).await {
                Ok((listener, mut connection)) => {
                    let (notes, mut received) = mpsc::unbounded_channel::<(i32, String)>();
                    let driver = tokio::spawn(async move {
                        let mut messages =
                            futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                        while let Some(message) = messages.next().await {
                            match message {
                                Ok(AsyncMessage::Notification(n)) => {
                                    let _ = notes.send((n.process_id(), n.payload().to_string()));
                                }
                                Ok(_) => {}
                                Err(e) => return Some(describe(&e)),
                            }
                        }
                        None
                    });
                    // Ok(why the reader was lost, if it was) once connected; Err when the
                    // reader could not connect
                    let session = match self.connect_reader(&listener).await {
                        Ok((reader, mut reader_driver)) => {
                            *self.client.write().await = Some(Arc::new(reader));
                            self.connected.store(true, Ordering::Relaxed);
                            reported = None;
                            self.set_error(None);
                            delay = Duration::from_millis(250);
                            let _ = events.send(events::connection(&self.name, "connected", None));
                            eprintln!("optischema-proxy: {} connected, listening", self.name);
                            let mut workers = WorkerPids::default();
                            let mut reader_lost = None;
                            loop {
                                tokio::select! {
                                    note = received.recv() => {
                                        let Some(note) = note else { break };
                                        self.forward(&listener, &mut workers, note, &mut warned_hidden, &events).await;
                                    }
                                    ended = &mut reader_driver => {
                                        reader_lost = Some(match ended {
                                            Ok(Err(e)) => describe(&e),
                                            _ => "connection closed".into(),
                                        });
                                        break;
                                    }
                                }
                            }
                            // what arrived before the loss still goes out
                            while let Ok(note) = received.try_recv() {
                                self.forward(
                                    &listener,
                                    &mut workers,
                                    note,
                                    &mut warned_hidden,
                                    &events,
                                )
                                .await;
                            }
                            // the listener lost: its reader goes too, even with requests in flight
                            reader_driver.abort();
                            Ok(reader_lost)
                        }
                        Err(e) => Err(e),
                    };
                    *self.client.write().await = None;
                    self.connected.store(false, Ordering::Relaxed);
                    // without its client, the listener's connection says goodbye and ends; one
                    // that does not (a half-open socket) is dropped
                    drop(listener);
                    let mut driver = driver;
                    let listener_ended =
                        match tokio::time::timeout(Duration::from_secs(5), &mut driver).await {
                            Ok(ended) => ended.ok().flatten(),
                            Err(_) => {
                                driver.abort();
                                None
                            }
                        };
                    match session {
                        Ok(reader_lost) => {
                            let error = reader_lost
                                .or(listener_ended)
                                .unwrap_or_else(|| "connection closed".into());
                            eprintln!("optischema-proxy: {} lost: {error}", self.name);
                            let _ = events.send(events::connection(
                                &self.name,
                                "reconnecting",
                                Some(&error),
                            ));
                            self.set_error(Some(&error));
                            reported = Some(error);
                        }
                        // the listener connected but the reader did not
                        Err(error) => self.unreachable(&events, &mut reported, error),
                    }
                }
                Err(e) => self.unreachable(&events, &mut reported, describe(&e)),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }

    /// Sends payload `note` (sender pid, text) to the browsers when one of OptiSchema's workers
    /// sent it.
    async fn forward(
        &self,
        listener: &Client,
        workers: &mut WorkerPids,
        (pid, payload): (i32, String),
        warned_hidden: &mut bool,
        events: &broadcast::Sender<String>,
    ) {
        if self
            .sent_by_worker(listener, workers, pid, warned_hidden)
            .await
        {
            let _ = events.send(events::notification(&self.name, &payload));
        }
    }

    /// A failed attempt to connect: logged and sent to the browsers unless it is the error
    /// `reported` last, so that a failure repeated at every attempt is said once.
    fn unreachable(
        &self,
        events: &broadcast::Sender<String>,
        reported: &mut Option<String>,
        error: String,
    ) {
        if reported.as_deref() != Some(error.as_str()) {
            eprintln!("optischema-proxy: {} not reachable: {error}", self.name);
            let _ = events.send(events::connection(&self.name, "reconnecting", Some(&error)));
        }
        self.set_error(Some(&error));
        *reported = Some(error);
    }

    /// Sets the listener up, then opens the reader for the API: the reader and the task that
    /// drives its connection, which ends when the connection does.
    async fn connect_reader(
        &self,
        listener: &Client,
    ) -> Result<(Client, JoinHandle<Result<(), tokio_postgres::Error>>), String> {
        listener
            .batch_execute(LISTENER_SETUP)
            .await
            .map_err(|e| describe(&e))?;
        let (reader, connection) = self
            .reader
            .config
            .connect(self.reader.tls.clone())
            .await
            .map_err(|e| describe(&e))?;
        let driver = tokio::spawn(connection);
        if let Err(e) = reader.batch_execute(READER_SETUP).await {
            driver.abort();
            return Err(describe(&e));
        }
        Ok((reader, driver))
    }
}

impl Db {
    /// Whether a payload from `pid` was sent by one of OptiSchema's workers (see [`workers`]);
    /// payloads from other sessions are dropped, each lookup that refuses one logged.
    async fn sent_by_worker(
        &self,
        client: &Client,
        cache: &mut WorkerPids,
        pid: i32,
        warned_hidden: &mut bool,
    ) -> bool {
        let now = Instant::now();
        match cache.verdict(pid, now) {
            Verdict::Forward => return true,
            Verdict::Drop => return false,
            Verdict::LookUp => {}
        }
        match workers::look_up(client, pid).await {
            Ok(found) => {
                cache.looked_up(found.workers, now);
                if found.sender_hidden {
                    if !*warned_hidden {
                        *warned_hidden = true;
                        eprintln!(
                            "optischema-proxy: {}: NOTIFY payloads are dropped: this role cannot see other sessions' backend_type in pg_stat_activity, so it cannot tell OptiSchema's workers from other senders (GRANT pg_read_all_stats to it)",
                            self.name
                        );
                    }
                    return false;
                }
            }
            Err(e) => {
                cache.looked_up(Default::default(), now);
                eprintln!(
                    "optischema-proxy: {}: cannot look up OptiSchema's workers, payload dropped: {}",
                    self.name,
                    describe(&e)
                );
                return false;
            }
        }
        let accepted = cache.is_worker(pid);
        if !accepted {
            eprintln!(
                "optischema-proxy: {}: ignored a NOTIFY from pid {pid}, which is not an OptiSchema worker",
                self.name
            );
        }
        accepted
    }
}

/// A connection error as the browser may see it: the server's message, never the DSN.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            // tokio-postgres errors name the failure ("error connecting to server: Connection
            // refused"), not the connection string; a TLS failure's cause is in its source
            let mut text = e
                .to_string()
                .lines()
                .next()
                .unwrap_or("connection failed")
                .to_string();
            let mut source = std::error::Error::source(e);
            while let Some(cause) = source {
                let cause_text = cause.to_string();
                if !text.ends_with(&cause_text) {
                    text.push_str(": ");
                    text.push_str(&cause_text);
                }
                source = cause.source();
            }
            text
        }
    }
}
