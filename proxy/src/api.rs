//! The JSON API: thin handlers over OptiSchema's SQL functions. Reads use the database's reader
//! connection; trial, apply, revert and dismiss need the admin token and an admin connection.

use crate::db::Db;
use crate::error::ApiError;
use crate::events::safe_json_text;
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// A JSON body already serialized.
fn json_text(text: String) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response()
}

fn database(app: &App, name: &str) -> Result<Arc<Db>, ApiError> {
    app.databases
        .iter()
        .find(|d| d.name == name)
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no database named {name:?}")))
}

/// `sql` without its comment lines: they document the files, and pg_stat_statements would keep
/// them in the statement's text.
pub fn without_comments(sql: &str) -> String {
    sql.lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `sql` (one row, one text column of JSON) with text parameters.
async fn read(db: &Db, sql: &str, params: &[Option<&str>]) -> Result<Option<String>, ApiError> {
    let sql = without_comments(sql);
    let sql = sql.as_str();
    let client = db.client().await?;
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
        .iter()
        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
        .collect();
    let row = client
        .query_opt(sql, &params)
        .await
        .map_err(ApiError::from_db)?;
    Ok(row.and_then(|r| r.get::<_, Option<String>>(0)))
}

fn found(text: Option<String>, what: &str) -> Result<Response, ApiError> {
    let text = text.ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no {what}")))?;
    Ok(json_text(safe_json_text(&text).unwrap_or(text)))
}

/// A number from the path, or 400.
fn number(text: &str, what: &str) -> Result<i64, ApiError> {
    text.trim()
        .parse::<i64>()
        .map_err(|_| ApiError::bad_request(format!("{what} must be an integer, not {text:?}")))
}

#[derive(Debug, Deserialize)]
pub struct Window {
    since: Option<String>,
    limit: Option<String>,
    bucket: Option<String>,
    status: Option<String>,
}

impl Window {
    fn since(&self) -> &str {
        self.since.as_deref().unwrap_or("1 hour")
    }

    fn bucket(&self) -> &str {
        self.bucket.as_deref().unwrap_or("1 minute")
    }

    fn limit(&self, default: i64) -> Result<String, ApiError> {
        match &self.limit {
            None => Ok(default.to_string()),
            Some(l) => match l.parse::<i64>() {
                Ok(n) if (1..=1000).contains(&n) => Ok(n.to_string()),
                _ => Err(ApiError::bad_request(format!(
                    "limit must be an integer from 1 to 1000, not {l:?}"
                ))),
            },
        }
    }
}

pub async fn databases(State(app): State<Arc<App>>) -> Response {
    let list: Vec<_> = app
        .databases
        .iter()
        .map(|d| {
            json!({
                "name": d.name,
                "connected": d.connected(),
                "error": d.error(),
                "admin": app.admin_token.is_some() && d.has_admin(),
            })
        })
        .collect();
    axum::Json(json!({ "databases": list, "read_only": !app.can_act() })).into_response()
}

pub async fn status(
    State(app): State<Arc<App>>,
    Path(db): Path<String>,
) -> Result<Response, ApiError> {
    let db = database(&app, &db)?;
    found(
        read(&db, include_str!("../sql/status.sql"), &[]).await?,
        "status",
    )
}

pub async fn hot(
    State(app): State<Arc<App>>,
    Path(db): Path<String>,
    Query(w): Query<Window>,
) -> Result<Response, ApiError> {
    let db = database(&app, &db)?;
    let limit = w.limit(20)?;
    found(
        read(
            &db,
            include_str!("../sql/hot.sql"),
            &[Some(w.since()), Some(&limit)],
        )
        .await?,
        "hot queries",
    )
}

pub async fn history(
    State(app): State<Arc<App>>,
    Path((db, queryid)): Path<(String, String)>,
    Query(w): Query<Window>,
) -> Result<Response, ApiError> {
    let db = database(&app, &db)?;
    let queryid = number(&queryid, "queryid")?.to_string();
    found(
        read(
            &db,
            include_str!("../sql/history.sql"),
            &[Some(&queryid), Some(w.since()), Some(w.bucket())],
        )
        .await?,
        "history",
    )
}

pub async fn heatmap(
    State(app): State<Arc<App>>,
    Path(db): Path<String>,
    Query(w): Query<Window>,
) -> Result<Response, ApiError> {
    let db = database(&app, &db)?;
    let limit = w.limit(15)?;
    found(
        read(
            &db,
            include_str!("../sql/heatmap.sql"),
            &[Some(w.since()), Some(&limit), Some(w.bucket())],
        )
        .await?,
        "heatmap",
    )
}

pub async fn recommendations(
    State(app): State<Arc<App>>,
    Path(db): Path<String>,
    Query(w): Query<Window>,
) -> Result<Response, ApiError> {
    let db = database(&app, &db)?;
    found(
        read(
            &db,
            include_str!("../sql/recommendations.sql"),
            &[w.status.as_deref()],
        )
        .await?,
        "recommendations",
    )
}

pub async fn recommendation(
    State(app): State<Arc<App>>,
    Path((db, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let db = database(&app, &db)?;
    let id = number(&id, "id")?.to_string();
    found(
        read(&db, include_str!("../sql/recommendation.sql"), &[Some(&id)]).await?,
        &format!("recommendation with id {id}"),
    )
}

pub async fn explain(
    State(app): State<Arc<App>>,
    Path((db, queryid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let db = database(&app, &db)?;
    let queryid = number(&queryid, "queryid")?.to_string();
    found(
        read(&db, include_str!("../sql/explain.sql"), &[Some(&queryid)]).await?,
        "plan",
    )
}

/// Every database at a glance: each configured one, and the other databases of its server
/// that the extension serves (listed by `optischema.databases()`), read on short connections of
/// their own with the same role; a database reachable under two names is shown once.
pub async fn fleet(State(app): State<Arc<App>>) -> Response {
    let summary = |text: Option<String>| {
        text.map(|t| crate::events::safe_for_js(serde_json::from_str(&t).unwrap_or_default()))
    };
    let mut shown: std::collections::HashSet<(String, String)> =
        app.databases.iter().map(|db| db.place()).collect();
    let mut out = Vec::new();
    for db in &app.databases {
        out.push(match read(db, FLEET_SQL, &[]).await {
            Ok(text) => {
                json!({ "name": db.name, "connected": true, "summary": summary(text) })
            }
            Err(e) => json!({ "name": db.name, "connected": db.connected(), "error": e.message }),
        });
        let (server, _) = db.place();
        let served: Vec<String> = served_elsewhere(db)
            .await
            .into_iter()
            .filter(|datname| shown.insert((server.clone(), datname.clone())))
            .collect();
        let peeks = served.iter().map(|datname| async move {
            let read = async {
                let client = db.peek(datname).await?;
                let row = client
                    .query_opt(without_comments(FLEET_SQL).as_str(), &[])
                    .await
                    .map_err(ApiError::from_db)?;
                Ok::<_, ApiError>(row.and_then(|r| r.get::<_, Option<String>>(0)))
            };
            let name = format!("{}/{datname}", db.name);
            match read.await {
                Ok(text) => json!({ "name": name, "database": datname, "via": db.name,
                                    "connected": true, "summary": summary(text) }),
                Err(e) => json!({ "name": name, "database": datname, "via": db.name,
                                  "connected": false, "error": e.message }),
            }
        });
        out.extend(futures_util::future::join_all(peeks).await);
    }
    axum::Json(json!({ "databases": out })).into_response()
}

const FLEET_SQL: &str = include_str!("../sql/fleet.sql");

/// The databases of `db`'s server the extension serves, besides `db` itself: none when the
/// extension there has no `databases()` (before 0.2.0) or the role may not call it.
async fn served_elsewhere(db: &Db) -> Vec<String> {
    let Ok(client) = db.client().await else {
        return Vec::new();
    };
    let sql = without_comments(include_str!("../sql/served_databases.sql"));
    match client.query(sql.as_str(), &[]).await {
        Ok(rows) => rows.iter().map(|r| r.get::<_, String>(0)).collect(),
        Err(_) => Vec::new(),
    }
}

/// The admin connection for an action, when the request carries the admin token.
async fn authorized(
    app: &App,
    headers: &HeaderMap,
    db: &Db,
) -> Result<tokio_postgres::Client, ApiError> {
    let Some(token) = app.admin_token.as_deref().filter(|_| db.has_admin()) else {
        return Err(ApiError::read_only(&db.name));
    };
    let given = crate::auth::bearer(headers).unwrap_or("");
    if !crate::auth::same(given.as_bytes(), token.as_bytes()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "this action needs the admin token: Authorization: Bearer <token>",
        ));
    }
    db.admin().await
}

pub async fn actions(
    State(app): State<Arc<App>>,
    Path(db): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let db = database(&app, &db)?;
    let client = authorized(&app, &headers, &db).await?;
    let row = client
        .query_one(&without_comments(include_str!("../sql/actions.sql")), &[])
        .await
        .map_err(ApiError::from_db)?;
    found(row.get::<_, Option<String>>(0), "actions")
}

#[derive(Debug, Deserialize, Default)]
pub struct ActionBody {
    reason: Option<String>,
}

/// trial, apply, revert or dismiss of recommendation `id`.
pub async fn act(
    State(app): State<Arc<App>>,
    Path((db, id, action)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Option<axum::Json<ActionBody>>,
) -> Result<Response, ApiError> {
    let db = database(&app, &db)?;
    let id = number(&id, "id")?;
    let sql = match action.as_str() {
        "trial" => "SELECT json_build_object('action_id', optischema.apply($1, 'trial'))::text",
        "apply" => "SELECT json_build_object('action_id', optischema.apply($1))::text",
        "revert" => "SELECT json_build_object('action_id', optischema.revert($1))::text",
        "dismiss" => "SELECT row_to_json(d)::text FROM optischema.dismiss($1, $2) d",
        other => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("no action {other:?}: trial, apply, revert or dismiss"),
            ))
        }
    };
    let client = authorized(&app, &headers, &db).await?;
    let reason = body.and_then(|b| b.0.reason);
    let row = if action == "dismiss" {
        client.query_one(sql, &[&id, &reason]).await
    } else {
        client.query_one(sql, &[&id]).await
    }
    .map_err(ApiError::from_db)?;
    found(row.get::<_, Option<String>>(0), "result")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comment_lines_are_left_out_of_the_statements_sent() {
        assert_eq!(
            without_comments("-- what it is\n-- more\nSELECT 1\n  -- inside\n  FROM t"),
            "SELECT 1\n  FROM t"
        );
    }

    #[test]
    fn limits_and_numbers_are_checked() {
        let w = Window {
            since: None,
            limit: Some("0".into()),
            bucket: None,
            status: None,
        };
        assert!(w.limit(20).unwrap_err().message.contains("1 to 1000"));
        let w = Window { limit: None, ..w };
        assert_eq!(w.limit(20).unwrap(), "20");
        assert_eq!(w.since(), "1 hour");
        assert!(number("12x", "queryid")
            .unwrap_err()
            .message
            .contains("queryid must be an integer"));
        assert_eq!(
            number("-9027548059796858541", "queryid").unwrap(),
            -9027548059796858541
        );
    }
}
