//! One database: a reader connection that LISTENs on `optischema` and serves the API's queries,
//! connected again (and LISTENing again) whenever it is lost; actions on a short admin
//! connection of their own.

use crate::api::ApiError;
use crate::config::Database;
use crate::events;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, RwLock};
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// Every statement the proxy runs is bounded.
const READER_SETUP: &str = "SET statement_timeout = '5s'; SET TimeZone = 'UTC';
                            SET application_name = 'optischema-proxy'; LISTEN optischema";
const ADMIN_SETUP: &str =
    "SET statement_timeout = '10s'; SET lock_timeout = '2s'; SET TimeZone = 'UTC';
                           SET application_name = 'optischema-proxy (admin)'";

pub struct Db {
    pub name: String,
    dsn: String,
    admin_dsn: Option<String>,
    client: RwLock<Option<Arc<Client>>>,
    connected: AtomicBool,
}

impl Db {
    pub fn new(config: &Database) -> Db {
        Db {
            name: config.name.clone(),
            dsn: config.dsn.clone(),
            admin_dsn: config.admin_dsn.clone(),
            client: RwLock::new(None),
            connected: AtomicBool::new(false),
        }
    }

    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub fn has_admin(&self) -> bool {
        self.admin_dsn.is_some()
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

    /// A fresh admin connection, closed when dropped.
    pub async fn admin(&self) -> Result<Client, ApiError> {
        let dsn = self
            .admin_dsn
            .as_deref()
            .ok_or_else(|| ApiError::read_only(&self.name))?;
        let (client, connection) = tokio_postgres::connect(dsn, NoTls).await.map_err(|e| {
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

    /// Keeps the reader connected and LISTENing for ever, sending each notification (and each
    /// change of connection state) to `events`.
    pub async fn listen(self: Arc<Self>, events: broadcast::Sender<String>) {
        let mut delay = Duration::from_millis(250);
        let mut last_error: Option<String> = None;
        loop {
            match tokio_postgres::connect(&self.dsn, NoTls).await {
                Ok((client, mut connection)) => {
                    let (notes, mut received) = mpsc::unbounded_channel::<String>();
                    let driver = tokio::spawn(async move {
                        let mut messages =
                            futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                        while let Some(message) = messages.next().await {
                            match message {
                                Ok(AsyncMessage::Notification(n)) => {
                                    let _ = notes.send(n.payload().to_string());
                                }
                                Ok(_) => {}
                                Err(e) => return Some(describe(&e)),
                            }
                        }
                        None
                    });
                    match client.batch_execute(READER_SETUP).await {
                        Ok(()) => {
                            *self.client.write().await = Some(Arc::new(client));
                            self.connected.store(true, Ordering::Relaxed);
                            last_error = None;
                            delay = Duration::from_millis(250);
                            let _ = events.send(events::connection(&self.name, "connected", None));
                            eprintln!("optischema-proxy: {} connected, listening", self.name);
                            while let Some(payload) = received.recv().await {
                                let _ = events.send(events::notification(&self.name, &payload));
                            }
                        }
                        Err(e) => last_error = Some(describe(&e)),
                    }
                    *self.client.write().await = None;
                    self.connected.store(false, Ordering::Relaxed);
                    let ended = driver.await.ok().flatten();
                    let error = ended
                        .or(last_error.clone())
                        .unwrap_or_else(|| "connection closed".into());
                    eprintln!("optischema-proxy: {} lost: {error}", self.name);
                    let _ =
                        events.send(events::connection(&self.name, "reconnecting", Some(&error)));
                    last_error = Some(error);
                }
                Err(e) => {
                    let error = describe(&e);
                    if last_error.as_deref() != Some(error.as_str()) {
                        eprintln!("optischema-proxy: {} not reachable: {error}", self.name);
                        let _ = events.send(events::connection(
                            &self.name,
                            "reconnecting",
                            Some(&error),
                        ));
                    }
                    last_error = Some(error);
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

/// A connection error as the browser may see it: the server's message, never the DSN.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            // tokio-postgres errors name the failure ("error connecting to server: Connection
            // refused"), not the connection string
            let text = e.to_string();
            text.lines()
                .next()
                .unwrap_or("connection failed")
                .to_string()
        }
    }
}
