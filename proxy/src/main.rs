//! optischema-proxy: serves OptiSchema's dashboard (the static pages in `ui/`), a JSON API over
//! its SQL functions, and every NOTIFY on the `optischema` channel of each database on a
//! WebSocket (`/ws`). The logic stays in the database; this only carries it to browsers.

mod api;
mod auth;
mod config;
mod db;
mod error;
mod events;
mod origin;
mod pgconn;
mod workers;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use db::Db;
use std::sync::Arc;
use tokio::sync::broadcast;
use tower_http::services::ServeDir;

pub struct App {
    pub databases: Vec<Arc<Db>>,
    pub admin_token: Option<String>,
    /// Token every API route and `/ws` need; None: they are open (see [`auth`]).
    pub read_token: Option<String>,
    pub events: broadcast::Sender<String>,
    /// Host names besides IP addresses and localhost that requests may name.
    pub allowed_hosts: Vec<String>,
}

impl App {
    /// Whether any database accepts actions.
    pub fn can_act(&self) -> bool {
        self.admin_token.is_some() && self.databases.iter().any(|d| d.has_admin())
    }
}

fn router(app: Arc<App>, ui: &std::path::Path) -> Router {
    let data = Router::new()
        .route("/api/databases", get(api::databases))
        .route("/api/fleet", get(api::fleet))
        .route("/api/{db}/status", get(api::status))
        .route("/api/{db}/hot", get(api::hot))
        .route("/api/{db}/history/{queryid}", get(api::history))
        .route("/api/{db}/heatmap", get(api::heatmap))
        .route("/api/{db}/recommendations", get(api::recommendations))
        .route("/api/{db}/recommendations/{id}", get(api::recommendation))
        .route("/api/{db}/recommendations/{id}/{action}", post(api::act))
        .route("/api/{db}/explain/{queryid}", get(api::explain))
        .route("/api/{db}/actions", get(api::actions))
        .route("/ws", get(websocket))
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            needs_read_token,
        ));
    Router::new()
        .merge(data)
        .fallback_service(ServeDir::new(ui).append_index_html_on_directories(true))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            same_origin,
        ))
        .with_state(app)
}

/// Refuses (403) a request whose `Host` is not the proxy or whose `Origin` is another site:
/// see [`origin`].
async fn same_origin(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (host, origin) = {
        let headers = request.headers();
        let get = |name| {
            headers
                .get(name)
                .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        (
            get(axum::http::header::HOST),
            get(axum::http::header::ORIGIN),
        )
    };
    if !origin::host_allowed(host.as_deref(), &app.allowed_hosts)
        || !origin::origin_allowed(origin.as_deref(), host.as_deref())
    {
        let body = serde_json::json!({
            "error": "this request's Host or Origin is not the dashboard's own (start the proxy with --allowed-host NAME to serve it under a name)"
        });
        return (axum::http::StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    next.run(request).await
}

/// Refuses (401) a request for data without the read token, when the proxy has one.
async fn needs_read_token(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let header = auth::bearer(request.headers()).map(str::to_string);
    // only the WebSocket takes it from the query: a browser cannot set the WebSocket's headers,
    // and an API URL with the token would end up in histories and logs for nothing
    let given = header.or_else(|| {
        (request.uri().path() == "/ws")
            .then(|| auth::query_token(request.uri().query()))
            .flatten()
    });
    if !auth::may_read(
        app.read_token.as_deref(),
        app.admin_token.as_deref(),
        given.as_deref(),
    ) {
        let body = serde_json::json!({ "error": auth::MISSING });
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            [(axum::http::header::WWW_AUTHENTICATE, "Bearer")],
            axum::Json(body),
        )
            .into_response();
    }
    next.run(request).await
}

async fn websocket(State(app): State<Arc<App>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| forward(socket, app))
}

/// Sends every event to one browser until it goes away.
async fn forward(mut socket: WebSocket, app: Arc<App>) {
    let mut events = app.events.subscribe();
    let hello = serde_json::json!({
        "db": null,
        "payload": {
            "type": "hello",
            "databases": app.databases.iter().map(|d| serde_json::json!({"name": d.name, "connected": d.connected()})).collect::<Vec<_>>(),
            "read_only": !app.can_act(),
        }
    });
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(text) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                // a browser too slow to keep up loses the oldest events, not the connection
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match config::from_args(&args, &|name| std::env::var(name).ok()) {
        Ok(c) => c,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let (events, _) = broadcast::channel(1024);
    let databases = match config.databases.iter().map(Db::new).collect() {
        Ok(list) => list,
        Err::<Vec<Db>, _>(message) => {
            eprintln!("optischema-proxy: {message}");
            std::process::exit(2);
        }
    };
    let app = Arc::new(App {
        databases: databases.into_iter().map(Arc::new).collect(),
        admin_token: config.admin_token.clone(),
        read_token: config.read_token.clone(),
        events: events.clone(),
        allowed_hosts: config.allowed_hosts.clone(),
    });
    for db in &app.databases {
        tokio::spawn(db.clone().listen(events.clone()));
    }
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("optischema-proxy: cannot listen on {}: {e}", config.listen);
            std::process::exit(1);
        }
    };
    eprintln!(
        "optischema-proxy: dashboard on http://{} ({} database(s), {}{})",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        app.databases.len(),
        if app.can_act() {
            "actions allowed with the admin token"
        } else {
            "read-only"
        },
        if app.read_token.is_some() {
            ", data behind the read token"
        } else {
            ""
        }
    );
    let server = axum::serve(listener, router(app, &config.ui)).with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    if let Err(e) = server.await {
        eprintln!("optischema-proxy: {e}");
        std::process::exit(1);
    }
}
